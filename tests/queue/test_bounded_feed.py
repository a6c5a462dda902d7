"""Bounded feeds and connections (issue 17): shared replay pages, socket caps, slow clients,
header and body timeouts, a JSON depth limit."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.server import feed
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import HUB, STORE
from vaxflow.queue.server.handlers import MAX_JSON_DEPTH, _too_deep
from vaxflow.queue.server.serve import runner_for
from vaxflow.queue.store.writer import Tx

from .conftest import AiohttpClient, auth
from .devices import headers, real_site


def _with_server(settings: Settings, **server: Any) -> Settings:
    return settings.model_copy(update={"server": settings.server.model_copy(update=server)})


async def _many_events(app: Any, count: int) -> None:
    def op(tx: Tx) -> None:
        for n in range(count):
            tx.emit(EventKind.DEVICE_HEALTH, None, {"device_id": f"k{n}", "state": "ok"})

    await app[STORE].write(op, actor="test")


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> list[int]:
    seqs: list[int] = []
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 20)
        if message["kind"] == "live":
            return seqs
        seqs.append(message["seq"])


@pytest.mark.slow  # > 2 s (./dev test --fast leaves it out)
async def test_many_replays_from_zero_share_one_read_of_each_page(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    app = create_app(settings, db=str(tmp_path / "f.sqlite"), clock=clock)
    client = await aiohttp_client(app)
    await _many_events(app, feed.PAGE * 2 + 500)
    sockets = [
        await client.ws_connect("/ws/events?since=0", headers={**auth("marshal")}) for _ in range(4)
    ] + [
        await client.ws_connect(
            "/ws/events?since=0", headers={**auth("station"), "X-Device-Id": f"s{n}"}
        )
        for n in range(12)
    ]
    got = await asyncio.gather(*(_drain(ws) for ws in sockets))
    for seqs in got:
        assert len(seqs) == feed.PAGE * 2 + 500 and seqs == sorted(seqs)
    # 3 pages, each read once (the last, still filling, once per replay at most)
    assert app[HUB].replay.reads <= 2 + len(sockets)
    for ws in sockets:
        await ws.close()


async def test_sockets_are_capped_per_device_and_in_total(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    capped = _with_server(real_site(settings), max_websockets=3, max_websockets_per_device=2)
    client = await aiohttp_client(create_app(capped, db=str(tmp_path / "c.sqlite"), clock=clock))
    board = {**headers("board-1"), "X-Device-Id": "tv-1"}
    first = [await client.ws_connect("/ws/events", headers=board) for _ in range(2)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        # another X-Device-Id buys nothing: the token is the device
        await client.ws_connect("/ws/events", headers={**board, "X-Device-Id": "tv-9"})
    assert err.value.status == 503
    other = await client.ws_connect("/ws/events", headers=headers("observer-1"))
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/ws/events", headers={**auth("marshal")})
    refused = await client.get("/ws/events", headers={**auth("marshal"), "Upgrade": "websocket"})
    assert (await refused.json())["error"]["reason"] in ("feed_full", "bad_request")
    await first[0].close()
    await asyncio.sleep(0.05)
    again = await client.ws_connect("/ws/events", headers=board)  # a slot came free
    for ws in [*first, other, again]:
        await ws.close()


async def test_sockets_are_capped_per_role_whatever_the_token(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    roles = settings.server.max_websockets_per_role.model_copy(update={"board": 2})
    capped = _with_server(settings, max_websockets_per_role=roles)
    client = await aiohttp_client(create_app(capped, db=str(tmp_path / "r.sqlite"), clock=clock))
    boards = [
        await client.ws_connect("/ws/events", headers={**auth("board"), "X-Device-Id": f"tv-{n}"})
        for n in range(2)
    ]
    tv3 = {**auth("board"), "X-Device-Id": "tv-3", "Upgrade": "websocket"}
    refused = await client.get("/ws/events", headers={**tv3, "Connection": "Upgrade"})
    answer = await refused.json()
    assert refused.status == 503, answer
    assert answer["error"]["reason"] == "feed_full" and "role board" in answer["error"]["message"]
    assert "max_websockets_per_role" in answer["error"]["hints"]["en"]
    assert answer["error"]["details"] == {"scope": "role board", "limit": 2}
    # the boards' flood leaves the stations and the marshal their room
    others = [
        await client.ws_connect("/ws/events", headers={**auth("station"), "X-Device-Id": "s1"}),
        await client.ws_connect("/ws/events", headers=auth("marshal")),
    ]
    await boards[0].close()
    await asyncio.sleep(0.05)
    again = await client.ws_connect("/ws/events", headers={**auth("board"), "X-Device-Id": "tv-3"})
    for ws in [*boards, *others, again]:
        await ws.close()
    assert (
        settings.server.max_websockets_per_role.board
        > settings.server.max_websockets_per_role.kiosk
    )


async def test_a_nested_body_is_refused_with_a_reason_and_no_stack_trace(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await aiohttp_client(create_app(settings, db=str(tmp_path / "j.sqlite"), clock=clock))
    caplog.set_level(logging.DEBUG)
    for body in ("[" * 30000, "[" * 40 + "]" * 40, '{"a":' * 50 + "1" + "}" * 50):
        response = await client.post(
            "/api/checkins",
            data=body,
            headers={**auth("kiosk"), "Content-Type": "application/json"},
        )
        answer = await response.json()
        assert response.status == 422, answer
        assert answer["error"]["reason"] in ("invalid_body", "invalid_json")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@given(st.recursive(st.none() | st.integers(), lambda inner: st.lists(inner, max_size=3)))
def test_the_depth_check_agrees_with_a_plain_count(value: Any) -> None:
    def depth(item: Any) -> int:
        if isinstance(item, list):
            return 1 + max((depth(i) for i in item), default=0)
        return 0

    assert _too_deep(value) == (depth(value) > MAX_JSON_DEPTH)


async def _served(settings: Settings, tmp_path: Path, clock: FrozenClock) -> tuple[Any, int]:
    app = create_app(settings, db=str(tmp_path / "s.sqlite"), clock=clock)
    runner = runner_for(app, settings.server.header_timeout_seconds)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
        return True
    except TimeoutError:
        return False


@pytest.mark.slow  # waits out two half-second timeouts on real sockets
async def test_slowloris_headers_and_slow_bodies_are_cut_off(
    settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    quick = _with_server(settings, header_timeout_seconds=0.5, body_timeout_seconds=0.5)
    runner, port = await _served(quick, tmp_path, clock)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # a header every so often, never the end of them
            await asyncio.sleep(0.2)
            if writer.is_closing():
                break
            writer.write(b"X-Slow: 1\r\n")
        assert await _closed_within(reader, 3)
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/checkins HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer demo-kiosk-token\r\n"
            b'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"booking'
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.read(4096), 5)
        assert head.startswith(b"HTTP/1.1 408") and b"body_timeout" in head
        writer.close()
    finally:
        await runner.cleanup()


async def test_a_page_whose_reader_left_is_read_by_the_one_waiting_for_it(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    app = create_app(settings, db=str(tmp_path / "w.sqlite"), clock=clock)
    await aiohttp_client(app)
    await _many_events(app, 50)
    pages = feed.ReplayPages(app[STORE], concurrent=2)
    first = asyncio.create_task(pages.page(0))
    await asyncio.sleep(0)  # the first reader is in the store now
    second = asyncio.create_task(pages.page(0))
    await asyncio.sleep(0)  # and the second waits for it
    first.cancel()
    page = await asyncio.wait_for(second, 10)
    assert page.count == 50 and first.cancelled()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.slow  # a real server process, 200 sockets replaying 6,000 events each
async def test_a_flood_of_replays_keeps_the_server_small(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.conftest import DEMO_CONFIG
    from vaxflow.clock import SystemClock
    from vaxflow.queue.store.db import database_url
    from vaxflow.queue.store.writer import Store

    db = tmp_path / "flood.sqlite"
    store = Store(database_url(str(db)), site_id=settings.site.id, clock=SystemClock())
    await store.start()

    def op(tx: Tx) -> None:
        for n in range(6000):
            payload = {"visit_id": n, "ticket": f"A{n % 1000:03d}", "name": "张*明" * 20}
            tx.emit(EventKind.CHECKED_IN, None, payload)

    await store.write(op, actor="test")
    await store.stop()
    command = [sys.executable, "-m", "vaxflow", "server", "--config", str(DEMO_CONFIG)]
    server = await asyncio.create_subprocess_exec(
        *command, "--port", "0", "--db", str(db), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 30)).decode()
        url = line.rsplit(" ", 1)[1].strip().replace("http", "ws", 1)
        before = _rss_mb(server.pid)
        peak = before
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

            async def replay(n: int) -> int:
                got = 0
                headers = {**auth("board"), "X-Device-Id": f"tv-{n}"}
                async with http.ws_connect(
                    f"{url}/ws/events?since=0&batch=1", headers=headers, max_msg_size=0
                ) as ws:
                    async for message in ws:
                        if '"kind": "live"' in message.data:
                            return got
                        got += message.data.count('"seq"')
                return got

            flood = asyncio.gather(*(replay(n) for n in range(200)))
            while not flood.done():
                peak = max(peak, _rss_mb(server.pid))
                await asyncio.sleep(0.1)
            counts = await flood
        assert counts == [6000] * 200
        assert peak < 400, (before, peak)
    finally:
        server.terminate()
        await server.wait()
