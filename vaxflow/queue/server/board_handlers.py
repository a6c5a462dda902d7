"""Handlers of the web boards, the exit point and the marshal dashboard, and the pages' routes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from vaxflow.clock import SteadyClock
from vaxflow.config import Settings
from vaxflow.queue.api import models as m
from vaxflow.queue.core.errors import DeviceRefused, NotFound, Refused
from vaxflow.queue.core.outbox import dose_key
from vaxflow.queue.ops import boards, certificates, outbox_rows, service
from vaxflow.queue.server.appkeys import (
    ANNOUNCE,
    CERTIFICATE_KEYS,
    CERTIFICATE_PRINTER,
    CLOCK,
    REGION_SHIPPER,
    SETTINGS,
    STORE,
)
from vaxflow.queue.server.auth import Principal
from vaxflow.queue.server.handlers import json_response, mutate, principal
from vaxflow.queue.store import Conn, outbox
from vaxflow.queue.store.writer import Tx

log = logging.getLogger(__name__)

SNAPSHOTS: web.AppKey[SnapshotCache] = web.AppKey("observation_snapshots")
PRINT_TASKS: web.AppKey[set[asyncio.Task[str | None]]] = web.AppKey("certificate_print_tasks")
REPRINT_LOCKS: web.AppKey[dict[int, asyncio.Lock]] = web.AppKey("certificate_reprint_locks")

WEB_DIR = Path(str(resources.files("vaxflow.screens") / "web"))
_TICKET = re.compile(r"^[A-Z][0-9]{1,6}$")

#: Page paths to their HTML files; the pages hold no data, every API call needs a token.
PAGES = {
    "/station/{station_id}": "station.html",
    "/board/calls": "calls.html",
    "/board/observation": "observation.html",
    "/observer": "observer.html",
    "/exit": "exit.html",
    "/marshal": "marshal.html",
    "/desk": "desk.html",
    "/verify": "verify.html",
}


def setup(app: web.Application) -> None:
    """Serve the pages, their scripts and a CJK font; certificate printing."""
    app[PRINT_TASKS] = set()
    app[REPRINT_LOCKS] = {}
    app[SNAPSHOTS] = SnapshotCache()
    for path, name in PAGES.items():
        app.router.add_get(path, _page(name), name=f"page_{name.removesuffix('.html')}")
    app.router.add_static("/web/", WEB_DIR, name="web_static", append_version=False)
    font = next((Path(name) for name in FONT_FILES if Path(name).is_file()), None)
    app.router.add_get("/fonts/cjk", _cjk_font(font), name="cjk_font")
    app.cleanup_ctx.append(_print_lifetime)


def _page(name: str) -> Any:
    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(WEB_DIR / name, headers={"Cache-Control": "no-cache"})

    return page


#: Chinese-capable fonts the server can hand to displays that have none of their own.
FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def _cjk_font(path: Path | None) -> Any:
    async def font(request: web.Request) -> web.StreamResponse:
        if path is None:
            raise web.HTTPNotFound(reason="no CJK font on this server")
        return web.FileResponse(
            path, headers={"Cache-Control": "max-age=86400", "Content-Type": "font/collection"}
        )

    return font


# --- boards ------------------------------------------------------------------------------


class SnapshotCache:
    """The last observation snapshot as JSON, shared by boards while no event has happened.

    A hundred boards loading at once (a power cut, a restart of the TVs) then cost one query
    and one encoding instead of a hundred. At most `max_age` seconds old; boards count down
    from `ends_at`, not from `remaining_seconds`, so a second-old answer shows the same.
    """

    def __init__(self, max_age: float = 2.0) -> None:
        self.max_age = max_age
        self._lock = asyncio.Lock()
        self._seq = -1
        self._made = 0.0
        self._body = ""

    async def get(self, request: web.Request) -> str:
        settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
        async with self._lock:
            seq = await store.read(lambda conn: boards.last_seq(conn, store.site_id))
            if seq == self._seq and time.monotonic() - self._made < self.max_age:
                return self._body
            now = clock.now()
            data = await store.read(
                lambda conn: boards.observation_snapshot(conn, settings, store.site_id, now)
            )
            body = json.dumps(data, ensure_ascii=False)
            self._seq, self._made, self._body = data["seq"], time.monotonic(), body
            return body


async def observation_board(request: web.Request) -> web.Response:
    body = await request.app[SNAPSHOTS].get(request)
    return web.Response(text=body, content_type="application/json")


async def call_board(request: web.Request) -> web.Response:
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    now = clock.now()
    return json_response(
        await store.read(lambda conn: boards.calls_snapshot(conn, settings, store.site_id, now))
    )


async def announcement(request: web.Request) -> web.StreamResponse:
    """The spoken call "A023, please go to Station 5" (Chinese, then English) as a WAV."""
    settings = request.app[SETTINGS]
    ticket = request.match_info["ticket"].upper()
    station = settings.station(request.match_info["station_id"])
    if station is None:
        raise NotFound("unknown_station", "There is no such station.")
    if not _TICKET.match(ticket):
        raise NotFound("unknown_ticket", "That is not a ticket number.")
    announce = request.app[ANNOUNCE]
    texts = boards.announcement_texts(ticket, station.name)
    data = await announce(texts) if announce is not None else None
    if data is None:
        raise NotFound("speech_unavailable", "This server cannot speak (espeak-ng is missing).")
    return web.Response(
        body=data, content_type="audio/wav", headers={"Cache-Control": "max-age=86400"}
    )


async def questions(request: web.Request) -> web.Response:
    """The site's screening questions in every language, so consoles can show the answers."""
    settings = request.app[SETTINGS]
    return json_response(
        [{"id": q.id, "effect": q.effect, "text": dict(q.text)} for q in settings.questions]
    )


# --- marshal -----------------------------------------------------------------------------


async def dashboard(request: web.Request) -> web.Response:
    return json_response(await dashboard_data(request.app))


async def dashboard_data(app: web.Application) -> dict[str, Any]:
    """What the marshal's dashboard shows; /metrics reads its gauges from the same dict."""
    settings, store, clock = app[SETTINGS], app[STORE], app[CLOCK]
    now = clock.now()
    data = await store.read(lambda conn: _dashboard(conn, settings, store.site_id, now))
    data["alerts"]["storage"] = store.outage  # the database cannot save: staff must act
    shipper = app.get(REGION_SHIPPER)  # issue 16: how far the region is behind
    data["region"] = None if shipper is None else shipper.state
    data["wal"] = store.wal  # the write-ahead log's size and ceiling (issue 18)
    # A wall-clock step the served time left out: the marshal should know (issue 18).
    if isinstance(clock, SteadyClock) and clock.steps:
        data["alerts"]["clock"] = clock.status()
    else:
        data["alerts"]["clock"] = None
    return data


def _dashboard(conn: Conn, settings: Settings, site_id: str, now: datetime) -> dict[str, Any]:
    """The dashboard with the certificates to reprint among its alerts, in one snapshot."""
    data = boards.dashboard(conn, settings, site_id, now)
    data["alerts"]["reprints"] = certificates.reprint_list(conn, settings, site_id, now)
    data["uplink"] = outbox_rows.backlog(conn, settings, site_id, now)  # issue 15
    data["alerts"]["uplink"] = data["uplink"]["alerts"]
    return data


async def set_walk_in_capacity(request: web.Request) -> web.Response:
    """Today's walk-in capacity from the marshal: an event, so audited and kept over restarts."""

    def op(tx: Tx, body: m.WalkInCapacityRequest) -> dict[str, Any]:
        tx.emit(boards.WALK_IN_CAPACITY_EVENT, None, {"capacity": body.capacity})
        return {"capacity": body.capacity}

    return await mutate(request, m.WalkInCapacityRequest, op)


async def close_day(request: web.Request) -> web.Response:
    """The marshal closes the site day (an event: audited, and kept over restarts)."""
    settings = request.app[SETTINGS]
    return await mutate(request, m.EmptyRequest, lambda tx, _body: service.close_day(tx, settings))


async def open_day(request: web.Request) -> web.Response:
    """The marshal opens the day after a closed one before its turn (an event, like closing)."""
    settings = request.app[SETTINGS]
    return await mutate(
        request, m.EmptyRequest, lambda tx, _body: service.open_next_day(tx, settings)
    )


# --- exit --------------------------------------------------------------------------------


def _signed_certificate(
    app: web.Application, conn: Conn, settings: Settings, site_id: str, visit_id: int
) -> dict[str, Any] | None:
    """A visit's certificate with its signed QR when the site has a key (issue 15)."""
    certificate = boards.certificate(conn, settings, site_id, visit_id)
    dose_id = outbox.dose_id_of_visit(conn, visit_id) if certificate else None
    if certificate is not None and dose_id is not None:
        certificate["qr"] = app[CERTIFICATE_KEYS].sign(certificate, dose_key(site_id, dose_id))
    return certificate


async def exit_certificate_scan(request: web.Request) -> web.Response:
    """Scan at the exit: released with the certificate, or the time left; prints after commit.

    With an exit printer the print is queued (an event in the release's transaction) and its
    outcome recorded, so a failed slip lands in the reprint list instead of being lost.
    """
    settings = request.app[SETTINGS]
    printer = settings.observation.exit_printer
    queued: list[int] = []  # set only when this request ran (not on an Idempotency-Key replay)

    def op(tx: Tx, body: m.TicketScanRequest) -> dict[str, Any]:
        answer = service.exit_scan(tx, settings, body.code)
        if answer["may_leave"]:
            visit = answer["visit"]
            answer["certificate"] = _signed_certificate(
                request.app, tx.conn, settings, tx.site_id, visit["visit_id"]
            )
            # One slip per person: a second scan or a retried request shows the certificate
            # but prints nothing (staff reprint from the list when a slip is lost).
            first = not certificates.was_queued(tx.conn, tx.site_id, visit["visit_id"])
            if printer is not None and answer["certificate"] and first:
                tx.emit(certificates.QUEUED, visit["visit_id"], {"for_ticket": visit["ticket"]})
                queued.append(visit["visit_id"])
        return answer

    response = await mutate(request, m.TicketScanRequest, op)
    if response.status != 200 or printer is None or not queued:
        return response
    assert isinstance(response.body, bytes)
    answer = json.loads(response.body)
    certificate = answer["certificate"]
    # Printing runs after the release is committed and never blocks or undoes it.
    visit_id = answer["visit"]["visit_id"]
    job = _print_certificate(request.app, printer, visit_id, certificate, principal(request))
    task: asyncio.Task[str | None] = asyncio.create_task(job)
    tasks = request.app[PRINT_TASKS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    answer["print"] = "queued"
    return json_response(answer)


async def _print_certificate(
    app: web.Application,
    url: str,
    visit_id: int,
    certificate: dict[str, Any],
    who: Principal,
    *,
    reprint: bool = False,
) -> str | None:
    """Print one slip and record the outcome as an event; the failure's reason, or None."""
    printer = app[CERTIFICATE_PRINTER]
    reason = "no_printer_driver" if printer is None else await printer(url, certificate)
    kind = certificates.PRINTED if reason is None else certificates.FAILED
    payload: dict[str, Any] = {"for_ticket": certificate.get("ticket"), "reprint": reprint}
    if reason is not None:
        payload["reason"] = reason
    try:
        await app[STORE].write(
            lambda tx: tx.emit(kind, visit_id, payload), actor=who.actor, device=who.device
        )
    except Exception:  # the store is down: a queued print with no outcome is listed later
        log.exception("could not record the certificate print of visit %d", visit_id)
    return reason


async def reprint_list(request: web.Request) -> web.Response:
    """Today's certificates that did not print (failed, or lost mid-print), oldest first."""
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    now = clock.now()
    seq, listed = await store.read(
        lambda conn: (
            boards.last_seq(conn, store.site_id),
            certificates.reprint_list(conn, settings, store.site_id, now),
        )
    )
    configured = settings.observation.exit_printer is not None
    return json_response({"seq": seq, "printer_configured": configured, "certificates": listed})


async def reprint_certificate(request: web.Request) -> web.Response:
    """Print a listed certificate again; once printed it leaves the list.

    A certificate not (or no longer) in the list is answered `already_printed` without
    printing, so a retried or double-clicked request makes one slip, not two.
    """
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    try:
        visit_id = int(request.match_info["visit_id"])
    except ValueError:
        raise NotFound("unknown_visit", "There is no such visit.") from None
    printer = settings.observation.exit_printer
    if printer is None:
        raise Refused("exit_printer_not_configured", "This site has no exit printer.")
    locks = request.app[REPRINT_LOCKS]
    lock = locks.setdefault(visit_id, asyncio.Lock())
    try:
        async with lock:
            now = clock.now()
            certificate, due = await store.read(
                lambda conn: (
                    _signed_certificate(request.app, conn, settings, store.site_id, visit_id),
                    certificates.needs_reprint(conn, settings, store.site_id, visit_id, now),
                )
            )
            if certificate is None:
                raise NotFound("no_certificate", "This visit has no dose, so no certificate.")
            answer = {"visit_id": visit_id, "ticket": certificate["ticket"], "printed": True}
            if not due:
                return json_response({**answer, "already_printed": True})
            who = principal(request)
            reason = await _print_certificate(
                request.app, printer, visit_id, certificate, who, reprint=True
            )
    finally:
        if not lock.locked():
            locks.pop(visit_id, None)
    if reason is not None:
        raise DeviceRefused(
            "certificate_print_failed",
            f"The certificate of {certificate['ticket']} did not print ({reason}).",
            ticket=certificate["ticket"],
            printer_reason=reason,
        )
    return json_response({**answer, "already_printed": False})


async def _print_lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    running: set[asyncio.Task[str | None]] = app[PRINT_TASKS]
    tasks = list(running)
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    for task in tasks:
        task.cancel()
