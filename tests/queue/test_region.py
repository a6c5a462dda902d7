"""Two sites writing to one regional database at once; the region's report and export.

Each site runs its own store (its own writer) on the same database, as two site servers
would; every row carries its site, so numbering, figures and exports stay apart per site
and add up for the region.
"""

from __future__ import annotations

import asyncio
import csv
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.config import Config
from sqlalchemy import update

from tests.postgres import PostgresServer
from vaxflow.cli import main
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.ops import service
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.db import database_url, make_engine, migrate
from vaxflow.queue.store.records import seq_window
from vaxflow.queue.store.writer import Store, Tx, events_after

from .people import walk_in_request

SITES = {"north-hall": 5, "south-hall": 3}  # site id: people vaccinated


async def _vaccinate(store: Store, settings: Settings, people: range) -> list[str]:
    await store.write(
        lambda tx: service.open_station(tx, settings, "S01", "CORONAVAC", "LOT-7", "Nurse Wu"),
        actor="station",
    )
    tickets = []
    for n in people:
        visit = await store.write(
            lambda tx, n=n: service.check_in(tx, settings, walk_in_request(settings, n)),  # type: ignore[misc]
            actor="kiosk",
        )
        await store.write(lambda tx: service.call_next(tx, settings, "S01"), actor="station")
        await store.write(
            lambda tx, t=visit.ticket: service.start_service(tx, settings, "S01", t),  # type: ignore[misc]
            actor="station",
        )
        await store.write(
            lambda tx, v=visit.id: service.record_dose(tx, settings, "S01", v),  # type: ignore[misc]
            actor="station",
        )
        tickets.append(visit.ticket)
    return tickets


async def test_sites_share_a_regional_database(
    db_url: str, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    stores = {site: Store(database_url(db_url), site_id=site, clock=clock) for site in SITES}
    for store in stores.values():
        await store.start()
    try:
        tickets = await asyncio.gather(
            *(
                _vaccinate(store, settings, range(i * 100 + 1, i * 100 + 1 + SITES[site]))
                for i, (site, store) in enumerate(stores.items())
            )
        )
    finally:
        for store in stores.values():
            await store.stop()
    # each site numbers its own tickets
    assert tickets == [[f"W{n:03d}" for n in range(1, k + 1)] for k in SITES.values()]

    day = engine.site_day(clock.now(), settings.site.timezone).isoformat()
    out = tmp_path / "region"
    args = ["--date", day, "--db", db_url]
    assert main(["report", "daily", *args, "--region", "--out", str(out)]) == 0
    with (out / f"daily-{day}.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    by_site = {
        r["site_id"]: int(r["value"])
        for r in rows
        if (r["section"], r["metric"]) == ("sites", "doses")
    }
    assert by_site == SITES
    total = next(r for r in rows if (r["section"], r["metric"]) == ("totals", "doses"))
    assert int(total["value"]) == sum(SITES.values())
    assert {r["value"] for r in rows if r["section"] == "reconciliation"} == {"1"}

    one = tmp_path / "north.ndjson"
    assert main(["export", "fhir", *args, "--site", "north-hall", "--out", str(one)]) == 0
    shots = [json.loads(line) for line in one.read_text(encoding="utf-8").splitlines()]
    assert sum(r["resourceType"] == "Immunization" for r in shots) == SITES["north-hall"]
    everything = tmp_path / "region.ndjson"
    assert main(["export", "fhir", *args, "--region", "--out", str(everything)]) == 0
    lines = everything.read_text(encoding="utf-8").splitlines()
    assert sum('"resourceType":"Immunization"' in line for line in lines) == sum(SITES.values())


@pytest.mark.slow  # a throw-away PostgreSQL server (initdb, pg_ctl)
def test_site_servers_starting_together_migrate_a_new_database_once(
    postgres_server: PostgresServer,
) -> None:
    name = postgres_server.create_database(migrated=False)
    engines = [make_engine(postgres_server.url(name), writer=True) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(migrate, engines))
        with engines[0].connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
                (head_revision(),)
            ]
    finally:
        for engine_ in engines:
            engine_.dispose()
        postgres_server.drop_database(name)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from vaxflow.queue.store.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def test_event_numbers_go_past_two_to_the_31(
    db_url: str, settings: Settings, clock: FrozenClock
) -> None:
    store = Store(database_url(db_url), site_id="north-hall", clock=clock)
    await store.start()
    try:
        big = 3_000_000_000

        def jump(tx: Tx) -> None:
            if tx.conn.dialect.name == "postgresql":
                tx.conn.exec_driver_sql(f"SELECT setval('events_seq_seq', {big})")
            else:
                tx.emit(EventKind.DEVICE_HEALTH, None, {})
                tx.conn.execute(update(t.events).values(seq=big))

        await store.write(jump, actor="test")
        event = await store.write(
            lambda tx: tx.emit(EventKind.BOOKINGS_IMPORTED, None, {"n": 1}), actor="test"
        )
        assert event.seq == big + 1
        resumed = await store.read(lambda conn: events_after(conn, "north-hall", big))
        assert [(e.seq, e.kind) for e in resumed] == [(big + 1, "bookings_imported")]
    finally:
        await store.stop()


async def test_a_day_report_reads_only_its_stretch_of_the_event_log(
    db_url: str, settings: Settings, clock: FrozenClock
) -> None:
    store = Store(database_url(db_url), site_id="north-hall", clock=clock)
    other = Store(database_url(db_url), site_id="south-hall", clock=clock)
    await store.start()
    await other.start()
    try:
        seqs: dict[int, list[int]] = {}
        for day, count in ((0, 3), (1, 2), (2, 4)):
            for _ in range(count):
                event = await store.write(
                    lambda tx: tx.emit(EventKind.DEVICE_HEALTH, None, {}), actor="t"
                )
                seqs.setdefault(day, []).append(event.seq)
                await other.write(lambda tx: tx.emit(EventKind.DEVICE_HEALTH, None, {}), actor="t")
                clock.advance(minutes=7)
            clock.advance(minutes=24 * 60 - 7 * count)
        start = FrozenClock().now() + timedelta(days=1)
        window = await store.read(
            lambda conn: seq_window(conn, "north-hall", start, start + timedelta(days=1))
        )
        low, high = window  # bounds may fall on other sites' numbers
        assert [n for day in seqs.values() for n in day if low <= n <= high] == seqs[1]
        empty = await store.read(lambda conn: seq_window(conn, "east", start, start))
        assert empty == (0, -1)
    finally:
        await store.stop()
        await other.stop()
