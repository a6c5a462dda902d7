"""The live event feed: committed events fan out to WebSocket subscribers, who resume by number."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import weakref

from aiohttp import WSCloseCode, web
from sqlalchemy import Connection

from vaxflow.queue.store import Event, Store, events_after

log = logging.getLogger(__name__)

#: A subscriber this far behind is cut off and resumes from its last number (its client
#: reconnects with ?since=N), so one slow board cannot hold the server's memory.
MAX_BACKLOG = 5000
PAGE = 1000


class EventHub:
    """Holds the subscribers' queues; `publish` is called on the loop after each commit."""

    def __init__(self) -> None:
        self._queues: weakref.WeakSet[asyncio.Queue[tuple[int, str] | None]] = weakref.WeakSet()
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def subscribe(self) -> asyncio.Queue[tuple[int, str] | None]:
        queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(MAX_BACKLOG)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[int, str] | None]) -> None:
        self._queues.discard(queue)

    def publish(self, events: list[Event]) -> None:
        items = [(event.seq, json.dumps(event.to_json(), ensure_ascii=False)) for event in events]
        for queue in list(self._queues):
            try:
                for item in items:
                    queue.put_nowait(item)
            except asyncio.QueueFull:
                self._queues.discard(queue)
                queue.get_nowait()  # make room for the cut-off marker
                queue.put_nowait(None)

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def stream(ws: web.WebSocketResponse, hub: EventHub, store: Store, since: int) -> None:
    """Send committed events after `since`, then live ones, in order and without gaps."""
    queue = hub.subscribe()  # subscribe first, so nothing committed meanwhile is missed
    last = since
    try:
        while True:
            page = await store.read(functools.partial(_page, store.site_id, last))
            for event in page:
                await ws.send_str(json.dumps(event.to_json(), ensure_ascii=False))
                last = event.seq
            if len(page) < PAGE:
                break
        await ws.send_str(json.dumps({"kind": "live", "seq": last}))
        while not ws.closed:
            item = await queue.get()
            if item is None:
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too far behind")
                return
            seq, text = item
            if seq <= last:
                continue
            await ws.send_str(text)
            last = seq
    finally:
        hub.unsubscribe(queue)


def _page(site_id: str, after: int, conn: Connection) -> list[Event]:
    return events_after(conn, site_id, after, PAGE)
