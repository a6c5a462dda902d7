"""Ships the site's events to the city's region server, and asks it for a person's doses.

The site's `events` table is the outbox: the shipper keeps the region's cursor (the last seq
the region holds, asked from the region at start, so a restart or a resend never doubles
anything) and sends what follows it, in batches, woken by each commit. It only reads the
store: a kiosk never waits on the region, and a region that is down or slow only grows the
backlog, which the shipper drains when it answers again. ID numbers never leave the site;
the region gets a keyed hash of them (`person_key`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from vaxflow.config import Settings
from vaxflow.queue.core.booking import PriorDose
from vaxflow.queue.core.errors import QueueError
from vaxflow.queue.core.identity import parse_id_type, validate_id
from vaxflow.queue.core.privacy import person_key
from vaxflow.queue.ops import boards
from vaxflow.queue.server.appkeys import HTTP, REGION_HISTORY, REGION_SHIPPER, SETTINGS, STORE
from vaxflow.queue.store import Conn
from vaxflow.queue.store.region_feed import events_after, last_event_seq
from vaxflow.queue.store.writer import Store

log = logging.getLogger(__name__)

API = "/api/region/v1"
#: Seconds one request to the region may take before the shipper gives up and resends.
SEND_TIMEOUT = 15.0


class RegionShipper:
    """One background task per site server; `state` says how far it is (for the marshal)."""

    def __init__(self, store: Store, settings: Settings, http: aiohttp.ClientSession) -> None:
        rules = settings.region
        assert rules.url is not None and rules.token is not None
        self.store = store
        self.settings = settings
        self.http = http
        self.base = rules.url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {rules.token}"}
        self.site_id = store.site_id
        self.cursor: int | None = None  # the region's, once it told us
        self.last_local = 0
        self.last_ok: float | None = None  # monotonic time of the last accepted send
        self.last_error: str | None = None
        self.failing_since: float | None = None  # monotonic time the current outage began
        self.sent = 0
        self._wake = asyncio.Event()
        self._status_due = 0.0
        store.subscribe(lambda _events: self._wake.set())

    @property
    def state(self) -> dict[str, Any]:
        """Cursor, backlog (events the region does not hold yet), last error; seconds since
        the last accepted send and since the current outage began (None: never / none)."""
        backlog = None if self.cursor is None else max(0, self.last_local - self.cursor)
        now = time.monotonic()
        return {
            "cursor": self.cursor,
            "backlog": backlog,
            "sent": self.sent,
            "last_error": self.last_error,
            "last_sent_seconds": None if self.last_ok is None else round(now - self.last_ok, 1),
            "failing_seconds": (
                None if self.failing_since is None else round(now - self.failing_since, 1)
            ),
        }

    async def run(self) -> None:
        """Ship until cancelled; every failure is logged once per outage and retried."""
        backoff = 0.25
        while True:
            try:
                more = await self.ship_once()
            except (aiohttp.ClientError, TimeoutError, _Refused, KeyError, ValueError) as err:
                if self.last_error is None:
                    log.warning("region unreachable, events wait on the site: %s", err)
                    self.failing_since = time.monotonic()
                self.last_error = str(err) or type(err).__name__
                await self._sleep(backoff)
                backoff = min(self.settings.region.retry_max_seconds, backoff * 2)
                continue
            if self.last_error is not None:
                log.info("region reachable again; backlog %s", self.state["backlog"])
                self.last_error = None
                self.failing_since = None
            backoff = 0.25
            if not more:
                await self._sleep(self.settings.region.interval_seconds)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def ship_once(self) -> bool:
        """Send the next batch (and the live figures when due); True when more is waiting."""
        if self.cursor is None:
            self.cursor = int((await self._call("GET", "/cursor"))["cursor"])
        limit = self.settings.region.batch_max
        after = self.cursor
        site_id, zone = self.site_id, ZoneInfo(self.settings.site.timezone)
        rows, self.last_local = await self.store.read(
            lambda conn: (events_after(conn, site_id, after, limit), last_event_seq(conn, site_id))
        )
        status = None
        if time.monotonic() >= self._status_due:
            status = await self.store.read(self._status)
            self._status_due = time.monotonic() + self.settings.region.status_seconds
        if not rows and status is None:
            return False
        key = self.settings.region.history_key
        body: dict[str, Any] = {"events": [_event(r, zone, key) for r in rows]}
        if status is not None:
            body["status"] = status
        answer = await self._call("POST", "/ingest", body)
        self.cursor = int(answer["cursor"])
        self.sent += int(answer.get("new", 0))
        self.last_ok = time.monotonic()
        return len(rows) >= limit

    def _status(self, conn: Conn) -> dict[str, Any]:
        """The site's live figures the region dashboard shows (the marshal's, summed up)."""
        now = self.store.clock.now()
        figures = boards.dashboard(conn, self.settings, self.site_id, now)
        p90s = [lane["wait_p90_minutes"] for lane in figures["lanes"]]
        known = [p for p in p90s if p is not None]
        alerts = figures["alerts"]
        return {
            "at": now.isoformat(),
            "queue_length": figures["stats"]["waiting"],
            "wait_p90_minutes": max(known) if known else None,
            "seats_in_use": figures["observation"]["observing"],
            "seats": figures["observation"]["seats"],
            "alerts": len(alerts["adverse"]) + len(alerts["devices"]),
            "uplink_backlog": None,  # the registry uplink's outbox reports it when it exists
            "region_backlog": max(0, self.last_local - (self.cursor or 0)),
        }

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        async with asyncio.timeout(SEND_TIMEOUT):
            async with self.http.request(
                method, f"{self.base}{API}{path}", json=body, headers=self.headers
            ) as response:
                if response.status != 200:
                    text = await response.text()
                    raise _Refused(f"region answered {response.status}: {text[:200]}")
                answer = await response.json()
                if not isinstance(answer, dict):
                    raise _Refused(f"region answered {answer!r:.200}")
                return answer


class _Refused(Exception):
    """The region answered with an error (503 during a failover): resend later."""


def _event(row: dict[str, Any], zone: ZoneInfo, key: str | None) -> dict[str, Any]:
    """One event as the region takes it; a dose carries its record and the person's key."""
    event: dict[str, Any] = {
        "seq": row["seq"],
        "at": row["at"].isoformat(),
        "kind": row["kind"],
        "actor": row["actor"],
        "device": row["device"],
        "visit_id": row["visit_id"],
        "payload": row["payload"],
    }
    if row.get("given_at") is not None:
        given_at: datetime = row["given_at"]
        event["dose"] = {
            "given_at": given_at.isoformat(),
            "given_on": given_at.astimezone(zone).date().isoformat(),
            "product": row["product"],
            "manufacturer": row["manufacturer"],
            "dose_number": row["dose_number"],
            "lot": row["lot"],
            "person_key": person_key(key, row["id_number"]) if key and row["id_number"] else None,
        }
    return event


#: After the region failed to answer a history question in time, check-ins use the local
#: history at once for this many seconds (then one asks again): a region that is down costs
#: one check-in the deadline, not every check-in.
HISTORY_PAUSE = 30.0


class RegionHistory:
    """Asks the region for a person's doses at the city's sites, with a deadline and a pause."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.http = http
        self.paused_until = 0.0  # monotonic

    async def lookup(self, id_type: str, id_number: str) -> tuple[PriorDose, ...] | None:
        """The doses, or None when the region did not answer within `history_deadline_seconds`
        or is paused after such a miss (check-in then goes on with the local history, and a
        claimed later dose without records goes to a doctor as `prior_dose_unverified`)."""
        rules = self.settings.region
        if rules.url is None or not rules.history_key or time.monotonic() < self.paused_until:
            return None
        try:
            number = validate_id(parse_id_type(id_type), id_number).number
        except QueueError:
            return None  # check-in refuses the number with its own reason
        url = f"{rules.url.rstrip('/')}{API}/history"
        params = {"person_key": person_key(rules.history_key, number)}
        try:
            async with asyncio.timeout(rules.history_deadline_seconds):
                async with self.http.get(
                    url, params=params, headers={"Authorization": f"Bearer {rules.token}"}
                ) as response:
                    if response.status != 200:
                        raise _Refused(f"region answered {response.status}")
                    answer = await response.json()
        except (aiohttp.ClientError, TimeoutError, _Refused, ValueError) as err:
            self.paused_until = time.monotonic() + HISTORY_PAUSE
            log.warning(
                "region history unavailable, local history only for %.0f s: %s",
                HISTORY_PAUSE,
                str(err) or "no answer within the deadline",
            )
            return None
        own = rules.site_id or self.settings.site.id
        return tuple(
            PriorDose(
                date.fromisoformat(d["given_on"]),
                d["product"],
                d["manufacturer"],
                d.get("dose_number"),
                "site" if d.get("site_id") == own else "region",
            )
            for d in answer.get("doses", [])
        )


async def shipper_lifetime(app: web.Application) -> AsyncIterator[None]:
    """The shipper's task for the app's life (cleanup_ctx, after the store and HTTP session)."""
    settings = app[SETTINGS]
    if settings.region.url is None:
        yield
        return
    app[REGION_HISTORY] = RegionHistory(settings, app[HTTP])
    shipper = RegionShipper(app[STORE], settings, app[HTTP])
    app[REGION_SHIPPER] = shipper
    task = asyncio.create_task(shipper.run(), name="region-shipper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
