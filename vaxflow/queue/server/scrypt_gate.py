"""A small gate in front of scrypt: a flood of sign-ins cannot starve the rest of the server.

Each PIN or badge check costs scrypt's tens of milliseconds of a core by design. Unbounded,
200 sign-ins at once kept the CPU in scrypt for 14 s and a dashboard read took over a
second; behind this gate one check runs at a time (in a thread: hashlib's scrypt releases
the GIL), eight wait, and the next is refused at once with `sign_in_busy`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from vaxflow.queue.core.errors import QueueError
from vaxflow.queue.core.staff_auth import Claim, StaffAuth

#: PIN checks running at once, and waiting behind them, before a sign-in is refused.
RUNNING = 1
WAITING = 8


class _Busy(QueueError):
    status = 503


class ScryptGate:
    """At most `running` PIN checks at once and `waiting` queued behind them; the next one is
    refused at once (`sign_in_busy`), so a flood of sign-ins holds one core, not the server."""

    def __init__(self, running: int = RUNNING, waiting: int = WAITING) -> None:
        self._slots = asyncio.Semaphore(running)
        self.limit = running + waiting
        self.inside = 0
        self.refused = 0

    async def run(self, auth: StaffAuth, **claim: Any) -> Claim:
        if self.inside >= self.limit:
            self.refused += 1
            raise _Busy("sign_in_busy", "Too many sign-ins are being checked; try again.")
        self.inside += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(auth.identify, **claim)
        finally:
            self.inside -= 1
