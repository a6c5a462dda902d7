"""Per-lane wait estimates, recomputed at most every few seconds instead of on every check-in."""

from __future__ import annotations

import asyncio
import time

from vaxflow.clock import Clock
from vaxflow.config import Settings
from vaxflow.queue.ops import service
from vaxflow.queue.store.writer import Store

MAX_AGE_SECONDS = 3.0


class WaitEstimates:
    """Cached `service.stats` lane estimates: a stadium checks in several people a second."""

    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._values: dict[str, int] = {}
        self._at = -1e9
        self._lock = asyncio.Lock()

    async def minutes(self, lane: str) -> int:
        if time.monotonic() - self._at > MAX_AGE_SECONDS:
            async with self._lock:
                if time.monotonic() - self._at > MAX_AGE_SECONDS:
                    stats = await self._store.read(
                        lambda conn: service.stats(
                            conn, self._settings, self._store.site_id, self._clock.now()
                        )
                    )
                    self._values = {
                        lane["prefix"]: lane["estimated_wait_minutes"] for lane in stats["lanes"]
                    }
                    self._at = time.monotonic()
        return self._values.get(lane, 0)
