"""The site server: `create_app(settings)` builds the aiohttp application the CLI and tests run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from vaxflow.clock import Clock, SteadyClock
from vaxflow.config import Settings
from vaxflow.queue.core.errors import QueueError
from vaxflow.queue.core.staff_auth import StaffAuth
from vaxflow.queue.ops.estimates import WaitEstimates
from vaxflow.queue.server import board_handlers, certificate_keys, log_redaction, staff_handlers
from vaxflow.queue.server.appkeys import (
    ANNOUNCE,
    CERTIFICATE_KEYS,
    CERTIFICATE_PRINTER,
    CLOCK,
    ESTIMATES,
    HTTP,
    HUB,
    KIOSK_LIMITER,
    METRICS,
    PRINCIPAL,
    REGISTRY_HISTORY,
    ROUTE_TABLE,
    SCRYPT_GATE,
    SETTINGS,
    STAFF,
    STORE,
    TOKENS,
    UPLINK_WORKERS,
    Announce,
    CertificatePrinter,
)
from vaxflow.queue.server.auth import TokenTable, bearer_token, device_name
from vaxflow.queue.server.feed import EventHub
from vaxflow.queue.server.handlers import json_response
from vaxflow.queue.server.ratelimit import RateLimiter
from vaxflow.queue.server.region_shipper import shipper_lifetime
from vaxflow.queue.server.route import Handler, Route
from vaxflow.queue.server.routes import ROUTES
from vaxflow.queue.server.scrypt_gate import ScryptGate
from vaxflow.queue.server.site_metrics import SiteMetrics
from vaxflow.queue.server.uplink_lifetime import uplink_lifetime
from vaxflow.queue.store import views
from vaxflow.queue.store.db import database_url
from vaxflow.queue.store.writer import Store, StoreUnavailable
from vaxflow.queue.uplink.registry_history import RegistryHistory

log = logging.getLogger(__name__)


_HTTP_REASONS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}

INDEX = Path(__file__).with_name("index.html")


def create_app(
    settings: Settings,
    *,
    db: str | None = None,
    clock: Clock | None = None,
    certificate_printer: CertificatePrinter | None = None,
    announce: Announce | None = None,
    uplink: bool = True,
) -> web.Application:
    """The whole server; `db` overrides the site file's database (path or URL).

    `certificate_printer` prints on the exit printer (the CLI gives the hardware one);
    without it an exit scan shows the certificate and lists it to print. `announce` renders
    the boards' spoken calls (the CLI gives espeak-ng's); without it the boards only chime.
    `uplink=False` keeps the outbox's workers stopped (rows are written, nothing is sent)."""
    app = web.Application(middlewares=[_errors], client_max_size=settings.server.max_body_bytes)
    clock = clock or SteadyClock()
    store = Store(database_url(db or settings.server.db), site_id=settings.site.id, clock=clock)
    hub = EventHub(
        store,
        max_sockets=settings.server.max_websockets,
        max_per_device=settings.server.max_websockets_per_device,
        max_per_role=settings.server.max_websockets_per_role.model_dump(),
        max_replays=settings.server.max_replays,
    )
    store.subscribe(hub.publish)
    metrics = SiteMetrics(settings)  # issue 20: /metrics, this app's own registry
    store.subscribe(metrics.on_events)
    store.observe_batches(metrics.on_batch)
    app[METRICS] = metrics
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[CERTIFICATE_PRINTER] = certificate_printer
    app[ANNOUNCE] = announce
    app[STORE] = store
    app[HUB] = hub
    app[ESTIMATES] = WaitEstimates(store, settings, clock)
    app[TOKENS] = TokenTable(settings)
    app[STAFF] = StaffAuth(settings)
    app[SCRYPT_GATE] = ScryptGate()
    app[KIOSK_LIMITER] = RateLimiter(
        settings.server.kiosk_requests_per_second, settings.server.kiosk_burst
    )
    app[ROUTE_TABLE] = tuple(ROUTES)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _guard(route), name=_name(route))
    app.router.add_get("/", _index)
    board_handlers.setup(app)  # web pages, exit certificates (issue 6)
    app.cleanup_ctx.append(_store_lifetime)
    app.cleanup_ctx.append(_staff_sweeper)  # after the store: stopped before it
    app.cleanup_ctx.append(shipper_lifetime)  # issue 16: events to the region, if configured
    app[UPLINK_WORKERS] = ()
    app[CERTIFICATE_KEYS] = certificate_keys.load(settings)
    app[REGISTRY_HISTORY] = RegistryHistory(settings.uplink.fhir)
    if uplink:
        app.cleanup_ctx.append(uplink_lifetime)  # after the store: stopped before it
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(_security_headers)
    log_redaction.install(settings)
    return app


#: Every answer's security headers: pages run only the site's own scripts, are never framed,
#: never sniffed as another type and send no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self'; "
        "connect-src 'self'; frame-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _staff_sweeper(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(staff_handlers.sweep_idle_sessions(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _name(route: Route) -> str:
    return f"{route.method.lower()}_{route.handler.__name__}"


def _guard(route: Route) -> Handler:
    """Refuse callers whose role the route is not for; remember who called."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if route.roles is not None:
            token = bearer_token(request, websocket=route.websocket)
            who = request.app[TOKENS].principal(token, device_name(request)) if token else None
            if who is None:
                raise _Unauthorized("unauthorized", "A valid bearer token is required.")
            if who.role not in route.roles:
                raise _Forbidden("forbidden", f"The {who.role} role may not use this.")
            station = request.match_info.get("station_id")
            if (
                who.role == "station"
                and who.station is not None
                and station is not None
                and station != who.station
            ):
                raise _Forbidden(
                    "not_your_station",
                    f"This console is station {who.station}, not {station}.",
                    own=who.station,
                    station=station,
                )
            if who.role == "kiosk":
                limiter = request.app[KIOSK_LIMITER]
                key = who.limit_key(demo=request.app[SETTINGS].is_demo)  # not X-Device-Id
                if not limiter.allow(key):
                    raise _TooMany(
                        "rate_limited",
                        "Too many requests from this kiosk; slow down.",
                        retry_after_seconds=round(limiter.retry_after(key), 2),
                    )
            request[PRINCIPAL] = await staff_handlers.with_staff(
                request, who, exempt=route.staff_exempt, post=route.method == "POST"
            )
            if route.staff_only and request[PRINCIPAL].staff is None:
                raise _Unauthorized(
                    "staff_sign_in_required", "Sign in with your staff number and PIN first."
                )
        return await route.handler(request)

    return guarded


class _Unauthorized(QueueError):
    status = 401


class _Forbidden(QueueError):
    status = 403


class _TooMany(QueueError):
    status = 429


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a JSON error with a reason code; no stack traces to clients."""
    try:
        return await handler(request)
    except QueueError as err:
        request.app[METRICS].refused(err.reason)
        return json_response(err.to_json(), err.status)
    except StoreUnavailable as err:
        # The store logs the outage once; each refusal is only a debug line.
        log.debug("store unavailable: %s", err)
        if err.full:
            refusal = QueueError(
                "storage_full", "The site database's disk is full; nothing was saved."
            )
        elif err.backlog:
            refusal = QueueError(
                "storage_backlog", "The site database is catching up; nothing was saved."
            )
        else:
            refusal = QueueError(
                "store_unavailable",
                "The site database cannot save changes right now; try again shortly.",
            )
        request.app[METRICS].refused(refusal.reason)
        response = json_response(refusal.to_json(), 503)
        response.headers["Retry-After"] = "5"
        return response
    except web.HTTPException as err:
        if err.status < 400:
            raise
        reason = _HTTP_REASONS.get(err.status, "http_error")
        return json_response({"error": {"reason": reason, "message": err.reason}}, err.status)
    except Exception:
        # A bug: log it with its stack for us, give the client a JSON error without one.
        log.exception("unexpected error in %s %s", request.method, request.path)
        return json_response(
            QueueError("internal_error", "Something went wrong on the server.").to_json(), 500
        )


async def _store_lifetime(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.start()
    log.info("store open: %s", store.url)
    clock = app[CLOCK]
    if isinstance(clock, SteadyClock):  # a wall clock set back while the server was down
        last = await store.read(lambda conn: views.last_event_at(conn, store.site_id))
        if last is not None:
            clock.not_before(last)
    await staff_handlers.restore_lockouts(app)  # a restart does not unlock a guessed number
    async with aiohttp.ClientSession() as http:  # outgoing calls: the booking service
        app[HTTP] = http
        yield
    await store.stop()


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].close_all()


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(INDEX)
