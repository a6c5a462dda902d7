"""The boards' data for native displays (Kivy): snapshot, live feed, clock offset.

The same rules as the web boards (vaxflow/screens/web/observation.js and calls.js): count
down to the server's `ends_at` using the display's measured offset from the server clock,
follow /ws/events from the snapshot's event number, reconnect with backoff and resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from pydantic import BaseModel

from vaxflow.queue.api import models as m
from vaxflow.queue.api.wire import WS_PROTOCOL_PREFIX
from vaxflow.queue.core.events import ARRIVALS, CALLS, LIVE
from vaxflow.site_tls import certificate_problem, pinned_context

log = logging.getLogger(__name__)

#: Visit states after which a person leaves the board.
LEAVING = frozenset({"released", "left_early", "transferred", "cancelled"})
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
#: How often the clock offset is measured again, in seconds.
OFFSET_EVERY = 60.0
#: Call events, and the events after which a called person has reached the station.
CALL_KINDS = CALLS
ARRIVED_KINDS = ARRIVALS
#: Calls kept on a call board per zone (the web board keeps as many).
KEEP_PER_ZONE = 8
#: Newest live calls waiting to be announced; older ones are dropped, not queued for ever.
ANNOUNCE_BACKLOG = 6


class BoardModel(Protocol):
    """What `follow` needs of a board's data: the snapshot, the events, offset and status."""

    seq: int
    offset: float
    online: bool
    zone: str | None
    refused: bool
    """The server refused the board's token (401/403): the board stops and says so."""

    def load(self, snapshot: dict[str, Any]) -> None: ...

    def apply(self, event: dict[str, Any]) -> bool: ...


def _newer(model: BoardModel, event: dict[str, Any]) -> bool:
    """Whether the event is after what the board has seen (a replay after a reconnect is
    not); moves the board's number on. Events without a number count as new."""
    seq = event.get("seq")
    if isinstance(seq, int):
        if seq <= model.seq:
            return False
        model.seq = seq
    return True


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
    refused: bool = False
    zone: str | None = None  # the site's time zone, from /api/time
    people: dict[int, dict[str, Any]] = field(default_factory=dict)

    def load(self, snapshot: dict[str, Any]) -> None:
        self.people = {p["visit_id"]: p for p in snapshot["people"]}
        self.last_minutes = int(snapshot.get("last_minutes", self.last_minutes))
        self.seats = int(snapshot.get("seats", self.seats))
        self.seq = int(snapshot["seq"])

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one feed event; True when the board changed."""
        if not _newer(self, event):
            return False
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


@dataclass
class Call:
    """One person called to a station, as a call board shows it."""

    visit_id: int
    ticket: str
    station_id: str
    station_name: str
    zone: str
    call_count: int = 1
    arrived: bool = False  # reached the station (or skipped): shown dimmed, no longer announced
    live: bool = False  # arrived through the live feed, not the snapshot or a catch-up
    station_names: dict[str, str] = field(default_factory=dict)  # per language (site file)
    zone_names: dict[str, str] = field(default_factory=dict)

    def station_in(self, language: str) -> str:
        """The station's name in `language` (zh-TW falls back to zh-CN), else its one name."""
        return _named(self.station_names, language) or self.station_name

    def zone_in(self, language: str) -> str:
        """The zone's name in `language` (zh-TW falls back to zh-CN), else its one name."""
        return _named(self.zone_names, language) or self.zone

    @property
    def repeated(self) -> bool:
        return self.call_count > 1


def _named(names: dict[str, str], language: str) -> str | None:
    """A name from a site file's per-language table, as `config.schema` reads one."""
    return names.get(language) or (names.get("zh-CN") if language == "zh-TW" else None)


def _call(visit_id: int, p: dict[str, Any], *, live: bool) -> Call | None:
    if not p.get("ticket") or not p.get("zone") or not p.get("station_id"):
        return None
    return Call(
        visit_id=visit_id,
        ticket=str(p["ticket"]),
        station_id=str(p["station_id"]),
        station_name=str(p.get("station_name") or p["station_id"]),
        zone=str(p["zone"]),
        call_count=int(p.get("call_count") or 1),
        live=live,
        station_names=dict(p.get("station_names") or {}),
        zone_names=dict(p.get("zone_names") or {}),
    )


@dataclass
class CallsModel:
    """The call board: calls newest first, at most `keep_per_zone` per zone, and the zones.

    Calls that come through the live feed (not the snapshot, not a catch-up after a
    reconnect) are also queued in `announcements` for the chime and spoken call.
    """

    keep_per_zone: int = KEEP_PER_ZONE
    seq: int = 0
    offset: float = 0.0
    online: bool = False
    refused: bool = False
    zone: str | None = None
    zones: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    announcements: list[Call] = field(default_factory=list)
    #: Names per language from the snapshot (the site file's tables), for calls that come
    #: without theirs and for zones without calls: station id -> names, zone -> names.
    station_names: dict[str, dict[str, str]] = field(default_factory=dict)
    zone_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def load(self, snapshot: dict[str, Any]) -> None:
        self.zones = [str(z) for z in snapshot.get("zones", [])]
        self.zone_names = {str(z): dict(n) for z, n in (snapshot.get("zone_names") or {}).items()}
        self.station_names = {
            str(s["station_id"]): dict(s.get("names") or {})
            for s in snapshot.get("stations", [])
            if s.get("station_id")
        }
        self.calls = []
        for p in reversed(snapshot.get("calls", [])):  # oldest first, so the newest ends on top
            call = _call(int(p["visit_id"]), p, live=False)
            if call is not None:
                self._put(self._named(call))
        self.seq = int(snapshot["seq"])

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one feed event; True when the board changed."""
        if not _newer(self, event):
            return False
        visit_id, kind = event.get("visit_id"), event.get("kind")
        if not isinstance(visit_id, int):
            return False
        if kind in CALL_KINDS:
            call = _call(visit_id, event.get("payload") or {}, live=self.online)
            if call is None:
                return False
            call = self._named(call)
            if call.zone not in self.zones:
                self.zones = sorted({*self.zones, call.zone})
            self._put(call)
            if call.live:
                self.announcements = [*self.announcements, call][-ANNOUNCE_BACKLOG:]
            return True
        if kind in ARRIVED_KINDS:
            for call in self.calls:
                if call.visit_id == visit_id and not call.arrived:
                    call.arrived = True
                    return True
        return False

    def _named(self, call: Call) -> Call:
        """The call with the snapshot's name tables where it came without its own."""
        if not call.station_names:
            call.station_names = dict(self.station_names.get(call.station_id, {}))
        if not call.zone_names:
            call.zone_names = dict(self.zone_names.get(call.zone, {}))
        return call

    def zone_in(self, zone: str, language: str) -> str:
        """A zone's name in `language` (zh-TW falls back to zh-CN), else as the site names it."""
        return _named(self.zone_names.get(zone, {}), language) or zone

    def take_announcements(self) -> list[Call]:
        """The live calls not yet announced, oldest first; the queue is emptied."""
        taken, self.announcements = self.announcements, []
        return taken

    def latest(self) -> Call | None:
        """The newest call whose person has not reached the station yet."""
        return next((c for c in self.calls if not c.arrived), None)

    def by_zone(self, keep: int | None = None) -> dict[str, list[Call]]:
        """Every zone (even one with no calls) with its newest `keep` calls."""
        out: dict[str, list[Call]] = {zone: [] for zone in self.zones}
        for call in self.calls:
            shown = out.setdefault(call.zone, [])
            if len(shown) < (keep or self.keep_per_zone):
                shown.append(call)
        return out

    def _put(self, call: Call) -> None:
        newest = [call, *(c for c in self.calls if c.visit_id != call.visit_id)]
        per_zone: dict[str, int] = {}
        self.calls = []
        for c in newest:
            per_zone[c.zone] = per_zone.get(c.zone, 0) + 1
            if per_zone[c.zone] <= self.keep_per_zone:
                self.calls.append(c)


def site_time(epoch: float, zone: str | None) -> str:
    """HH:MM of an instant in the site's `zone`, or in the display's own when none is known."""
    if zone:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return datetime.fromtimestamp(epoch, ZoneInfo(zone)).strftime("%H:%M")
    return time.strftime("%H:%M", time.localtime(epoch))


#: Each board snapshot's route and the model the server declares for its answer: a snapshot
#: that does not parse is a broken contract, said in the log and retried like an outage.
SNAPSHOT_ANSWERS: dict[str, type[BaseModel]] = {
    "/api/boards/observation": m.ObservationBoardResponse,
    "/api/boards/calls": m.CallBoardResponse,
}


async def measure_offset(
    http: aiohttp.ClientSession, base: str, samples: int = 3
) -> tuple[float | None, str | None]:
    """The display's offset from the server clock, from `samples` calls to /api/time, and the
    site's time zone."""
    taken = []
    zone = None
    for _ in range(samples):
        sent = time.time()
        async with http.get(f"{base}/api/time") as response:
            answer = m.TimeResponse.model_validate(await response.json())
        taken.append((sent, answer.epoch_ms / 1000, time.time()))
        zone = answer.timezone or zone
    return best_offset(taken), zone


#: HTTP statuses that mean the token is wrong or not allowed, not that the server is away.
TOKEN_REFUSED = frozenset({401, 403})


async def follow(
    base: str,
    token: str,
    model: BoardModel,
    changed: Callable[[], None],
    *,
    request_seconds: float = 10.0,
    snapshot: str = "/api/boards/observation",
    ca: str | None = None,
) -> None:
    """Keep `model` current until cancelled: snapshot, then the feed; reconnect with backoff.

    Every request has a deadline (`request_seconds`), so a server that stops answering
    counts as down and is retried, never waited on for ever. `ca`: the site CA the server's
    certificate must be signed by (server.tls_ca), and no other.
    """
    headers = {"Authorization": f"Bearer {token}"}
    delay = BACKOFF_FIRST
    loaded = False
    connector = aiohttp.TCPConnector(ssl=pinned_context(ca)) if ca else None
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=request_seconds), connector=connector
    ) as http:
        while True:
            try:
                offset, zone = await measure_offset(http, base)
                if offset is not None:
                    model.offset = offset
                model.zone = zone or model.zone
                if not loaded:
                    async with http.get(f"{base}{snapshot}", headers=headers) as r:
                        r.raise_for_status()
                        data = await r.json()
                    SNAPSHOT_ANSWERS[snapshot].model_validate(data)
                    model.load(data)
                    loaded = True
                    changed()
                await _stream(http, base, token, model, changed)
                delay = BACKOFF_FIRST
            except (aiohttp.ClientResponseError, aiohttp.WSServerHandshakeError) as err:
                if err.status in TOKEN_REFUSED:
                    # A wrong or withdrawn token: retrying cannot help; the board says so.
                    log.error("board feed: the server refused this board's token (%s)", err.status)
                    model.online = False
                    model.refused = True
                    changed()
                    return
                log.warning("board feed: %s; again in %.1f s", err, delay)
            except (aiohttp.ClientError, TimeoutError, ValueError) as err:
                why = certificate_problem(err, ca) or err or type(err).__name__
                log.warning("board feed: %s; again in %.1f s", why, delay)
            model.online = False
            changed()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)


async def _stream(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    model: BoardModel,
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
            if event.get("kind") == LIVE:
                model.online = True
                changed()
            elif model.apply(event):
                changed()
            if time.monotonic() - measured > OFFSET_EVERY:
                measured = time.monotonic()
                offset, zone = await measure_offset(http, base)
                if offset is not None:
                    model.offset = offset
                model.zone = zone or model.zone


async def fetch_announcement(
    http: aiohttp.ClientSession, base: str, token: str, call: Call
) -> bytes | None:
    """The server's spoken call as WAV; None without speech (404) or when the request fails."""
    station, ticket = quote(call.station_id, safe=""), quote(call.ticket, safe="")
    try:
        async with http.get(
            f"{base}/api/announcements/{station}/{ticket}.wav",
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            if response.status != 200:
                log.info("announcement %s: HTTP %d", call.ticket, response.status)
                return None
            return await response.read()
    except (aiohttp.ClientError, TimeoutError) as err:
        log.warning("announcement %s: %s", call.ticket, err or type(err).__name__)
        return None
