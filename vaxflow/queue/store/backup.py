"""Online backup and restore of a SQLite site database with SQLite's backup API.

A backup copies the database in one step, inside one read transaction: it is the database
as it was at one instant, every change committed before it included, none half-included.
In WAL mode a reader never blocks the writer, so check-ins go on while it runs. The copy
is checked (`PRAGMA integrity_check`), synced, and only then renamed into place.

A restore refuses to write into a database a running server holds: it takes SQLite's
exclusive lock first, which fails while any other connection has the file open, and keeps
it until the restored pages are in and checked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from vaxflow.private_files import create_private

log = logging.getLogger(__name__)


class BackupError(Exception):
    """The backup or restore could not be done; nothing was replaced."""


class DatabaseInUse(BackupError):
    """A server (or another program) has the database open."""


@dataclass(frozen=True)
class Copied:
    """What a backup or restore wrote."""

    path: Path
    bytes: int
    seconds: float
    last_event: int | None  # the newest event in the copy


def _connect(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return conn


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """What `PRAGMA integrity_check` finds; empty when the database is sound."""
    rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def _last_event(conn: sqlite3.Connection) -> int | None:
    try:
        value = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
    except sqlite3.DatabaseError:
        return None
    return int(value) if value is not None else None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(db: Path, out: Path) -> Copied:
    """A consistent copy of the live database `db` at `out` (a single file, no WAL)."""
    if not db.is_file():
        raise BackupError(f"there is no database at {db}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    create_private(partial)  # personal data: the copy is readable by the service only
    started = time.monotonic()
    with (
        contextlib.closing(_connect(db)) as source,
        contextlib.closing(_connect(partial)) as target,
    ):
        try:
            source.backup(target, pages=-1)  # one step: one snapshot of the source
        except sqlite3.Error as err:
            raise BackupError(f"could not read {db}: {err}") from err
        target.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
        problems = integrity_problems(target)
        last = _last_event(target)
    if problems:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {db} failed its integrity check: {problems[:3]}")
    _fsync(partial)
    os.replace(partial, out)
    _fsync(out.parent)
    took = time.monotonic() - started
    log.info("backed up %s to %s in %.2f s (last event %s)", db, out, took, last)
    return Copied(out, out.stat().st_size, took, last)


def check_backup(path: Path) -> int | None:
    """Refuse a file that is not a sound SQLite database; its newest event otherwise."""
    if not path.is_file():
        raise BackupError(f"there is no backup at {path}")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            problems = integrity_problems(conn)
            last = _last_event(conn)
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{path} is not a SQLite database: {err}") from err
    if problems:
        raise BackupError(f"{path} failed its integrity check: {problems[:3]}")
    return last


def restore(backup_file: Path, db: Path, *, force: bool = False) -> Copied:
    """Replace `db` with the backup; refuses while anything holds `db`, and without `force`
    when `db` already exists."""
    last = check_backup(backup_file)
    existed = db.exists()
    if existed and not force:
        raise BackupError(f"{db} exists; give --force to replace it with {backup_file}")
    db.parent.mkdir(parents=True, exist_ok=True)
    create_private(db)
    started = time.monotonic()
    with contextlib.closing(_connect(db, timeout=0)) as target:
        target.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            # Taking the write lock in exclusive mode fails while another connection has
            # the database open (a server keeps one open), and is then held until close.
            target.execute("BEGIN EXCLUSIVE")
            target.execute("COMMIT")
        except sqlite3.OperationalError as err:
            raise DatabaseInUse(
                f"{db} is in use (is its server running? stop it first): {err}"
            ) from err
        with contextlib.closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as src:
            src.backup(target, pages=-1)
        problems = integrity_problems(target)
        if problems:
            raise BackupError(f"{db} failed its integrity check after the restore: {problems}")
    took = time.monotonic() - started
    log.info("restored %s from %s in %.2f s (last event %s)", db, backup_file, took, last)
    return Copied(db, db.stat().st_size, took, last)
