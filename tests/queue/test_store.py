"""The store on real SQLite and PostgreSQL: migrations, group commit, events in one transaction."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from tests.postgres import DB_KINDS, PostgresServer
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core.errors import Refused
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.model import Visit
from vaxflow.queue.ops import service
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.checkpoint import CEILING_MIN
from vaxflow.queue.store.checkpoint import IDLE as CHECKPOINT_IDLE
from vaxflow.queue.store.db import database_url, make_engine, migrate
from vaxflow.queue.store.writer import Event, Store, StoreUnavailable, Tx, events_after

from .people import walk_in_request


def _check_in(settings: Settings, n: int) -> Callable[[Tx], Visit]:
    return lambda tx: service.check_in(tx, settings, walk_in_request(settings, n))


@pytest.fixture
async def store(db_url: str, settings: Settings, clock: FrozenClock) -> AsyncIterator[Store]:
    store = Store(database_url(db_url), site_id=settings.site.id, clock=clock)
    await store.start()
    yield store
    await store.stop()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_migrations_build_exactly_the_tables_the_code_uses(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "sqlite":
        url = database_url(str(tmp_path / "m.sqlite"))
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = server.create_database(migrated=False)
        request.addfinalizer(lambda: server.drop_database(name))
        url = server.url(name)
    engine = make_engine(url, writer=True)
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    engine = make_engine(database_url(str(tmp_path / "w.sqlite")), writer=True)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


async def test_a_refused_operation_changes_nothing_and_spares_its_batch(
    store: Store, settings: Settings
) -> None:
    def attempt(n: int) -> Callable[[Tx], Visit]:
        def op(tx: Tx) -> Visit:
            visit = service.check_in(tx, settings, walk_in_request(settings, n))
            if n % 3 == 0:  # it allocated a number and emitted an event, then is refused
                raise Refused("nope", "changed my mind")
            return visit

        return op

    results = await asyncio.gather(
        *(store.write(attempt(n), actor="kiosk:test") for n in range(30)),
        return_exceptions=True,
    )
    refusals = [r for r in results if isinstance(r, Refused)]
    tickets = sorted(r.ticket for r in results if not isinstance(r, BaseException))
    assert len(refusals) == 10
    # the refused ones consumed no number: the 20 issued are W001..W020
    assert tickets == [f"W{n:03d}" for n in range(1, 21)]

    def counts(conn: object) -> tuple[int, int]:
        visits = conn.execute(select(func.count()).select_from(t.visits)).scalar_one()  # type: ignore[attr-defined]
        events = conn.execute(select(func.count()).select_from(t.events)).scalar_one()  # type: ignore[attr-defined]
        return visits, events

    assert await store.read(counts) == (20, 20)


async def test_events_are_published_after_commit_in_order(store: Store, settings: Settings) -> None:
    seen: list[Event] = []
    all_seen = asyncio.Event()

    def listen(events: list[Event]) -> None:
        seen.extend(events)
        if len(seen) == 10:
            all_seen.set()

    store.subscribe(listen)
    visits = await asyncio.gather(
        *(store.write(_check_in(settings, n), actor="k") for n in range(10))
    )
    await asyncio.wait_for(all_seen.wait(), 5)
    assert [e.visit_id for e in seen] == [v.id for v in sorted(visits, key=lambda v: v.id)]
    stored = await store.read(lambda conn: events_after(conn, store.site_id, 0))
    assert [e.seq for e in stored] == [e.seq for e in seen]
    assert all(e.actor == "k" and e.kind == "checked_in" for e in stored)


async def test_an_unexpected_error_fails_one_request_not_the_writer(
    store: Store, settings: Settings
) -> None:
    def broken(tx: Tx) -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        await store.write(broken, actor="k")
    visit = await store.write(_check_in(settings, 1), actor="k")
    assert visit.ticket == "W001"


async def test_acknowledged_writes_are_on_disk(
    tmp_path: Path, settings: Settings, clock: FrozenClock
) -> None:
    path = tmp_path / "d.sqlite"
    store = Store(database_url(str(path)), site_id=settings.site.id, clock=clock)
    await store.start()
    visit = await store.write(_check_in(settings, 1), actor="k")
    # another connection, as another process would see it, before the store is closed
    with sqlite3.connect(path) as other:
        row = other.execute("SELECT ticket, state FROM visits WHERE id = ?", (visit.id,)).fetchone()
    await store.stop()
    assert row == ("W001", "checked_in")


async def test_the_writer_backfills_the_wal_when_idle_not_in_its_commits(
    tmp_path: Path, settings: Settings, clock: FrozenClock
) -> None:
    path = tmp_path / "c.sqlite"
    store = Store(database_url(str(path)), site_id=settings.site.id, clock=clock)
    await store.start()
    try:
        mode = await store.write(
            lambda tx: tx.conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar(), actor="t"
        )
        assert mode == 0  # the writer's commits never stop to checkpoint
        for n in range(1, 41):
            await store.write(_check_in(settings, n), actor="k")
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size > 0
        await asyncio.sleep(CHECKPOINT_IDLE * 4)  # idle: the writer backfills the log
        # The database file alone, without its WAL, already holds them: checkpointed.
        alone = tmp_path / "alone.sqlite"
        shutil.copyfile(path, alone)
        with sqlite3.connect(alone) as other:
            assert other.execute("SELECT count(*) FROM visits").fetchone() == (40,)
        wal_figures = store.wal
        assert wal_figures is not None and wal_figures["checkpoints"] >= 1
        assert wal_figures["lag_bytes"] == 0
    finally:
        await store.stop()


async def test_a_wal_held_at_its_ceiling_by_a_reader_refuses_in_words_then_saves(
    tmp_path: Path, settings: Settings, clock: FrozenClock
) -> None:
    """Issue 18: the log never grows past its ceiling; a reader that pins it costs refusals
    (storage_backlog), not the disk; when the reader ends the writer empties the log."""
    path = tmp_path / "w.sqlite"
    store = Store(
        database_url(str(path)), site_id=settings.site.id, clock=clock, wal_reader_wait=0.2
    )
    await store.start()
    try:
        await store.write(_check_in(settings, 1), actor="k")
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM visits").fetchone()  # a snapshot, held
        saved, refused = 0, 0
        for n in range(2, 400):
            try:
                await store.write(_check_in(settings, n), actor="k")
                saved += 1
            except StoreUnavailable as err:
                assert err.backlog and not err.full
                refused += 1
                break
        figures = store.wal
        assert figures is not None
        assert refused == 1 and saved > 20, (saved, figures)
        assert figures["bytes"] <= figures["ceiling"] <= CEILING_MIN
        outage = store.outage
        assert outage is not None and outage["wal_backlog"] is True
        reader.execute("COMMIT")
        reader.close()
        await store.write(_check_in(settings, 400), actor="k")  # the log empties; it saves
        assert store.outage is None
        after = store.wal
        assert after is not None and after["truncates"] >= 2
    finally:
        await store.stop()


async def test_ticket_numbers_restart_each_site_day(
    store: Store, settings: Settings, clock: FrozenClock
) -> None:
    first = await store.write(_check_in(settings, 1), actor="k")
    clock.advance(minutes=24 * 60)
    next_day = await store.write(_check_in(settings, 2), actor="k")
    assert (first.ticket, next_day.ticket) == ("W001", "W001")
    assert first.site_day != next_day.site_day


async def test_on_refusal_runs_after_the_refused_changes_are_undone(
    store: Store, settings: Settings
) -> None:
    def op(tx: Tx) -> str:
        service.check_in(tx, settings, walk_in_request(settings, 1))
        raise Refused("nope", "changed my mind")

    def on_refusal(tx: Tx, err: Refused) -> str:
        tx.emit(EventKind.DEVICE_HEALTH, None, {"reason": err.reason})  # any kind
        return f"refused: {err.reason}"

    answer = await store.write(op, actor="k", on_refusal=on_refusal)  # type: ignore[arg-type]
    assert answer == "refused: nope"
    events = await store.read(lambda conn: events_after(conn, store.site_id, 0))
    assert [e.kind for e in events] == ["device_health"]  # the check-in and its event are gone


async def test_a_failing_listener_does_not_stop_the_writer(
    store: Store, settings: Settings
) -> None:
    def broken(_events: list[Event]) -> None:
        raise RuntimeError("a bug in a subscriber")

    store.subscribe(broken)
    first = await store.write(_check_in(settings, 1), actor="k")
    second = await asyncio.wait_for(store.write(_check_in(settings, 2), actor="k"), 5)
    assert (first.ticket, second.ticket) == ("W001", "W002")
