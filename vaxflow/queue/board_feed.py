"""An observation board's data for native displays (Kivy): snapshot, live feed, clock offset.

The same rules as the web board (vaxflow/screens/web/observation.js): count down to the
server's `ends_at` using the display's measured offset from the server clock, follow
/ws/events from the snapshot's event number, reconnect with backoff and resume.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import aiohttp

from vaxflow.queue.auth import WS_PROTOCOL_PREFIX

log = logging.getLogger(__name__)

#: Visit states after which a person leaves the board.
LEAVING = frozenset({"released", "left_early", "transferred", "cancelled"})
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
#: How often the clock offset is measured again, in seconds.
OFFSET_EVERY = 60.0


class TileState(StrEnum):
    OBSERVING = "observing"
    LAST_MINUTES = "last"
    DONE = "done"
    FLAGGED = "flagged"


@dataclass(frozen=True)
class Tile:
    """One person on the board."""

    visit_id: int
    ticket: str
    name: str
    state: TileState
    remaining_seconds: int


def clock_offset(sent: float, server: float, received: float) -> float:
    """Server time minus this display's time (seconds): server − (sent + received) / 2."""
    return server - (sent + received) / 2


def best_offset(samples: list[tuple[float, float, float]]) -> float | None:
    """The offset from the sample (sent, server, received) with the shortest round trip."""
    if not samples:
        return None
    sent, server, received = min(samples, key=lambda s: s[2] - s[0])
    return clock_offset(sent, server, received)


@dataclass
class ObservationModel:
    """Everyone in observation, by visit id, and the last event number applied."""

    last_minutes: int = 5
    seats: int = 0
    seq: int = 0
    offset: float = 0.0  # seconds to add to this display's clock to get the server's
    online: bool = False
    people: dict[int, dict[str, Any]] = field(default_factory=dict)

    def load(self, snapshot: dict[str, Any]) -> None:
        self.people = {p["visit_id"]: p for p in snapshot["people"]}
        self.last_minutes = int(snapshot.get("last_minutes", self.last_minutes))
        self.seats = int(snapshot.get("seats", self.seats))
        self.seq = int(snapshot["seq"])

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one feed event; True when the board changed."""
        seq = event.get("seq")
        if isinstance(seq, int):
            if seq <= self.seq:
                return False
            self.seq = seq
        visit_id, payload = event.get("visit_id"), event.get("payload") or {}
        if not isinstance(visit_id, int) or "ticket" not in payload:
            return False
        if payload.get("state") == "observing" and payload.get("ends_at"):
            self.people[visit_id] = payload
            return True
        if payload.get("state") in LEAVING or visit_id in self.people:
            return self.people.pop(visit_id, None) is not None
        return False

    def tiles(self, local_now: float) -> list[Tile]:
        """Flagged first, then by end time; `local_now` is this display's clock (epoch s)."""
        now = local_now + self.offset
        out = []
        for visit_id, p in self.people.items():
            left = datetime.fromisoformat(p["ends_at"]).timestamp() - now
            if p.get("adverse_open"):
                state = TileState.FLAGGED
            elif left <= 0:
                state = TileState.DONE
            elif left <= self.last_minutes * 60:
                state = TileState.LAST_MINUTES
            else:
                state = TileState.OBSERVING
            out.append(
                Tile(visit_id, p["ticket"], p.get("name") or "", state, max(0, math.ceil(left)))
            )
        out.sort(key=lambda t: (t.state is not TileState.FLAGGED, t.remaining_seconds))
        return out


async def measure_offset(http: aiohttp.ClientSession, base: str, samples: int = 3) -> float | None:
    """The display's offset from the server clock, from `samples` calls to /api/time."""
    taken = []
    for _ in range(samples):
        sent = time.time()
        async with http.get(f"{base}/api/time") as response:
            data = await response.json()
        taken.append((sent, data["epoch_ms"] / 1000, time.time()))
    return best_offset(taken)


async def follow(
    base: str,
    token: str,
    model: ObservationModel,
    changed: Callable[[], None],
    *,
    request_seconds: float = 10.0,
) -> None:
    """Keep `model` current until cancelled: snapshot, then the feed; reconnect with backoff."""
    headers = {"Authorization": f"Bearer {token}"}
    delay = BACKOFF_FIRST
    loaded = False
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=request_seconds)) as http:
        while True:
            try:
                offset = await measure_offset(http, base)
                if offset is not None:
                    model.offset = offset
                if not loaded:
                    async with http.get(f"{base}/api/boards/observation", headers=headers) as r:
                        r.raise_for_status()
                        model.load(await r.json())
                    loaded = True
                    changed()
                await _stream(http, base, token, model, changed)
                delay = BACKOFF_FIRST
            except (aiohttp.ClientError, TimeoutError, ValueError) as err:
                log.warning("board feed: %s; again in %.1f s", err or type(err).__name__, delay)
            model.online = False
            changed()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)


async def _stream(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    model: ObservationModel,
    changed: Callable[[], None],
) -> None:
    url = f"{base.replace('http', 'ws', 1)}/ws/events?since={model.seq}"
    async with http.ws_connect(
        url,
        protocols=(f"{WS_PROTOCOL_PREFIX}{token}",),
        heartbeat=20,
        timeout=aiohttp.ClientWSTimeout(ws_close=5),
    ) as ws:
        measured = time.monotonic()
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            if event.get("kind") == "live":
                model.online = True
                changed()
            elif model.apply(event):
                changed()
            if time.monotonic() - measured > OFFSET_EVERY:
                measured = time.monotonic()
                offset = await measure_offset(http, base)
                if offset is not None:
                    model.offset = offset
