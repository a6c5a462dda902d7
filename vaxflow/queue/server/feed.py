"""The live event feed: committed events fan out to WebSocket subscribers, who resume by number.

A subscriber gets one event per message, or with ``?batch=1`` one JSON array per committed
batch: a board following a busy site then costs one frame per commit instead of one per event.

Bounded (issue 17): every batch is encoded once per audience (core/audience.py: the public
board never sees staff events or reaction details); a replay reads the day in pages aligned
on event numbers, each page read and encoded once and shared by every subscriber replaying
it (500 boards asking `since=0` cost one encoding of the day, not 500); at most
`max_replays` subscribers read pages at once; sockets are capped in total and per device;
a subscriber that does not take its frames in time is dropped (slow_clients.py) and resumes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import weakref
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import WSCloseCode, web

from vaxflow.queue.core.audience import Audience, for_audience
from vaxflow.queue.core.events import LIVE
from vaxflow.queue.server import memory
from vaxflow.queue.server.slow_clients import SlowClient, send_within
from vaxflow.queue.store import Conn
from vaxflow.queue.store.writer import Event, Store, events_after

log = logging.getLogger(__name__)

#: A subscriber this many commits behind is cut off and resumes from its last number (its
#: client reconnects with ?since=N), so one slow board cannot hold the server's memory.
MAX_BACKLOG = 2000
#: Events per replay page; pages are aligned on multiples of this (page k: seq in
#: (k*PAGE, (k+1)*PAGE]), so subscribers resuming from nearby numbers share pages.
PAGE = 1000
#: Complete replay pages kept encoded, most recently used last (a day of 20,000 people is
#: some 150,000 events: the newest pages stay, older ones are read again when asked).
CACHED_PAGES = 16
#: Seconds a replaying subscriber may take to receive one page before it is dropped.
PAGE_SECONDS = 15.0
#: Events per frame in ?batch=1 mode: a socket's unsent bytes stay some 30 KB, not a page's
#: 300 KB (500 sockets replaying at once held 120 MB of frames that way).
FRAME_EVENTS = 100


@dataclass(frozen=True)
class Shown:
    """What one audience sees of some events: their numbers, texts, and arrays of texts."""

    seqs: tuple[int, ...]
    texts: tuple[str, ...]
    arrays: tuple[str, ...]


def _arrays(texts: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        "[" + ",".join(texts[i : i + FRAME_EVENTS]) + "]"
        for i in range(0, len(texts), FRAME_EVENTS)
    )


class Encoded:
    """Events encoded for each audience on first need, then shared by every subscriber."""

    def __init__(self, events: list[Event]) -> None:
        self._events = events
        self.count = len(events)
        self.last_seq = events[-1].seq if events else 0
        self._shown: dict[Audience, Shown] = {}

    def encoded(self, audience: Audience) -> Shown:
        """What `audience` may see of these events, encoded once."""
        found = self._shown.get(audience)
        if found is None:
            seqs, texts = [], []
            for event in self._events:
                shown = for_audience(event.to_json(), audience)
                if shown is not None:
                    seqs.append(event.seq)
                    texts.append(json.dumps(shown, ensure_ascii=False))
            found = Shown(tuple(seqs), tuple(texts), _arrays(texts))
            self._shown[audience] = found
        return found

    def freeze(self) -> Encoded:
        """Encode for every audience and drop the events (a cached page keeps only text)."""
        for audience in Audience:
            self.encoded(audience)
        self._events = []
        return self


Published = Encoded
Item = Encoded | None


class ReplayPages:
    """Replay pages read and encoded once, shared by the subscribers replaying them."""

    def __init__(self, store: Store, *, concurrent: int) -> None:
        self._store = store
        self._pages: OrderedDict[int, Encoded] = OrderedDict()
        self._loading: dict[int, asyncio.Future[Encoded]] = {}
        self.readers = asyncio.Semaphore(concurrent)
        self.reads = 0  # pages read from the store (for tests and the benchmark)
        self.replaying = 0  # subscribers in their replay now

    async def ended(self) -> None:
        """A replay ended: after the last of a burst, hand freed memory back (memory.py)."""
        self.replaying -= 1
        if self.replaying == 0:
            await asyncio.to_thread(memory.release)

    async def page(self, index: int) -> Encoded:
        """Page `index`: from the cache, from a read already under way, or read now."""
        cached = self._pages.get(index)
        if cached is not None:
            self._pages.move_to_end(index)
            return cached
        loading = self._loading.get(index)
        if loading is not None:
            try:
                return await asyncio.shield(loading)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if loading.cancelled() and task is not None and not task.cancelling():
                    return await self.page(index)  # its reader went away: read it ourselves
                raise
        future: asyncio.Future[Encoded] = asyncio.get_running_loop().create_future()
        self._loading[index] = future
        try:
            events = await self._store.read(
                functools.partial(_aligned_page, self._store.site_id, index)
            )
            self.reads += 1
            complete = len(events) > PAGE or (events and events[-1].seq >= (index + 1) * PAGE)
            # Encoding a page for every audience is some tens of milliseconds of CPU: done in a
            # thread, so the event loop keeps answering meanwhile.
            page = await asyncio.to_thread(
                Encoded([e for e in events if e.seq <= (index + 1) * PAGE]).freeze
            )
            if complete:  # a page still filling is never cached
                self._pages[index] = page
                while len(self._pages) > CACHED_PAGES:
                    self._pages.popitem(last=False)
            future.set_result(page)
            return page
        except asyncio.CancelledError:
            future.cancel()  # the subscriber reading it left; a waiter reads it again
            raise
        except Exception as err:
            future.set_exception(err)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._loading[index]


def _aligned_page(site_id: str, index: int, conn: Conn) -> list[Event]:
    # One more than a page: an event beyond the page's end proves the page complete.
    return events_after(conn, site_id, index * PAGE, PAGE + 1)


class FeedFull(Exception):
    """No room for another socket: `scope` is "site", "role <role>" or "device"."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(scope)
        self.scope = scope
        self.limit = limit


class EventHub:
    """Holds the subscribers' queues; `publish` is called on the loop after each commit."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        max_sockets: int = 400,
        max_per_device: int = 4,
        max_per_role: Mapping[str, int] | None = None,
        max_replays: int = 8,
    ) -> None:
        self._queues: weakref.WeakSet[asyncio.Queue[Item]] = weakref.WeakSet()
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.max_sockets = max_sockets
        self.max_per_device = max_per_device
        self._per_device: Counter[str] = Counter()
        self.max_per_role: dict[str, int] = dict(max_per_role or {})
        self._per_role: Counter[str] = Counter()
        self._open = 0
        self._store = store
        self._max_replays = max_replays
        self._replay: ReplayPages | None = None
        self.dropped_slow = 0

    @property
    def replay(self) -> ReplayPages:
        if self._replay is None:  # made on the loop that serves (its semaphore binds to it)
            assert self._store is not None
            self._replay = ReplayPages(self._store, concurrent=self._max_replays)
        return self._replay

    def admit(self, device: str, role: str, *, per_device: bool = True) -> None:
        """Count a new socket of `device` (of `role`), or refuse it when the site, the role
        (a role without a cap: the site's only) or the device is full. `per_device` False (a
        shared token, which names no device): the site's and the role's caps only."""
        if self._open >= self.max_sockets:
            raise FeedFull("site", self.max_sockets)
        role_cap = self.max_per_role.get(role)
        if role_cap is not None and self._per_role[role] >= role_cap:
            raise FeedFull(f"role {role}", role_cap)
        if per_device and self._per_device[device] >= self.max_per_device:
            raise FeedFull("device", self.max_per_device)
        self._open += 1
        self._per_role[role] += 1
        self._per_device[device] += 1

    def release(self, device: str, role: str) -> bool:
        """Uncount a closed socket; True when it was the last one (time to trim memory)."""
        self._open -= 1
        for counter, key in ((self._per_device, device), (self._per_role, role)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
        return self._open == 0

    def subscribe(self) -> asyncio.Queue[Item]:
        queue: asyncio.Queue[Item] = asyncio.Queue(MAX_BACKLOG)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Item]) -> None:
        self._queues.discard(queue)

    def publish(self, events: list[Event]) -> None:
        item = Encoded(events)
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


async def _send(ws: web.WebSocketResponse, shown: Shown, after: int, *, batch: bool) -> None:
    """The events after `after`: one frame each, or arrays of at most FRAME_EVENTS."""
    if not shown.seqs or shown.seqs[-1] <= after:
        return
    if shown.seqs[0] > after:
        frames = shown.arrays if batch else shown.texts
    else:
        fresh = [text for seq, text in zip(shown.seqs, shown.texts, strict=True) if seq > after]
        frames = _arrays(fresh) if batch else tuple(fresh)
    for frame in frames:
        await send_within(ws, frame)


async def stream(
    ws: web.WebSocketResponse,
    hub: EventHub,
    store: Store,
    since: int,
    *,
    batch: bool = False,
    audience: Audience = Audience.MARSHAL,
) -> None:
    """Send committed events after `since`, then live ones, in order and without gaps."""
    queue = hub.subscribe()  # subscribe first, so nothing committed meanwhile is missed
    last = since
    try:
        try:
            last = await _replay(ws, hub, store, since, batch=batch, audience=audience)
            await send_within(ws, json.dumps({"kind": LIVE, "seq": last}))
            while not ws.closed:
                published = await queue.get()
                if published is None:
                    await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too far behind")
                    return
                if published.last_seq <= last:
                    continue
                await _send(ws, published.encoded(audience), last, batch=batch)
                last = published.last_seq
        except SlowClient:
            hub.dropped_slow += 1
            log.info("feed subscriber too slow: dropped at event %d (it resumes)", last)
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow")
    finally:
        hub.unsubscribe(queue)


async def _replay(
    ws: web.WebSocketResponse,
    hub: EventHub,
    store: Store,
    since: int,
    *,
    batch: bool,
    audience: Audience,
) -> int:
    """The backlog after `since`, page by page (pages are shared with other subscribers);
    answers the last event number covered."""
    hub.replay.replaying += 1
    try:
        return await _pages(ws, hub, store, since, batch=batch, audience=audience)
    finally:
        await hub.replay.ended()


async def _pages(
    ws: web.WebSocketResponse,
    hub: EventHub,
    store: Store,
    since: int,
    *,
    batch: bool,
    audience: Audience,
) -> int:
    index, after = since // PAGE, since
    while True:
        # A bounded number of replays read and send at once: the others wait their turn, and
        # the event loop keeps time for everyone else. A page not taken in PAGE_SECONDS
        # drops the subscriber (it resumes from where it got to).
        async with hub.replay.readers:
            page = await hub.replay.page(index)
            try:
                async with asyncio.timeout(PAGE_SECONDS):
                    await _send(ws, page.encoded(audience), after, batch=batch)
            except TimeoutError:
                raise SlowClient from None
        if page.count:
            after = max(after, page.last_seq)
        if not page.count or page.last_seq < (index + 1) * PAGE:
            # the page is not full: the newest events, or a gap of numbers to skip over
            more = await store.read(functools.partial(_any_after, store.site_id, after))
            if more is None:
                return after
            index = more // PAGE
        else:
            index += 1


def _any_after(site_id: str, after: int, conn: Conn) -> int | None:
    found = events_after(conn, site_id, after, 1)
    return found[0].seq if found else None
