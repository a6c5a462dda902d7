"""Stopping a device's worker thread without ever hanging the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading

log = logging.getLogger(__name__)


async def stop_thread(thread: threading.Thread, stop: threading.Event, deadline: float) -> bool:
    """Ask the thread to stop and wait at most `deadline` seconds; False if it did not stop."""
    stop.set()
    try:
        async with asyncio.timeout(deadline):
            await asyncio.to_thread(thread.join)
    except TimeoutError:
        log.error("%s did not stop within %.1f s", thread.name, deadline)
        return False
    return True
