"""One generic worker per target: the outbox's oldest pending row, sent, then settled.

The worker keeps nothing a restart would lose: the row stays pending until the answer is
written, so after a crash (even SIGKILL between the send and the write) the row is sent
again with the same ids, and the receivers store it once. Rows of one target go in order:
while the head waits for its retry, the rows behind it wait too (the receiver is down for
all of them); a row that needs fixing steps aside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime

import aiohttp

from vaxflow.clock import Clock
from vaxflow.config import Settings
from vaxflow.queue.core.outbox import Outcome, Target, Verdict, backoff
from vaxflow.queue.store import outbox
from vaxflow.queue.store.outbox import OutboxRow
from vaxflow.queue.store.writer import Event, Store, StoreUnavailable

log = logging.getLogger(__name__)

#: Sends one row; the answer's meaning. Raises OSError, aiohttp.ClientError or TimeoutError
#: when the link fails (the worker retries those).
Send = Callable[[OutboxRow], Awaitable[Verdict]]

#: How long an idle worker waits before looking again when nothing woke it, in seconds.
IDLE_POLL_SECONDS = 1.0


class Worker:
    """Sends one target's rows in order, for as long as it runs."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        target: Target,
        send: Send,
        clock: Clock,
        *,
        deadline_seconds: float,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.target = target
        self.send = send
        self.clock = clock
        self.deadline_seconds = deadline_seconds
        self.rng = rng or random.Random()
        self.sent = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._holding = False  # the head waits for its retry: new rows can wait too
        store.subscribe(self._on_commit)

    def _on_commit(self, events: list[Event]) -> None:
        if not self._holding:  # under load in an outage, commits must not spin the worker
            self._wake.set()

    def kick(self) -> None:
        """Look at the outbox now (a row was added or put back in line)."""
        self._wake.set()

    async def _nap(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, min(seconds, IDLE_POLL_SECONDS)))

    async def run(self) -> None:
        """Send until cancelled; a failure of the store or a bug waits and tries again."""
        while True:
            try:
                waited = await self.step()
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as err:
                log.warning("uplink %s: the store cannot save: %s", self.target, err)
                waited = IDLE_POLL_SECONDS
            except Exception:
                log.exception("uplink %s: unexpected failure; trying again", self.target)
                waited = IDLE_POLL_SECONDS
            if waited:
                await self._nap(waited)

    async def step(self) -> float:
        """Send the head row if it is due; how long to wait before the next step (0: none)."""
        site_id = self.settings.site.id
        row = await self.store.read(lambda c: outbox.head(c, site_id, self.target))
        now = self.clock.now()
        self._holding = row is not None and row.due_at > now
        if row is None:
            return IDLE_POLL_SECONDS
        if row.due_at > now:
            return (row.due_at - now).total_seconds()
        verdict = await self.attempt(row)
        retry_at = self._retry_at(row, now)
        await self.store.write(
            lambda tx: outbox.settle(tx.conn, row.id, verdict, tx.now, retry_at),
            actor=f"uplink-{self.target}",
        )
        if verdict.outcome is Outcome.DONE:
            self.sent += 1
            return 0.0
        self.failed += 1
        if verdict.outcome is Outcome.NEEDS_FIXING:
            log.warning("uplink %s: row %d needs fixing: %s", self.target, row.id, verdict.detail)
            return 0.0
        log.info(
            "uplink %s: row %d retried at %s: %s", self.target, row.id, retry_at, verdict.detail
        )
        return (retry_at - now).total_seconds()

    async def attempt(self, row: OutboxRow) -> Verdict:
        """One send under the deadline; a link failure is a retry, never an exception."""
        try:
            async with asyncio.timeout(self.deadline_seconds):
                return await self.send(row)
        except TimeoutError:
            return Verdict(Outcome.RETRY, f"no answer within {self.deadline_seconds:g} s")
        except (OSError, aiohttp.ClientError, ConnectionError) as err:
            return Verdict(Outcome.RETRY, f"{type(err).__name__}: {err}"[:500])

    def _retry_at(self, row: OutboxRow, now: datetime) -> datetime:
        rules = self.settings.uplink
        return now + backoff(
            row.attempts + 1,
            base_seconds=rules.retry_base_seconds,
            max_seconds=rules.retry_max_seconds,
            jitter=self.rng.random(),
        )
