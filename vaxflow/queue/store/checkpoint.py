"""The SQLite WAL kept bounded: the writer checkpoints between its own batches.

SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages: at a busy
site one request in a few hundred waited while megabytes were copied and synced, so the
writer turns it off (db.make_engine). A PASSIVE checkpoint in a thread of its own (the
earlier design) never blocked anyone but, run while the writer committed, rarely found the
log fully backfilled, so SQLite never started the log again from its beginning: under
steady check-ins the WAL grew without bound (issue 18: 8.9 -> 83 MB in 20 s against a
10.6 MB database; on a 16 MiB disk it filled the disk by itself, and again after space was
freed).

Now the writer checkpoints, on its own connection, between batches, when nothing of its own
is in the log's tail:

* when it has been idle for `IDLE` seconds, or when the log holds more than half the
  database (estimated from the bytes a request wrote into the log at the last checkpoint),
  a PASSIVE checkpoint backfills the whole log (readers' snapshots permitting), so the next
  commit starts the log again from its beginning and the file stops growing;
* when the WAL file would pass its ceiling (the database's size, held between 2 and 48 MiB,
  and to half the room the disk has left for it) with the next batch, a TRUNCATE
  checkpoint waits up to `READER_WAIT` seconds for readers and empties the file; if readers
  still hold it, the batch is refused in words (`storage_backlog`) rather than let the file
  grow; on a full disk it is refused as `storage_full`.

`PRAGMA journal_size_limit` (db.make_engine) trims a log left larger than 24 MiB.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)

MIB = 1024 * 1024
#: Seconds without a batch after which the writer backfills the log.
IDLE = 0.1
#: The WAL ceiling is the database's size held between these (bytes).
CEILING_MIN = 2 * MIB
CEILING_MAX = 48 * MIB
#: On a nearly full disk the ceiling drops to half the free space, but not below this.
CEILING_FLOOR = 256 * 1024
#: Seconds a TRUNCATE checkpoint waits for readers before the writer refuses new writes.
READER_WAIT = 10.0
#: What SQLite trims a reset log to (bytes): PRAGMA journal_size_limit.
JOURNAL_SIZE_LIMIT = 24 * MIB
#: A first guess of the log bytes one request writes, until a checkpoint measures it.
FIRST_BYTES_PER_REQUEST = 16 * 1024


class Mode(StrEnum):
    """SQLite's checkpoint modes the writer uses."""

    PASSIVE = "PASSIVE"  # backfill what readers allow; never waits
    TRUNCATE = "TRUNCATE"  # wait for readers, backfill all, empty the file


@dataclass(frozen=True)
class Checkpointed:
    """What a checkpoint did: whether readers kept it from finishing, the log's frames then,
    how many of them are in the database file now."""

    busy: bool
    log_frames: int
    backfilled: int

    @property
    def complete(self) -> bool:
        return not self.busy and self.backfilled >= self.log_frames


def checkpoint(conn: sqlite3.Connection, mode: Mode, wait: float = 0.0) -> Checkpointed:
    """One checkpoint on `conn` (outside a transaction), waiting at most `wait` s for readers."""
    previous = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    try:
        busy, frames, backfilled = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(previous)}")
    # -1, -1 when the database is not in WAL mode: nothing to do.
    return Checkpointed(bool(busy), max(frames, 0), max(backfilled, 0))


def ceiling_for(db_bytes: int) -> int:
    """The WAL's ceiling for a database of `db_bytes`: its size, between 2 and 48 MiB."""
    return min(max(db_bytes, CEILING_MIN), CEILING_MAX)


def disk_ceiling(db_bytes: int, wal_bytes: int, free_bytes: int) -> int:
    """The ceiling, lowered on a filling disk: the log takes at most half of what it and the
    free space hold (never under `CEILING_FLOOR`), so its backfill always finds room in the
    database file and the database, not its log, gets the last bytes."""
    return min(ceiling_for(db_bytes), max((wal_bytes + free_bytes) // 2, CEILING_FLOOR))


class WalBound:
    """When the writer of one SQLite file checkpoints, and the figures it shows (pure but
    for `os.stat` of the two files; the writer runs the checkpoints it asks for)."""

    def __init__(self, path: str, page_size: int = 4096) -> None:
        self.path = path
        self.wal_path = path + "-wal"
        self.page_size = page_size
        self.bytes_per_request = float(FIRST_BYTES_PER_REQUEST)
        self.requests_since = 0  # requests committed since the last complete checkpoint
        self.checkpoints = 0
        self.truncates = 0
        self.refused = 0  # batches refused because readers held a full log
        self.last_ms = 0.0  # how long the last checkpoint took
        self.lag_frames = 0  # frames readers kept out of the database at the last checkpoint
        self.max_wal = 0

    def sizes(self) -> tuple[int, int]:
        """The database's and the WAL file's sizes in bytes (0 for a file not there)."""
        return _size(self.path), _size(self.wal_path)

    def ceiling(self, db: int, wal: int) -> int:
        """The WAL's ceiling now: the database's size, held to 2-48 MiB and to half the
        disk's free space."""
        try:
            stats = os.statvfs(self.wal_path if wal else self.path)
        except OSError:
            return ceiling_for(db)
        return disk_ceiling(db, wal, stats.f_bavail * stats.f_frsize)

    @property
    def dirty(self) -> bool:
        """Whether something was committed since the last complete checkpoint."""
        return self.requests_since > 0

    def before(self, requests: int) -> Mode | None:
        """The checkpoint to run before a batch of `requests`, if any."""
        db, wal = self.sizes()
        self.max_wal = max(self.max_wal, wal)
        headroom = max(requests * self.bytes_per_request * 1.5, 64 * 1024)
        if wal and wal + headroom > self.ceiling(db, wal):
            return Mode.TRUNCATE
        if self.requests_since * self.bytes_per_request > max(db // 2, CEILING_MIN // 2):
            return Mode.PASSIVE
        return None

    def committed(self, requests: int) -> None:
        self.requests_since += requests

    def done(self, mode: Mode, result: Checkpointed, seconds: float) -> None:
        """Learn from a checkpoint: bytes a request writes into the log, what is left."""
        self.checkpoints += 1
        self.truncates += mode is Mode.TRUNCATE
        self.last_ms = seconds * 1000
        self.lag_frames = max(result.log_frames - result.backfilled, 0)
        if self.requests_since and result.log_frames:
            measured = result.log_frames * self.page_size / self.requests_since
            self.bytes_per_request = max(measured, 1024.0)
        if result.complete:
            self.requests_since = 0

    def figures(self) -> dict[str, int | float]:
        """For /api/health and the marshal: the WAL's size and ceiling, the checkpoints."""
        db, wal = self.sizes()
        self.max_wal = max(self.max_wal, wal)
        return {
            "bytes": wal,
            "ceiling": self.ceiling(db, wal),
            "db_bytes": db,
            "max_bytes": self.max_wal,
            "lag_bytes": self.lag_frames * self.page_size,
            "checkpoints": self.checkpoints,
            "truncates": self.truncates,
            "last_checkpoint_ms": round(self.last_ms, 1),
            "refused_batches": self.refused,
        }


def timed(conn: sqlite3.Connection, mode: Mode, wait: float) -> tuple[Checkpointed, float]:
    """`checkpoint` and how long it took (seconds)."""
    started = time.monotonic()
    result = checkpoint(conn, mode, wait)
    return result, time.monotonic() - started


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
