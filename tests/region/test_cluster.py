"""The region tier on a real cluster: 3 etcd + 2 PostgreSQL under Patroni (the dev cluster).

One cluster for the module (it takes about 11 s to start and 9 to stop); each test uses site
ids of its own. Sites are real site apps (the factory, SQLite files) shipping over HTTP to a
real region server; the failover test SIGKILLs the Patroni leader (Patroni and its
PostgreSQL) while two sites check people in, and comes last: it leaves one node.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select

from tests.conftest import load_test_site
from tests.queue.people import resident_id, walk_in_body
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings, load_settings
from vaxflow.config.region import RegionSettings, RegionSite
from vaxflow.config.schema import RegionUplink
from vaxflow.queue.api import models as m
from vaxflow.queue.core import engine
from vaxflow.queue.core.privacy import person_key
from vaxflow.queue.server.app import create_app as create_site
from vaxflow.queue.server.appkeys import REGION_SHIPPER
from vaxflow.queue.store import tables as t
from vaxflow.region.devcluster import DATABASE, DevCluster, missing_programs
from vaxflow.region.report import daily_report, to_csv
from vaxflow.region.server import create_app as create_region
from vaxflow.region.store import VERSION_TABLE, RegionStore, head_revision, metadata

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
AiohttpServer = Callable[..., Awaitable[TestServer]]
KEY = "city-history-key-for-tests"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster() -> Iterator[DevCluster]:
    missing = missing_programs()
    if missing:
        pytest.skip(f"the region dev cluster needs the Debian packages {missing}")
    folder = Path(tempfile.mkdtemp(prefix="vaxflow-region-"))  # chowned to the postgres user
    found = DevCluster(folder)
    found.start()
    print(f"region dev cluster up in {found.started_in:.1f} s")
    yield found
    t0 = time.monotonic()
    found.stop()
    print(f"region dev cluster stopped in {time.monotonic() - t0:.1f} s")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def region_store(cluster: DevCluster) -> Iterator[RegionStore]:
    store = RegionStore(cluster.url, deadline=25.0)
    store.migrate()
    yield store
    store.close()


def region_settings(cluster: DevCluster, *sites: str) -> RegionSettings:
    return RegionSettings(
        database=cluster.url,
        sites=[
            RegionSite(id=s, name=s.upper(), district="青秀区", token=f"{s}-token-0123456789")
            for s in sites
        ],
    )


def site_settings(base: Settings, site_id: str, url: str, **region: Any) -> Settings:
    uplink = RegionUplink(
        url=url,
        token=f"{site_id}-token-0123456789",
        history_key=KEY,
        status_seconds=1.0,
        retry_max_seconds=1.0,
        **region,
    )
    return base.model_copy(
        update={"site": base.site.model_copy(update={"id": site_id}), "region": uplink}
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_seqs(db: Path, site_id: str) -> list[int]:
    engine_ = create_engine(f"sqlite:///{db}")
    try:
        with engine_.connect() as conn:
            rows = conn.execute(
                select(t.events.c.seq).where(t.events.c.site_id == site_id).order_by(t.events.c.seq)
            )
            return [int(s) for s in rows.scalars()]
    finally:
        engine_.dispose()


def local_count(db: Path, table: str) -> int:
    engine_ = create_engine(f"sqlite:///{db}")
    try:
        with engine_.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(t.metadata.tables[table])
                ).scalar_one()
            )
    finally:
        engine_.dispose()


async def caught_up(app: web.Application, db: Path, site_id: str, seconds: int) -> list[int]:
    """Wait until the site's shipper has every local event at the region; the local seqs."""
    shipper = app[REGION_SHIPPER]
    for _ in range(seconds * 5):
        seqs = local_seqs(db, site_id)
        if shipper.cursor == seqs[-1]:
            return seqs
        await asyncio.sleep(0.2)
    raise AssertionError(f"not caught up: {shipper.state}")


async def check_in(client: TestClient[Any, Any], settings: Settings, n: int) -> int:
    response = await client.post(
        "/api/checkins",
        json=walk_in_body(settings, n),
        headers={"Authorization": "Bearer demo-kiosk-token"},
    )
    await response.read()
    return response.status


async def test_resend_and_overlap_apply_each_event_once(
    cluster: DevCluster, region_store: RegionStore, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(
        create_region(region_settings(cluster, "resend"), store=region_store)
    )
    headers = {"Authorization": "Bearer resend-token-0123456789"}

    def batch(seqs: range) -> dict[str, Any]:
        return {
            "events": [
                {
                    "seq": s,
                    "at": "2026-12-05T01:00:00+00:00",
                    "kind": "checked_in",
                    "actor": "k",
                    "payload": "{}",
                }
                for s in seqs
            ]
        }

    answers = []
    for seqs in (range(1, 6), range(1, 6), range(3, 9)):
        response = await client.post("/api/region/v1/ingest", json=batch(seqs), headers=headers)
        answers.append(await response.json())
    assert answers == [{"cursor": 5, "new": 5}, {"cursor": 5, "new": 0}, {"cursor": 8, "new": 3}]
    assert region_store.event_seqs("resend") == list(range(1, 9))
    assert region_store.event_count("resend") == 8
    unordered = await client.post(
        "/api/region/v1/ingest", json=batch(range(9, 7, -1)), headers=headers
    )
    assert unordered.status == 400
    wrong = await client.get("/api/region/v1/cursor", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401


class TcpProxy:
    """The site's WAN link: forwards loopback TCP to the region until `cut` (then resets)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.up = True
        self.writers: set[asyncio.StreamWriter] = set()
        self.pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not self.up:
                raise ConnectionRefusedError
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            await writer.wait_closed()
            return
        self.writers |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self.pumps.add(task)
            task.add_done_callback(self.pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.close()
            self.writers.discard(sink)

    async def cut(self) -> None:
        """The WAN goes down: open connections reset, new ones refused."""
        self.up = False
        for writer in list(self.writers):
            writer.close()
        await asyncio.gather(*self.pumps, return_exceptions=True)

    async def close(self) -> None:
        await self.cut()
        self.server.close()
        await self.server.wait_closed()


async def test_site_serves_while_region_down_then_catches_up(
    cluster: DevCluster,
    region_store: RegionStore,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    tmp_path: Path,
) -> None:
    region_port = free_port()
    wan = TcpProxy(region_port)
    port = await wan.start()
    base = load_settings(load_test_site(tmp_path))
    settings = site_settings(base, "offline", f"http://127.0.0.1:{port}")
    db = tmp_path / "offline.sqlite"
    site = await aiohttp_client(create_site(settings, db=str(db), clock=FrozenClock()))
    try:
        # the whole region down: the site checks people in as ever
        statuses = [await check_in(site, settings, n) for n in range(15)]
        assert statuses == [200] * 15
        shipper = site.server.app[REGION_SHIPPER]  # type: ignore[attr-defined]
        assert shipper.cursor is None and shipper.last_error is not None
        region = await aiohttp_server(
            create_region(region_settings(cluster, "offline", "silent"), store=region_store),
            port=region_port,
        )
        seqs = await caught_up(site.server.app, db, "offline", 30)  # type: ignore[attr-defined]
        assert region_store.event_seqs("offline") == seqs

        # the site's WAN cut: more check-ins, then the link returns and the backlog drains
        await wan.cut()
        statuses = [await check_in(site, settings, n) for n in range(15, 25)]
        assert statuses == [200] * 10
        await asyncio.sleep(0.5)
        assert shipper.last_error is not None and shipper.state["backlog"] > 0
        marshal = {"Authorization": "Bearer demo-marshal-token"}
        shown = await (await site.get("/api/dashboard", headers=marshal)).json()
        assert shown["region"]["backlog"] > 0 and shown["region"]["last_error"]
        assert m.DashboardResponse.model_validate(shown).region is not None  # the route's model
        wan.up = True
        seqs = await caught_up(site.server.app, db, "offline", 30)  # type: ignore[attr-defined]
        assert region_store.event_seqs("offline") == seqs  # nothing lost
        assert region_store.event_count("offline") == len(seqs)  # nothing doubled
    finally:
        await wan.close()

    # the dashboard: the site's live figures rode along; a site never heard from stands out
    async with aiohttp.ClientSession() as http:
        async with http.get(region.make_url("/api/region/v1/dashboard")) as response:
            rows = {r["site_id"]: r for r in (await response.json())["sites"]}
        async with http.get(region.make_url("/")) as response:
            page = await response.text()
    assert rows["offline"]["queue_length"] == 25 and not rows["offline"]["quiet"]
    assert rows["offline"]["last_seq"] == seqs[-1] and rows["offline"]["alerts"] == 0
    assert rows["silent"]["quiet"] and rows["silent"]["last_heard_at"] is None
    assert '<tr class="quiet"><td>silent SILENT</td>' in page


async def test_history_across_sites_and_its_deadline(
    cluster: DevCluster,
    region_store: RegionStore,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    tmp_path: Path,
) -> None:
    region = await aiohttp_server(
        create_region(region_settings(cluster, "hist-x", "hist-y"), store=region_store)
    )
    base = load_settings(load_test_site(tmp_path))
    clock = FrozenClock()
    day = engine.site_day(clock.now(), base.site.timezone)
    number = resident_id(777)
    earlier = day - timedelta(days=30)
    dosed = {
        "seq": 1,
        "at": f"{earlier.isoformat()}T02:00:00+00:00",
        "kind": "dosed",
        "actor": "station",
        "payload": "{}",
        "dose": {
            "given_on": earlier.isoformat(),
            "product": "CORONAVAC",
            "manufacturer": "Sinovac",
            "dose_number": 1,
            "lot": "LOT-1",
            "person_key": person_key(KEY, number),
        },
    }
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{region.make_url('/api/region/v1/ingest')}",
            json={"events": [dosed]},
            headers={"Authorization": "Bearer hist-x-token-0123456789"},
        )
        assert response.status == 200, await response.text()

    person = walk_in_body(base, 777)["walk_in"]
    body = {"walk_in": {**person, "product": "CORONAVAC", "dose_number": 2}}  # type: ignore[dict-item]
    headers = {"Authorization": "Bearer demo-kiosk-token"}
    settings = site_settings(base, "hist-y", str(region.make_url("/")))
    site = await aiohttp_client(create_site(settings, db=str(tmp_path / "y.sqlite"), clock=clock))
    pre = await (await site.post("/api/checkins/precheck", json=body, headers=headers)).json()
    assert pre["dose_number"] == 2, pre
    assert [d["given_on"] for d in pre["earlier_doses"]] == [earlier.isoformat()]
    assert pre["review"] == []

    # a region that does not answer within the deadline: local history, a doctor reviews
    slow = web.Application()

    async def stalls(request: web.Request) -> web.Response:
        await asyncio.sleep(2)  # twice the deadline
        return web.json_response({"doses": []})

    slow.router.add_get("/api/region/v1/history", stalls)
    slow.router.add_get("/api/region/v1/cursor", stalls)
    stalled = await aiohttp_server(slow)
    settings = site_settings(base, "hist-z", str(stalled.make_url("/")))
    site = await aiohttp_client(create_site(settings, db=str(tmp_path / "z.sqlite"), clock=clock))
    t0 = time.monotonic()
    pre = await (await site.post("/api/checkins/precheck", json=body, headers=headers)).json()
    assert time.monotonic() - t0 < 2.5
    assert pre["dose_number"] == 1
    assert [r["code"] for r in pre["review"]] == ["prior_dose_unverified"]
    t0 = time.monotonic()  # the next check-ins do not wait: the region is paused for 30 s
    pre = await (await site.post("/api/checkins/precheck", json=body, headers=headers)).json()
    assert time.monotonic() - t0 < 0.5 and pre["dose_number"] == 1

    # the district's report of that earlier day counts the dose at its site
    report = daily_report(region_store, region_settings(cluster, "hist-x", "hist-y"), earlier)
    doses = {r["site_id"]: r["doses"] for r in report.rows}
    assert doses["hist-x"] == 1 and doses["hist-y"] == 0
    assert report.total["doses"] == sum(doses.values())
    assert "hist-x" in to_csv(report)


async def test_region_serve_process_and_daily_report_command(
    cluster: DevCluster, region_store: RegionStore, tmp_path: Path
) -> None:
    """`vaxflow region serve` as operators run it; `region report daily` writes both files."""
    port = free_port()
    config = tmp_path / "region.toml"
    config.write_text(
        f'database = "{cluster.url}"\nport = {port}\n'
        '[[sites]]\nid = "proc"\ntoken = "proc-token-0123456789"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "vaxflow", "region", "serve", "--config", str(config)]
    server = await asyncio.create_subprocess_exec(*command, env=env)
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/api/region/v1"
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/dashboard") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)
            headers = {"Authorization": "Bearer proc-token-0123456789"}
            async with http.get(f"{url}/cursor", headers=headers) as response:
                assert await response.json() == {"cursor": 0}
    finally:
        server.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(server.wait(), 20) == 0
    out = tmp_path / "reports"
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vaxflow",
        "region",
        "report",
        "daily",
        "--config",
        str(config),
        "--date",
        "2026-11-21",
        "--out",
        str(out),
        env=env,
    )
    assert await asyncio.wait_for(done.wait(), 60) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "region-daily-2026-11-21.csv",
        "region-daily-2026-11-21.html",
    ]


def _database(cluster: DevCluster, name: str) -> str:
    """A new empty database on the cluster, as a URL like the cluster's own."""
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return cluster.url.replace(f"@/{DATABASE}?", f"@/{name}?")


def test_region_migrations_have_their_own_history_are_idempotent_and_adopt_old_tables(
    cluster: DevCluster, region_store: RegionStore
) -> None:
    """`migrate` (run at `region serve` start): the tables its metadata describes, under the
    region's own version table; again is a no-op; a database made by the old `create_all`
    is adopted as it is."""
    head = head_revision()
    assert region_store.revision() == head
    fresh = RegionStore(_database(cluster, "region_fresh"), deadline=25.0)
    old = RegionStore(_database(cluster, "region_old"), deadline=25.0)
    try:
        assert fresh.revision() is None
        assert fresh.migrate() == head and fresh.migrate() == head
        with fresh.engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            assert names == {*metadata.tables, VERSION_TABLE}  # no site `alembic_version`
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {VERSION_TABLE}").scalar() == 1
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
        with old.engine.begin() as conn:
            metadata.create_all(conn)  # how the region made its tables before migrations
            conn.exec_driver_sql("INSERT INTO region_sites (site_id, last_seq) VALUES ('o', 7)")
        assert old.migrate() == head
        assert old.cursor("o") == 7
    finally:
        fresh.close()
        old.close()


async def test_leader_killed_during_ingest_every_event_once_in_order(
    cluster: DevCluster,
    region_store: RegionStore,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    tmp_path: Path,
) -> None:
    names = ("fail-a", "fail-b")
    region = await aiohttp_server(
        create_region(region_settings(cluster, *names), store=region_store)
    )
    base = load_settings(load_test_site(tmp_path))
    sites = {}
    for name in names:
        settings = site_settings(base, name, str(region.make_url("/")))
        db = tmp_path / f"{name}.sqlite"
        sites[name] = (
            settings,
            db,
            await aiohttp_client(create_site(settings, db=str(db), clock=FrozenClock())),
        )
    statuses: list[int] = []
    stop = asyncio.Event()

    async def post(client: TestClient[Any, Any], role: str, path: str, body: Any) -> Any:
        headers = {"Authorization": f"Bearer demo-{role}-token"}
        response = await client.post(path, json=body, headers=headers)
        statuses.append(response.status)
        answer = await response.json()
        assert response.status == 200, (path, answer)
        return answer

    async def kiosk_and_station(name: str, birth: date) -> None:
        """A kiosk checks people in; station S01 calls, scans and doses each."""
        settings, _db, client = sites[name]
        station = "/api/stations/S01"
        opened = {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": "Nurse Li"}
        await post(client, "station", f"{station}/open", opened)
        n = 0
        while not stop.is_set():
            person = walk_in_body(settings, n, birth)  # other people at each site: the
            # region's history would rightly refuse one dosed at the other site today
            person["walk_in"] = {**person["walk_in"], "product": "CORONAVAC"}  # type: ignore[dict-item]
            ticket = await post(client, "kiosk", "/api/checkins", person)
            await post(client, "station", f"{station}/call-next", {})
            await post(client, "station", f"{station}/start-service", {"code": ticket["qr"]})
            await post(
                client, "station", f"{station}/record-dose", {"visit_id": ticket["visit_id"]}
            )
            n += 1

    births = (date(1990, 3, 7), date(1985, 6, 1))
    kiosks = [
        asyncio.create_task(kiosk_and_station(n, b)) for n, b in zip(names, births, strict=True)
    ]
    await asyncio.sleep(2)
    leader = cluster.leader()
    assert leader is not None
    killed_at = time.monotonic()
    await asyncio.to_thread(cluster.kill_node, leader)
    # the gap: until the region takes a write again (the store retries through it)
    await asyncio.to_thread(region_store.apply, "fail-a", [])
    gap = time.monotonic() - killed_at
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*kiosks)
    assert statuses and set(statuses) == {200}, "a kiosk was refused during the failover"
    survivor = cluster.leader()
    assert survivor is not None and survivor is not leader
    for name in names:
        _settings, db, client = sites[name]
        seqs = await caught_up(client.server.app, db, name, 40)  # type: ignore[attr-defined]
        assert region_store.event_seqs(name) == seqs  # every event, once, in order
        assert region_store.event_count(name) == len(seqs)
    print(f"failover gap {gap:.1f} s; {len(statuses)} site requests, none refused")
    assert gap < 30
    report = daily_report(
        region_store,
        region_settings(cluster, *names),
        engine.site_day(FrozenClock().now(), "Asia/Shanghai"),
    )
    # the region's report: each site's doses as the site's own records count them
    doses = {r["site_id"]: r["doses"] for r in report.rows}
    for name in names:
        here = local_count(sites[name][1], "doses")
        assert here > 0 and doses[name] == here, (name, doses, here)
