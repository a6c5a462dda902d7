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
import glob
import logging
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
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


#: A rotated backup's name: the database's stem and the UTC time, sortable as text.
_STAMPED = re.compile(r"^(?P<stem>.+)-\d{8}T\d{6}\.\d{3}Z\.sqlite$")


def stamped_name(db: Path, when: datetime) -> str:
    """The file name of `db`'s backup taken at `when` (UTC, to the millisecond)."""
    utc = when.astimezone(UTC)
    return f"{db.stem}-{utc:%Y%m%dT%H%M%S}.{utc.microsecond // 1000:03d}Z.sqlite"


def rotated(folder: Path, stem: str) -> list[Path]:
    """`stem`'s stamped backups in `folder`, oldest first (other files are never touched)."""
    found = []
    for path in folder.glob(f"{glob.escape(stem)}-*.sqlite"):
        match = _STAMPED.match(path.name)
        if match and match.group("stem") == stem:
            found.append(path)
    return sorted(found, key=lambda p: p.name)


def backup_rotating(db: Path, folder: Path, keep: int, when: datetime) -> tuple[Copied, list[Path]]:
    """A checked backup of `db` into `folder`, then all but the newest `keep` removed.

    Old copies go only after the new one is in place and checked, so a failed backup never
    leaves fewer copies than before."""
    if keep < 1:
        raise BackupError("keep at least one backup")
    copied = backup(db, folder / stamped_name(db, when))
    removed = rotated(folder, db.stem)[:-keep]
    for path in removed:
        path.unlink(missing_ok=True)
        log.info("removed the old backup %s", path)
    return copied, removed


@dataclass(frozen=True)
class DatabaseFacts:
    """What `vaxflow db check` and the doctor say about a site database."""

    path: Path
    bytes: int
    wal_bytes: int
    last_event: int | None
    problems: list[str]
    """What `PRAGMA integrity_check` finds; empty when the database is sound."""


def check_database(db: Path, *, timeout: float = 10.0) -> DatabaseFacts:
    """Read a (live) database and check its integrity; a reader never blocks the server."""
    if not db.is_file():
        raise BackupError(f"there is no database at {db}")
    try:
        with contextlib.closing(_connect(db, timeout=timeout)) as conn:
            conn.execute("PRAGMA query_only=1")
            problems = integrity_problems(conn)
            last = _last_event(conn)
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{db} cannot be read as a SQLite database: {err}") from err
    finally:
        _keep_owner(db)
    wal = db.with_name(db.name + "-wal")
    return DatabaseFacts(
        db, db.stat().st_size, wal.stat().st_size if wal.exists() else 0, last, problems
    )


def _keep_owner(db: Path) -> None:
    """Give the database's owner back the -wal and -shm files a root reader created.

    Root (an operator running the doctor) opening a WAL database the server is not holding
    creates them owned by root, and the server, running as its own user, could then not
    write its database."""
    if os.geteuid() != 0 or not db.exists():
        return
    owner = db.stat()
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if side.stat().st_uid != owner.st_uid:
                os.chown(side, owner.st_uid, owner.st_gid)
