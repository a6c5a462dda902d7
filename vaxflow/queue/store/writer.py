"""The store: one writer that group-commits operations, each with its events, atomically.

Every write runs inside the writer's transaction under its own savepoint, so a refused
operation changes nothing while the others in the same batch commit. A caller hears back
only after the commit is on disk (SQLite WAL with synchronous=FULL), so an acknowledged
change survives a crash. Batching many requests into one fsync is what lets one small
machine take hundreds of check-ins a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import queue as stdlib_queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, insert, select

from vaxflow.clock import Clock
from vaxflow.private_files import create_private, tighten
from vaxflow.queue.core.errors import QueueError
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.checkpoint import IDLE, READER_WAIT, Checkpointed, Mode, WalBound, timed
from vaxflow.queue.store.db import make_engine, migrate, sqlite_path
from vaxflow.queue.store.prepared import Prepared, release, rollback_to, savepoint

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BATCH = 256
#: Requests per batch when they run on the event loop (SQLite): about 30 ms of work at most.
LOOP_BATCH = 64
_EVENT_COLUMNS = ("site_id", "at", "actor", "device", "kind", "visit_id", "payload")
_INSERT_EVENT = Prepared(insert(t.events).returning(t.events.c.seq), columns=_EVENT_COLUMNS)
_SAVEPOINT = "request"


class StoreUnavailable(Exception):
    """The database could not commit (disk full, file gone): nothing of the batch was kept.

    `full` says the disk (or the database's quota) is full: staff must free space, and the
    same request succeeds once they have, without a restart.

    `backlog` says the WAL reached its ceiling and readers kept the checkpoint from emptying
    it for `READER_WAIT` seconds: the writer refuses rather than let the log fill the disk.
    """

    def __init__(self, message: str, *, full: bool = False, backlog: bool = False) -> None:
        super().__init__(message)
        self.full = full
        self.backlog = backlog


#: SQLITE_FULL, and PostgreSQL's disk_full SQLSTATE class 53100.
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


def is_disk_full(err: BaseException) -> bool:
    """Whether a database error means "no space left" (SQLite, PostgreSQL or the OS)."""
    for cause in (err, getattr(err, "orig", None), err.__cause__):
        if cause is None:
            continue
        if getattr(cause, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if getattr(cause, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return True
    return False


@dataclass(frozen=True)
class Event:
    """One entry of the audit trail and the live feed."""

    seq: int
    at: datetime
    actor: str
    device: str | None
    kind: str
    visit_id: int | None
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "device": self.device,
            "kind": self.kind,
            "visit_id": self.visit_id,
            "payload": self.payload,
        }


@dataclass
class Tx:
    """What a write operation sees: the connection, one `now`, who acts, and its events."""

    conn: Connection
    site_id: str
    now: datetime
    actor: str
    device: str | None
    events: list[Event] = field(default_factory=list)

    def emit(self, kind: EventKind, visit_id: int | None, payload: dict[str, Any]) -> Event:
        """Append an event row in this transaction; it is published only after commit.

        A kind that is not an `EventKind` member raises ValueError before anything is written.
        """
        kind = EventKind(kind)
        seq = _INSERT_EVENT.scalar(
            self.conn,
            {
                "site_id": self.site_id,
                "at": self.now,
                "actor": self.actor,
                "device": self.device,
                "kind": kind,
                "visit_id": visit_id,
                "payload": json.dumps(payload, ensure_ascii=False, default=str),
            },
        )
        assert isinstance(seq, int)
        event = Event(seq, self.now, self.actor, self.device, kind, visit_id, payload)
        self.events.append(event)
        return event


@dataclass
class _Job(Generic[T]):
    op: Callable[[Tx], T]
    actor: str
    device: str | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    on_refusal: Callable[[Tx, QueueError], T] | None = None


_STOP = object()


class Store:
    """The site's database: async `write` through the group-commit writer, async `read`.

    Two ways to drive the same batches. On SQLite the operations run on the event loop and
    only BEGIN and COMMIT (the waits: a lock, the fsync) go to a thread: a writer thread of
    its own waited for the GIL at each of a request's dozen SQLite calls while the loop
    parsed requests: server_load's p99 at 300 check-ins/s was about 90 ms that way and 33 to
    40 ms this way. On PostgreSQL every statement is a network round trip, so a writer
    thread runs the whole batch and the loop never waits on the network.
    """

    def __init__(
        self, url: str, *, site_id: str, clock: Clock, wal_reader_wait: float = READER_WAIT
    ) -> None:
        self.url = url
        self.site_id = site_id
        self.clock = clock
        path = sqlite_path(url)
        if path and path != ":memory:":
            # Personal data: the file, and so its WAL and SHM (SQLite gives them its mode),
            # readable by the service only.
            create_private(path)
            for suffix in ("-wal", "-shm"):
                tighten(path + suffix)
        self._wal = WalBound(path) if path is not None else None
        self._wal_reader_wait = wal_reader_wait  # seconds a full log waits for readers
        self._writer_engine: Engine = make_engine(
            url, writer=True, autocheckpoint=self._wal is None
        )
        self._reader_engine: Engine = make_engine(url, writer=False)
        self._on_loop = path is not None
        self._jobs: stdlib_queue.SimpleQueue[Any] = stdlib_queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending: list[_Job[Any]] = []
        self._wake: asyncio.Event | None = None
        self._loop_writer: asyncio.Task[None] | None = None
        self._commits = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-commit")
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="store-read")
        self._listeners: list[Callable[[list[Event]], None]] = []
        self._batch_observers: list[Callable[[int, float], None]] = []
        self._refused_since_failure = 0  # requests refused in this outage (the writer's own)
        self._outage: dict[str, Any] | None = None

    @property
    def outage(self) -> dict[str, Any] | None:
        """While changes cannot be saved: since when, whether the disk is full, how many
        requests were refused so far; None when the store saves. The marshal sees it."""
        if self._outage is None:
            return None
        return {**self._outage, "refused": self._refused_since_failure}

    @property
    def wal(self) -> dict[str, int | float] | None:
        """The SQLite WAL's size, its ceiling and the checkpoints (None on PostgreSQL)."""
        return self._wal.figures() if self._wal is not None else None

    def subscribe(self, listener: Callable[[list[Event]], None]) -> None:
        """Call `listener` (on the caller's loop thread) with each committed batch of events."""
        self._listeners.append(listener)

    def observe_batches(self, observer: Callable[[int, float], None]) -> None:
        """Call `observer(requests, seconds)` after each committed batch: how many requests it
        held and how long its transaction took, BEGIN to COMMIT on disk (for /metrics)."""
        self._batch_observers.append(observer)

    async def start(self) -> None:
        await asyncio.to_thread(migrate, self._writer_engine)
        if self._on_loop:
            conn = await asyncio.to_thread(self._writer_engine.connect)
            self._wake = asyncio.Event()
            self._loop_writer = asyncio.create_task(self._write_on_loop(conn))
        else:
            self._thread = threading.Thread(
                target=self._writer_loop, name="store-writer", daemon=True
            )
            self._thread.start()

    async def stop(self) -> None:
        if self._loop_writer is not None:
            task, self._loop_writer = self._loop_writer, None
            assert self._wake is not None
            self._wake.set()  # it finishes what is pending, then sees it should stop
            await task
        if self._thread is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        self._commits.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self._writer_engine.dispose()
        self._reader_engine.dispose()

    async def write(
        self,
        op: Callable[[Tx], T],
        *,
        actor: str,
        device: str | None = None,
        on_refusal: Callable[[Tx, QueueError], T] | None = None,
    ) -> T:
        """Run `op` in the writer's transaction; return once it is committed to disk.

        If `op` is refused (QueueError) its changes are undone; `on_refusal`, when given,
        then runs in the same transaction and its answer is committed and returned (the
        idempotency record of a refusal), so one savepoint per request is enough.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = _Job(op, actor, device, loop, future, on_refusal)
        if self._loop_writer is not None:
            assert self._wake is not None
            self._pending.append(job)
            self._wake.set()
        elif self._thread is not None:
            self._jobs.put(job)
        else:
            raise StoreUnavailable("the store is not running")
        return await future

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read-only query off the event loop on a snapshot."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, fn)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with self._reader_engine.connect() as conn, conn.begin():
            return fn(conn)

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        """The same read, for scripts and tests outside an event loop."""
        return self._read(fn)

    # --- SQLite: operations on the loop, BEGIN and COMMIT in a thread ----------------------

    async def _write_on_loop(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        try:
            while self._loop_writer is not None or self._pending:
                if self._wal is not None and self._wal.dirty and not self._pending:
                    try:  # idle for a moment: backfill the log so the next commit restarts it
                        async with asyncio.timeout(IDLE):
                            await self._wake.wait()
                    except TimeoutError:
                        with contextlib.suppress(StoreUnavailable):  # a full disk: retried
                            await self._checkpoint(loop, conn, Mode.PASSIVE)
                        continue
                else:
                    await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    # Kept short: the loop serves nobody else while a batch runs (~0.5 ms
                    # a check-in); later requests go in the next batch, during this commit.
                    batch = self._pending[:LOOP_BATCH]
                    del self._pending[:LOOP_BATCH]
                    await self._run_on_loop(loop, conn, batch)
        finally:
            await loop.run_in_executor(self._commits, conn.close)

    async def _checkpoint(
        self, loop: asyncio.AbstractEventLoop, conn: Connection, mode: Mode
    ) -> Checkpointed:
        """One checkpoint on the writer's own connection, between transactions (raises
        StoreUnavailable if it failed: a full disk, say)."""
        assert self._wal is not None
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        wait = self._wal_reader_wait if mode is Mode.TRUNCATE else 0.0
        try:
            result, seconds = await loop.run_in_executor(self._commits, timed, raw, mode, wait)
        except sqlite3.Error as err:
            log.debug("WAL checkpoint (%s) failed: %s", mode, err)  # the outage is logged once
            raise StoreUnavailable(
                f"the database's log could not be checkpointed: {err}", full=is_disk_full(err)
            ) from err
        self._wal.done(mode, result, seconds)
        if mode is Mode.TRUNCATE and not result.complete:
            log.warning(
                "the WAL is at its ceiling and readers kept it for %.0f s: refusing writes", wait
            )
        return result

    async def _bound_wal(self, loop: asyncio.AbstractEventLoop, conn: Connection, n: int) -> None:
        """Before a batch: keep the WAL under its ceiling, or refuse the batch (raises)."""
        assert self._wal is not None
        mode = self._wal.before(n)
        if mode is None:
            return
        try:
            result = await self._checkpoint(loop, conn, mode)
        except StoreUnavailable:
            if mode is Mode.PASSIVE:
                return  # the batch may still fit; if not, its commit says why
            raise
        if mode is Mode.TRUNCATE and not result.complete:
            self._wal.refused += 1
            raise StoreUnavailable(
                "the database's log is at its ceiling and could not be emptied", backlog=True
            )

    async def _run_on_loop(
        self, loop: asyncio.AbstractEventLoop, conn: Connection, batch: list[_Job[Any]]
    ) -> None:
        try:
            if self._wal is not None:
                await self._bound_wal(loop, conn, len(batch))
            # BEGIN IMMEDIATE may wait for another process's write lock (busy_timeout).
            started = time.perf_counter()
            transaction = await loop.run_in_executor(self._commits, conn.begin)
        except Exception as err:
            self._refuse_batch(batch, err)
            return
        try:
            outcomes, committed = self._run_ops(conn, batch)
            await loop.run_in_executor(self._commits, transaction.commit)
        except Exception as err:
            with contextlib.suppress(Exception):
                await loop.run_in_executor(self._commits, transaction.rollback)
            self._refuse_batch(batch, err)
            return
        self._saved_again()
        self._observe(len(batch), time.perf_counter() - started)
        if self._wal is not None:
            self._wal.committed(len(batch))
        for job, value, error in outcomes:
            _settle(job.future, value, error)
        if committed:
            try:
                self._publish(committed)
            except Exception:  # a listener's bug must not stop the writer (nor lose events:
                log.exception("publishing events failed")  # feeds resume from the store)

    # --- PostgreSQL: the whole batch in the writer thread ----------------------------------

    def _writer_loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is _STOP:
                return
            batch: list[_Job[Any]] = [first]
            stop_after = False
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except stdlib_queue.Empty:
                    break
                if job is _STOP:
                    stop_after = True
                    break
                batch.append(job)
            self._run_batch(batch)
            if stop_after:
                return

    def _run_batch(self, batch: list[_Job[Any]]) -> None:
        started = time.perf_counter()
        try:
            with self._writer_engine.connect() as conn, conn.begin():
                outcomes, committed = self._run_ops(conn, batch)
        except Exception as err:
            self._refuse_batch(batch, err)
            return
        self._saved_again()
        if batch:
            seconds = time.perf_counter() - started
            batch[0].loop.call_soon_threadsafe(self._observe, len(batch), seconds)
        for job, value, error in outcomes:
            job.loop.call_soon_threadsafe(_settle, job.future, value, error)
        if committed and batch:
            batch[0].loop.call_soon_threadsafe(self._publish, committed)

    # --- shared ------------------------------------------------------------------------------

    def _run_ops(
        self, conn: Connection, batch: list[_Job[Any]]
    ) -> tuple[list[tuple[_Job[Any], Any, BaseException | None]], list[Event]]:
        """Each job under its own savepoint in the open transaction; what each answers."""
        outcomes: list[tuple[_Job[Any], Any, BaseException | None]] = []
        committed: list[Event] = []
        for job in batch:
            tx = Tx(conn, self.site_id, self.clock.now(), job.actor, job.device)
            savepoint(conn, _SAVEPOINT)
            try:
                value = job.op(tx)
            except QueueError as err:
                rollback_to(conn, _SAVEPOINT)
                release(conn, _SAVEPOINT)
                if job.on_refusal is None:
                    outcomes.append((job, None, err))
                    continue
                after = Tx(conn, self.site_id, tx.now, job.actor, job.device)
                try:
                    outcomes.append((job, job.on_refusal(after, err), None))
                except Exception as failed:  # one statement: nothing half-written
                    outcomes.append((job, None, failed))
            except Exception as err:  # failed: this job only
                rollback_to(conn, _SAVEPOINT)
                release(conn, _SAVEPOINT)
                outcomes.append((job, None, err))
            else:
                release(conn, _SAVEPOINT)
                outcomes.append((job, value, None))
                committed.extend(tx.events)
        return outcomes, committed

    def _refuse_batch(self, batch: list[_Job[Any]], err: Exception) -> None:
        """Nothing of the batch was kept: every request in it hears so."""
        known = err if isinstance(err, StoreUnavailable) else None
        full = known.full if known is not None else is_disk_full(err)
        backlog = known is not None and known.backlog
        if not self._refused_since_failure:  # once per outage, not once per request
            self._outage = {
                "since": self.clock.now().isoformat(),
                "disk_full": full,
                "wal_backlog": backlog,
            }
            log.error(
                "the database cannot save (%s); refusing changes until it can: %s",
                "disk full: free space on its disk" if full else "see the error",
                err,
            )
        self._refused_since_failure += len(batch)
        failure = StoreUnavailable(
            f"the database could not save the change: {err}", full=full, backlog=backlog
        )
        for job in batch:
            job.loop.call_soon_threadsafe(_settle, job.future, None, failure)

    def _saved_again(self) -> None:
        if self._refused_since_failure:
            self._outage = None
            log.warning(
                "the database saves again; %d request(s) were refused meanwhile",
                self._refused_since_failure,
            )
            self._refused_since_failure = 0

    def _observe(self, requests: int, seconds: float) -> None:
        for observer in self._batch_observers:
            try:
                observer(requests, seconds)
            except Exception:  # a figure is not worth stopping the writer for
                log.exception("a batch observer failed")

    def _publish(self, events: list[Event]) -> None:
        for listener in self._listeners:
            listener(events)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def events_after(conn: Connection, site_id: str, seq: int, limit: int = 1000) -> list[Event]:
    """Committed events after `seq`, oldest first (for resuming a feed)."""
    rows = conn.execute(
        select(t.events)
        .where(t.events.c.site_id == site_id, t.events.c.seq > seq)
        .order_by(t.events.c.seq)
        .limit(limit)
    )
    return [
        Event(r.seq, r.at, r.actor, r.device, r.kind, r.visit_id, json.loads(r.payload))
        for r in rows
    ]
