"""The live event feed: committed events fan out to WebSocket subscribers, who resume by number.

A subscriber gets one event per message, or with ``?batch=1`` one JSON array per committed
batch: a board following a busy site then costs one frame per commit instead of one per event.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import weakref
from dataclasses import dataclass

from aiohttp import WSCloseCode, web

from vaxflow.queue.core.events import LIVE
from vaxflow.queue.store import Conn
from vaxflow.queue.store.writer import Event, Store, events_after

log = logging.getLogger(__name__)

#: A subscriber this many commits behind is cut off and resumes from its last number (its
#: client reconnects with ?since=N), so one slow board cannot hold the server's memory.
MAX_BACKLOG = 2000
PAGE = 1000


@dataclass(frozen=True)
class Published:
    """One committed batch, serialised once for every subscriber."""

    seqs: tuple[int, ...]
    texts: tuple[str, ...]
    array: str


Item = Published | None


def _publication(events: list[Event]) -> Published:
    texts = tuple(json.dumps(event.to_json(), ensure_ascii=False) for event in events)
    return Published(tuple(e.seq for e in events), texts, "[" + ",".join(texts) + "]")


class EventHub:
    """Holds the subscribers' queues; `publish` is called on the loop after each commit."""

    def __init__(self) -> None:
        self._queues: weakref.WeakSet[asyncio.Queue[Item]] = weakref.WeakSet()
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def subscribe(self) -> asyncio.Queue[Item]:
        queue: asyncio.Queue[Item] = asyncio.Queue(MAX_BACKLOG)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Item]) -> None:
        self._queues.discard(queue)

    def publish(self, events: list[Event]) -> None:
        item = _publication(events)
        for queue in list(self._queues):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self._queues.discard(queue)
                queue.get_nowait()  # make room for the cut-off marker
                queue.put_nowait(None)

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def stream(
    ws: web.WebSocketResponse, hub: EventHub, store: Store, since: int, *, batch: bool = False
) -> None:
    """Send committed events after `since`, then live ones, in order and without gaps."""
    queue = hub.subscribe()  # subscribe first, so nothing committed meanwhile is missed
    last = since
    try:
        while True:
            page = await store.read(functools.partial(_page, store.site_id, last))
            if page:
                item = _publication(page)
                if batch:
                    await ws.send_str(item.array)
                else:
                    for text in item.texts:
                        await ws.send_str(text)
                last = page[-1].seq
            if len(page) < PAGE:
                break
        await ws.send_str(json.dumps({"kind": LIVE, "seq": last}))
        while not ws.closed:
            published = await queue.get()
            if published is None:
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too far behind")
                return
            if published.seqs[-1] <= last:
                continue
            fresh = [
                text
                for seq, text in zip(published.seqs, published.texts, strict=True)
                if seq > last
            ]
            if batch:
                whole = len(fresh) == len(published.texts)
                await ws.send_str(published.array if whole else "[" + ",".join(fresh) + "]")
            else:
                for text in fresh:
                    await ws.send_str(text)
            last = published.seqs[-1]
    finally:
        hub.unsubscribe(queue)


def _page(site_id: str, after: int, conn: Conn) -> list[Event]:
    return events_after(conn, site_id, after, PAGE)
