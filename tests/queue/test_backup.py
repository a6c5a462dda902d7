"""Online backup of a live SQLite site database under sustained check-ins, and restore.

Several kiosks check people in through the store's group-commit writer without pause; the
backup runs in another thread in the middle of it. The restored copy must pass SQLite's
integrity check, hold every check-in acknowledged before the backup started (same visit,
same ticket, its event written in the same transaction), and be a working site database.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from vaxflow.cli import main
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core.model import Visit
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.ops import service
from vaxflow.queue.store.backup import BackupError, DatabaseInUse, backup, restore
from vaxflow.queue.store.db import database_url
from vaxflow.queue.store.writer import Store

from .people import walk_in_request

KIOSKS = 6
PEOPLE = 900  # distinct ID numbers in tests/queue/people.py: below 1000


def _open_walk_ins(settings: Settings) -> Settings:
    walk_in = settings.walk_in.model_copy(update={"daily_capacity": 10_000})
    return settings.model_copy(update={"walk_in": walk_in})


async def _store(path: Path, settings: Settings, clock: FrozenClock) -> Store:
    store = Store(database_url(str(path)), site_id=settings.site.id, clock=clock)
    await store.start()
    return store


def _visits(path: Path) -> dict[int, tuple[str, int]]:
    """Visit id -> (ticket, its checked_in events) in a database file."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute(
            "SELECT v.id, v.ticket, (SELECT count(*) FROM events e"
            " WHERE e.visit_id = v.id AND e.kind = 'checked_in') FROM visits v"
        ).fetchall()
    return {vid: (ticket, events) for vid, ticket, events in rows}


async def test_backup_during_sustained_check_ins_keeps_every_acknowledged_one(
    tmp_path: Path, settings: Settings, clock: FrozenClock
) -> None:
    settings = _open_walk_ins(settings)
    db, copy = tmp_path / "site.sqlite", tmp_path / "backup" / "site-backup.sqlite"
    store = await _store(db, settings, clock)
    day = clock.now().date()
    await store.write(lambda tx: seed_bookings(tx, settings, day, 3000), actor="test")  # bulk

    acked: list[tuple[float, Visit]] = []
    numbers = iter(range(1, PEOPLE + 1))
    stop = asyncio.Event()
    reached = asyncio.Event()
    wanted = [150]  # how many acknowledged check-ins to wait for next

    async def kiosk() -> None:
        for n in numbers:
            if stop.is_set():
                return
            visit = await store.write(
                lambda tx, n=n: service.check_in(tx, settings, walk_in_request(settings, n)),  # type: ignore[misc]
                actor="kiosk:test",
            )
            acked.append((time.monotonic(), visit))
            if len(acked) >= wanted[0]:
                reached.set()

    kiosks = [asyncio.create_task(kiosk()) for _ in range(KIOSKS)]
    await asyncio.wait_for(reached.wait(), 30)
    started = time.monotonic()
    before = [visit for _, visit in acked]
    copied = await asyncio.to_thread(backup, db, copy)
    finished = time.monotonic()
    wanted[0] = len(acked) + 100
    reached.clear()
    await asyncio.wait_for(reached.wait(), 30)
    stop.set()
    await asyncio.gather(*kiosks)
    await store.stop()

    during = [v for at, v in acked if started <= at <= finished]
    after = [v for at, v in acked if at > finished]
    assert after, "check-ins stopped while the backup ran"
    restored = tmp_path / "restored.sqlite"
    restore(copy, restored)
    in_copy = _visits(restored)
    for visit in before:  # every check-in acknowledged before the backup started
        assert in_copy[visit.id] == (visit.ticket, 1)
    assert all(events == 1 for _, events in in_copy.values())  # no half transactions
    assert len(before) <= len(in_copy) <= len(before) + len(during) + len(after)
    assert copied.last_event is not None and copied.bytes > 0

    # the restored database is a working site database: numbering goes on after the copy
    again = await _store(restored, settings, clock)
    try:
        visit = await again.write(
            lambda tx: service.check_in(tx, settings, walk_in_request(settings, PEOPLE + 50)),
            actor="kiosk:test",
        )
    finally:
        await again.stop()
    assert int(visit.ticket[1:]) == max(int(t[1:]) for t, _ in in_copy.values()) + 1


async def test_restore_refuses_a_database_a_server_holds(
    tmp_path: Path, settings: Settings, clock: FrozenClock
) -> None:
    db, copy = tmp_path / "site.sqlite", tmp_path / "copy.sqlite"
    store = await _store(db, settings, clock)
    try:
        await store.write(
            lambda tx: service.check_in(tx, settings, walk_in_request(settings, 1)), actor="k"
        )
        backup(db, copy)
        with pytest.raises(DatabaseInUse):
            restore(copy, db, force=True)
    finally:
        await store.stop()
    with pytest.raises(BackupError, match="--force"):
        restore(copy, db)
    assert restore(copy, db, force=True).last_event == _last_event(copy)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(BackupError, match="not a SQLite database"):
        restore(garbage, tmp_path / "new.sqlite")


def _last_event(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT max(seq) FROM events").fetchone()[0])


async def test_db_commands(
    tmp_path: Path, settings: Settings, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "site.sqlite"
    store = await _store(db, settings, clock)
    await store.write(
        lambda tx: service.check_in(tx, settings, walk_in_request(settings, 1)), actor="k"
    )
    try:
        out = str(tmp_path / "b.sqlite")
        assert await asyncio.to_thread(main, ["db", "backup", "--db", str(db), "--out", out]) == 0
        assert main(["db", "restore", "--from", out, "--db", str(db), "--force"]) == 1
        assert "in use" in capsys.readouterr().err
    finally:
        await store.stop()
    assert main(["db", "restore", "--from", out, "--db", str(tmp_path / "r.sqlite")]) == 0
    assert main(["db", "backup", "--db", "postgresql://x/y", "--out", out]) == 1
    assert "pg_dump" in capsys.readouterr().err
