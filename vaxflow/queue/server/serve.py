"""Run an aiohttp application until interrupted, and say where it listens."""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on uvloop where it is installed (Linux, the site server's platform).

    Measured with benchmarks/server_load.py: about a third more check-ins a second at
    saturation than the standard loop, whose socket writes and polling were a quarter of the
    event loop's time. Falls back to the standard loop elsewhere.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


#: Seconds the server keeps reading (and ignoring) a body it answered before it was whole.
LINGER_SECONDS = 1.0


def runner_for(app: web.Application, header_timeout: float | None = None) -> web.AppRunner:
    """The app's runner. `header_timeout`: a connection that has not delivered a whole request
    line and headers this many seconds after it opened (or after its last answer) is closed:
    aiohttp's keep-alive timer closes a handler still waiting for its next request, which is
    where a client trickling headers (slowloris) sits. Idle keep-alive connections close then
    too (aiohttp clients keep theirs 15 s and retry a GET on a closed one)."""
    if header_timeout is None:
        return web.AppRunner(app, access_log=None)
    # lingering_time: after an answer given before the body was all read (a body too slow,
    # 408), drain the rest for at most a second, not aiohttp's ten.
    return web.AppRunner(
        app, access_log=None, keepalive_timeout=header_timeout, lingering_time=LINGER_SECONDS
    )


async def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    started: Callable[[str], Awaitable[None]] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    header_timeout: float | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; `started` gets the base URL (the real port when port is 0)."""
    runner = runner_for(app, header_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    real_port = sockets[0].getsockname()[1] if sockets else port
    url = f"{'https' if ssl_context else 'http'}://{host}:{real_port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if started is not None:
            await started(url)
        await stop.wait()
    finally:
        await runner.cleanup()
