"""Slow consumers are dropped, not waited for: a frame not taken in time closes the socket.

aiohttp's WebSocket writer waits for the transport to drain once its buffer is full, so a
client that stops reading holds only that buffer; `send_within` bounds how long the server
waits for it, and the subscriber resumes with `?since=N` when it reconnects.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

#: Seconds a subscriber may take to accept one frame before it is dropped.
SEND_SECONDS = 10.0


class SlowClient(Exception):
    """The client did not take a frame within the deadline."""


async def send_within(ws: web.WebSocketResponse, text: str, seconds: float = SEND_SECONDS) -> None:
    """Send one text frame, or raise SlowClient when the client does not take it in time."""
    try:
        async with asyncio.timeout(seconds):
            await ws.send_str(text)
    except TimeoutError:
        raise SlowClient from None
