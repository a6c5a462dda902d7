"""The whole soak: the day run in a folder, then every invariant checked."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from vaxflow.config import load_settings
from vaxflow.queue.bookings import signed_qr
from vaxflow.queue.demo.soak.checks import check
from vaxflow.queue.demo.soak.day import (
    TOKENS,
    Day,
    Figures,
    Plan,
    Server,
    day_people,
    import_day_list,
    site_file,
)


async def soak(plan: Plan, folder: Path) -> tuple[Figures, dict[str, Any]]:
    """Run the day in `folder`; returns the figures and the marshal's closing stats."""

    private_key, public_key = signed_qr.new_key()  # the run's own, as `vaxflow demo` makes
    config = site_file(folder, public_key)
    settings = load_settings(config)
    zone = ZoneInfo(settings.site.timezone)
    hour, minute = (int(part) for part in plan.opens.split(":"))
    opens = datetime.now(zone).replace(hour=hour, minute=minute, second=0, microsecond=0)
    people, day_list = day_people(plan, settings, opens, private_key)
    server = Server(folder, config, folder / "site.sqlite", plan.speed, opens)
    await import_day_list(server.db, settings, opens.date(), day_list)
    started = time.monotonic()
    await asyncio.to_thread(server.start)
    day = Day(plan, server, settings, people)
    try:
        await day.run()
        _status, stats = await _get(server.url + "/api/stats", TOKENS["marshal"])
        day.figures.site_hours = (server.site_now() - opens).total_seconds() / 3600
    finally:
        code = server.stop()
    assert code == 0, f"the server did not stop cleanly ({code}): {server.log()}"
    day.figures.wall_seconds = time.monotonic() - started
    day.figures.invariants = check(day, stats, server.db)
    return day.figures, stats


async def _get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.json()
