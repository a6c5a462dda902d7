"""WAL checkpoints off the writer's path: a thread of their own, on a connection of their own.

SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages: at a
busy site that is one request in a few hundred waiting while a few megabytes are copied
into the database file and synced. benchmarks/server_load.py showed it in the p99 of
check-ins. The writer turns automatic checkpoints off (db.make_engine) and this thread
runs a PASSIVE checkpoint every second instead: it never blocks the writer or readers,
and keeps the WAL to about a second of writes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

#: Seconds between checkpoints.
INTERVAL = 1.0


class WalCheckpointer:
    """Checkpoints one SQLite database file until stopped."""

    def __init__(self, path: str, interval: float = INTERVAL) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop, after one last checkpoint so a clean shutdown leaves a short WAL."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        failing = False
        try:
            while True:
                stopping = self._stop.wait(self._interval)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                    failing = False
                except sqlite3.Error as err:  # a full disk, say: the writer reports it
                    if not failing:  # once per outage
                        log.warning("WAL checkpoint failed, will retry every second: %s", err)
                    failing = True
                if stopping:
                    return
        finally:
            conn.close()
