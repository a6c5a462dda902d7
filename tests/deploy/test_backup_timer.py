"""The backup timer's command, `vaxflow db backup --dir D --keep M`, on a live server: each
copy is sound, old ones rotate away, and a restore gives a database with the same records."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vaxflow.cli import main
from vaxflow.queue.store.backup import (
    BackupError,
    backup_rotating,
    check_database,
    rotated,
    stamped_name,
)

from .demo_site import demo_server

TABLES = ("visits", "events")


def _counts(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _db(path: Path) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO events VALUES (7)")
        conn.commit()
    return path


def test_rotation_keeps_the_newest_and_touches_nothing_else(tmp_path: Path) -> None:
    db, folder = _db(tmp_path / "site.sqlite"), tmp_path / "backups"
    folder.mkdir()
    other = folder / "site-notes.sqlite"
    other.write_text("not ours")
    start = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    for minutes in range(0, 60, 15):
        copied, _ = backup_rotating(db, folder, 3, start + timedelta(minutes=minutes))
        assert copied.last_event == 7
    assert [p.name for p in rotated(folder, "site")] == [
        stamped_name(db, start + timedelta(minutes=m)) for m in (15, 30, 45)
    ]
    assert other.exists()
    with pytest.raises(BackupError, match="at least one"):
        backup_rotating(db, folder, 0, start)


def test_db_check_says_sound_or_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _db(tmp_path / "site.sqlite")
    assert main(["db", "check", "--db", str(db)]) == 0
    assert "integrity OK" in capsys.readouterr().out
    assert main(["db", "check", "--db", str(tmp_path / "none.sqlite")]) == 1
    assert "no database" in capsys.readouterr().err
    (tmp_path / "junk.sqlite").write_bytes(b"x" * 4096)
    assert main(["db", "check", "--db", str(tmp_path / "junk.sqlite")]) == 1
    assert "cannot be read" in capsys.readouterr().err


@pytest.mark.slow
def test_timer_backups_of_a_live_server_restore_with_the_same_records(tmp_path: Path) -> None:
    db, folder = tmp_path / "site.sqlite", tmp_path / "backups"
    taken = []
    with demo_server(tmp_path, db):
        for _ in range(3):
            time.sleep(0.5)  # the demo's people check in meanwhile
            argv = ["db", "backup", "--db", str(db), "--dir", str(folder), "--keep", "2"]
            assert main(argv) == 0  # the backup timer's command (test_units runs its process)
            taken.append(_counts(rotated(folder, "site")[-1]))
    kept = rotated(folder, "site")
    assert len(kept) == 2
    assert taken[0]["visits"] < taken[-1]["visits"]  # the server wrote meanwhile
    restored = tmp_path / "restored.sqlite"
    assert main(["db", "restore", "--from", str(kept[-1]), "--db", str(restored)]) == 0
    assert _counts(restored) == taken[-1]
    assert main(["db", "check", "--db", str(restored)]) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as another user")
def test_a_root_check_leaves_the_database_files_to_their_owner(tmp_path: Path) -> None:
    db = _db(tmp_path / "site.sqlite")
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    os.chown(db, 4321, 4321)
    # Root opening the WAL database makes the -wal and -shm files; the check hands them over.
    with contextlib.closing(sqlite3.connect(db)) as holder:
        holder.execute("SELECT count(*) FROM events").fetchone()
        assert check_database(db).problems == []
        owners = {p.name: p.stat().st_uid for p in tmp_path.glob("site.sqlite*")}
    assert len(owners) == 3 and set(owners.values()) == {4321}, owners
