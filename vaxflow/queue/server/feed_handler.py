"""GET /ws/events?since=N: the WebSocket shell around `feed.stream`."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from vaxflow.config import Settings
from vaxflow.queue.api.wire import WS_PROTOCOL_PREFIX
from vaxflow.queue.core.audience import audience_of
from vaxflow.queue.core.errors import Invalid, QueueError
from vaxflow.queue.server import feed, memory
from vaxflow.queue.server.appkeys import HUB, PRINCIPAL, SETTINGS, STORE


class OriginRefused(QueueError):
    status = 403


class FeedFull(QueueError):
    status = 503


def site_origins(request: web.Request, settings: Settings) -> frozenset[str]:
    """The browser origins of the site's own pages: the address this connection really
    arrived on (its socket, http or https as served) and the site file's
    `server.allowed_origins` (names such as https://vax.site.lan). Never the request's Host
    header, which the caller writes (a DNS-rebinding page would pass it)."""
    origins = set(settings.server.allowed_origins)
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        address, port = str(sockname[0]), int(sockname[1])
        names = {f"[{address}]" if ":" in address else address}
        if address in ("127.0.0.1", "::1"):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        origins |= {f"{request.scheme}://{name}:{port}" for name in names}
    return frozenset(origins)


def _check_origin(request: web.Request) -> None:
    """Browsers send Origin: only the site's own origins may subscribe."""
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not a browser (kiosk, station app, tests)
    if origin not in site_origins(request, request.app[SETTINGS]):
        raise OriginRefused(
            "origin_refused", f"WebSocket connections from {origin} are not allowed."
        )


async def events(request: web.Request) -> web.StreamResponse:
    _check_origin(request)
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        raise Invalid("bad_since", "since must be an event number.") from None
    if since < 0:
        raise Invalid("bad_since", "since must be 0 or more.")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    protocols = ("vaxflow",) if "vaxflow" in offered else ()
    who = request[PRINCIPAL]
    hub = request.app[HUB]
    device = who.limit_key(demo=request.app[SETTINGS].is_demo)
    try:
        # Every socket counts against the site's and its role's caps; a device token's also
        # per device (shared tokens, a demo's browser pages, cannot name themselves).
        hub.admit(device, who.role, per_device=not who.shared)
    except feed.FeedFull as full:
        raise FeedFull(
            "feed_full",
            f"The event feed is full ({full.scope}: {full.limit} connections).",
            scope=full.scope,
            limit=full.limit,
        ) from None
    try:
        ws = web.WebSocketResponse(heartbeat=20, protocols=protocols)
        await ws.prepare(request)
    except BaseException:
        hub.release(device, who.role)
        raise
    hub.sockets.add(ws)
    batch = request.query.get("batch", "0") in ("1", "true")
    sender = asyncio.create_task(
        feed.stream(ws, hub, request.app[STORE], since, batch=batch, audience=audience_of(who.role))
    )
    try:
        async for _message in ws:  # clients send nothing; this ends when they close
            pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        hub.sockets.discard(ws)
        last = hub.release(device, who.role)
        await ws.close()
        if last:  # the last socket of a burst closed: give freed memory back
            await asyncio.to_thread(memory.release)
    return ws


__all__ = ["WS_PROTOCOL_PREFIX", "events"]
