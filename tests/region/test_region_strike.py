"""A dose struck out at its site leaves the region too: the person's history, the counts and
the district's report, whatever the order or repetition of the site's batches.

The region store runs on a throw-away PostgreSQL server (tests/postgres.py; no Patroni needed
for what this checks); the end-to-end test strikes a dose at a real site app that ships to a
real region server, and checks the person in at another site.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tests.conftest import load_test_site
from tests.postgres import PostgresServer
from tests.queue.people import resident_id, walk_in_body
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings, load_settings
from vaxflow.config.region import RegionSettings, RegionSite
from vaxflow.config.schema import RegionUplink
from vaxflow.queue.core.privacy import person_key
from vaxflow.queue.server.app import create_app as create_site
from vaxflow.queue.server.appkeys import REGION_SHIPPER
from vaxflow.region.report import daily_report
from vaxflow.region.server import create_app as create_region
from vaxflow.region.store import MIGRATIONS, VERSION_TABLE, RegionStore, day_bounds, metadata

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
AiohttpServer = Callable[..., Awaitable[TestServer]]
KEY = "city-history-key-for-tests"
DAY = date(2026, 11, 21)
AT = "2026-11-21T02:00:00+00:00"


@pytest.fixture
def region_store(postgres_server: PostgresServer) -> Iterator[RegionStore]:
    """A new region database at the newest migration."""
    name = postgres_server.create_database(migrated=False)
    store = RegionStore(postgres_server.url(name), deadline=10.0)
    store.migrate()
    yield store
    store.close()
    postgres_server.drop_database(name)


def dosed(seq: int, visit: int, person: str, *, number: int = 1) -> dict[str, Any]:
    """A `dosed` event as a site's shipper sends it."""
    return {
        "seq": seq,
        "at": AT,
        "kind": "dosed",
        "actor": "station",
        "visit_id": visit,
        "payload": "{}",
        "dose": {
            "given_at": AT,
            "given_on": DAY.isoformat(),
            "product": "CORONAVAC",
            "manufacturer": "Sinovac",
            "dose_number": number,
            "lot": "LOT-1",
            "person_key": person_key(KEY, person),
        },
    }


def struck(seq: int, visit: int, site: str, dose_id: int) -> dict[str, Any]:
    """A `dose_struck` event as the site wrote it (payload JSON text)."""
    payload = {"dose": f"{site}/{dose_id}", "reason": "wrong person", "ticket": "A001"}
    return {
        "seq": seq,
        "at": "2026-11-21T05:00:00+00:00",
        "kind": "dose_struck",
        "actor": "marshal",
        "visit_id": visit,
        "payload": json.dumps(payload),
    }


def other(seq: int) -> dict[str, Any]:
    return {"seq": seq, "at": AT, "kind": "checked_in", "actor": "kiosk", "payload": "{}"}


def standing(store: RegionStore, person: str) -> list[tuple[str, int | None]]:
    return [(d["site_id"], d["visit_id"]) for d in store.history(person_key(KEY, person))]


def test_a_struck_dose_leaves_history_counts_and_report_once_on_postgresql(
    region_store: RegionStore,
) -> None:
    ann, bo = resident_id(1), resident_id(2)
    start, end = day_bounds(DAY, "Asia/Shanghai")
    # the dose arrives first, the strike in a later batch (the usual way)
    region_store.apply("site-a", [dosed(1, 10, ann), dosed(2, 11, bo)])
    assert standing(region_store, ann) == [("site-a", 10)]
    assert region_store.apply("site-a", [other(3), struck(4, 10, "site-a", 1)]).new == 2
    assert standing(region_store, ann) == []
    assert standing(region_store, bo) == [("site-a", 11)]
    # a resend after a lost answer, and an overlapping batch: nothing changes
    for batch in ([other(3), struck(4, 10, "site-a", 1)], [struck(4, 10, "site-a", 1), other(5)]):
        region_store.apply("site-a", batch)
    assert region_store.event_count("site-a") == 5
    assert standing(region_store, ann) == [] and standing(region_store, bo) == [("site-a", 11)]
    # after an outage: the dose and its strike-out in one batch, at another site
    region_store.apply(
        "site-b", [dosed(1, 10, ann, number=2), other(2), struck(3, 10, "site-b", 1)]
    )
    assert standing(region_store, ann) == []
    # the strike-out held before its dose (no site sends that, but the store does not care),
    # and a dose of another visit that is not struck
    region_store.apply("site-c", [struck(7, 99, "site-c", 5)])
    region_store.apply("site-c", [dosed(8, 99, ann), dosed(9, 100, ann)])
    assert standing(region_store, ann) == [("site-c", 100)]

    assert region_store.doses_by_site(start, end) == {"site-a": 1, "site-c": 1}
    assert region_store.struck_by_site(start, end) == {"site-a": 1, "site-b": 1, "site-c": 1}
    assert [d["visit_id"] for d in region_store.dose_rows(start, end)] == [11, 100]
    sites = [RegionSite(id=s, name=s, token=f"{s}-token-0123456789") for s in ("site-a", "site-b")]
    report = daily_report(region_store, RegionSettings(database="x", sites=sites), DAY)
    rows = {r["site_id"]: (r["doses"], r["dose_2"], r["struck"]) for r in report.rows}
    assert rows == {"site-a": (1, 0, 1), "site-b": (0, 0, 1), "site-c": (1, 0, 1)}
    assert (report.total["doses"], report.total["struck"]) == (2, 3)


_SITES = itertools.count(1)


@examples(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    struck_visits=st.sets(st.integers(1, 6)),
    cuts=st.lists(st.integers(1, 13), max_size=4),
    resends=st.lists(st.integers(0, 4), max_size=3),
)
def test_any_batches_and_resends_leave_the_same_history_on_postgresql(
    region_store: RegionStore, struck_visits: set[int], cuts: list[int], resends: list[int]
) -> None:
    """Six doses of one person, some struck out: cut into any batches, some sent again, the
    region ends with the doses not struck, once each."""
    site, person = f"prop-{next(_SITES)}", resident_id(9)
    log = [dosed(v, v, person) for v in range(1, 7)]
    log += [struck(6 + i, v, site, v) for i, v in enumerate(sorted(struck_visits), start=1)]
    bounds = sorted({0, len(log), *(c for c in cuts if c < len(log))})
    batches = [log[a:b] for a, b in itertools.pairwise(bounds)]
    for i, batch in enumerate(batches):
        region_store.apply(site, batch)
        for again in resends:  # an answer lost: the site sends an earlier batch again
            if again <= i:
                region_store.apply(site, batches[again])
    held = [d for d in standing(region_store, person) if d[0] == site]
    assert sorted(held) == [(site, v) for v in range(1, 7) if v not in struck_visits]
    assert region_store.event_count(site) == len(log)


def test_doses_held_before_the_upgrade_can_be_struck_on_postgresql(
    postgres_server: PostgresServer,
) -> None:
    """r0002 gives the doses the region already held their visit, from their events."""
    name = postgres_server.create_database(migrated=False)
    store = RegionStore(postgres_server.url(name), deadline=10.0)
    try:
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "r0001")
            conn.exec_driver_sql(
                "INSERT INTO region_events (site_id, seq, at, kind, actor, visit_id, payload,"
                " received_at) VALUES ('old', 1, now(), 'dosed', 's', 42, '{}', now())"
            )
            conn.exec_driver_sql(
                "INSERT INTO region_doses (site_id, seq, person_key, given_at, given_on, product,"
                " manufacturer) VALUES ('old', 1, %(key)s, now(), current_date, 'X', 'Y')",
                {"key": person_key(KEY, resident_id(3))},
            )
        store.migrate()
        with store.engine.connect() as conn:  # the upgrade made what the metadata says
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
        assert standing(store, resident_id(3)) == [("old", 42)]
        store.apply("old", [struck(2, 42, "old", 1)])
        assert standing(store, resident_id(3)) == []
    finally:
        store.close()
        postgres_server.drop_database(name)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not reached in time")


def _with_region(base: Settings, site_id: str, url: str) -> Settings:
    uplink = RegionUplink(
        url=url,
        token=f"{site_id}-token-0123456789",
        history_key=KEY,
        retry_max_seconds=1.0,
        history_deadline_seconds=5.0,
    )
    return base.model_copy(
        update={"site": base.site.model_copy(update={"id": site_id}), "region": uplink}
    )


async def test_struck_at_one_site_another_site_no_longer_sees_it_on_postgresql(
    region_store: RegionStore,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    tmp_path: Path,
) -> None:
    sites = [RegionSite(id=s, name=s, token=f"{s}-token-0123456789") for s in ("east", "west")]
    region = await aiohttp_server(
        create_region(RegionSettings(database="unused", sites=sites), store=region_store)
    )
    base = load_settings(load_test_site(tmp_path))
    clock = FrozenClock()
    kiosk = {"Authorization": "Bearer demo-kiosk-token"}
    station = {"Authorization": "Bearer demo-station-token"}

    east_settings = _with_region(base, "east", str(region.make_url("/")))
    east = await aiohttp_client(
        create_site(east_settings, db=str(tmp_path / "east.sqlite"), clock=clock)
    )

    async def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        response = await east.post(path, json=body, headers=headers)
        data = await response.json()
        assert response.status == 200, data
        return data

    lot = {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": "Nurse Li"}
    await post("/api/stations/S01/open", lot, station)
    ticket = await post("/api/checkins", walk_in_body(base, 515), kiosk)
    await post("/api/stations/S01/call-next", {}, station)
    await post("/api/stations/S01/start-service", {"code": ticket["qr"]}, station)
    await post("/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]}, station)
    shipper = east.server.app[REGION_SHIPPER]  # type: ignore[attr-defined]
    number = resident_id(515)

    async def held(count: int) -> bool:
        return len(await asyncio.to_thread(region_store.history, person_key(KEY, number))) == count

    await _until(lambda: held(1))

    west_settings = _with_region(base, "west", str(region.make_url("/")))
    west = await aiohttp_client(
        create_site(west_settings, db=str(tmp_path / "west.sqlite"), clock=clock)
    )
    person = walk_in_body(base, 515)["walk_in"]
    body = {"walk_in": {**person, "product": "CORONAVAC", "dose_number": 2}}  # type: ignore[dict-item]
    # the region tells the other site of the dose given at the first one today
    answer = await west.post("/api/checkins/precheck", json=body, headers=kiosk)
    before = await answer.json()
    assert answer.status == 409 and before["error"]["reason"] == "already_vaccinated_today"

    marshal = {"Authorization": "Bearer demo-marshal-token"}
    await post(f"/api/visits/{ticket['visit_id']}/strike-dose", {"reason": "wrong person"}, marshal)
    await _until(lambda: held(0))  # the strike-out reached the region
    assert shipper.state["backlog"] == 0

    answer = await west.post("/api/checkins/precheck", json=body, headers=kiosk)
    after = await answer.json()
    assert answer.status == 200, after
    assert after["earlier_doses"] == [] and after["dose_number"] == 1
    assert [r["code"] for r in after["review"]] == ["prior_dose_unverified"]  # claimed a 2nd
