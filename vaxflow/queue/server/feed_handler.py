"""GET /ws/events?since=N: the WebSocket shell around `feed.stream`."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from vaxflow.queue.core.errors import Invalid, QueueError
from vaxflow.queue.server import feed
from vaxflow.queue.server.appkeys import HUB, SETTINGS, STORE
from vaxflow.queue.server.auth import WS_PROTOCOL_PREFIX


class OriginRefused(QueueError):
    status = 403


def _check_origin(request: web.Request) -> None:
    """Browsers send Origin: only the server's own origin and configured ones may subscribe."""
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not a browser (kiosk, station app, tests)
    own = f"{request.scheme}://{request.host}"
    allowed = {own, *request.app[SETTINGS].server.allowed_origins}
    if origin not in allowed:
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
    ws = web.WebSocketResponse(heartbeat=20, protocols=protocols)
    await ws.prepare(request)
    hub = request.app[HUB]
    hub.sockets.add(ws)
    batch = request.query.get("batch", "0") in ("1", "true")
    sender = asyncio.create_task(feed.stream(ws, hub, request.app[STORE], since, batch=batch))
    try:
        async for _message in ws:  # clients send nothing; this ends when they close
            pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        hub.sockets.discard(ws)
        await ws.close()
    return ws


__all__ = ["WS_PROTOCOL_PREFIX", "events"]
