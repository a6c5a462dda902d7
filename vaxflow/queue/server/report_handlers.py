"""`GET /api/reports/daily?date=YYYY-MM-DD`: the site's daily report page for the marshal."""

from __future__ import annotations

import asyncio
from datetime import date

from aiohttp import web

from vaxflow.queue.core import engine
from vaxflow.queue.core.errors import Invalid
from vaxflow.queue.core.report import DayRows, build
from vaxflow.queue.server.appkeys import CLOCK, SETTINGS, STORE
from vaxflow.queue.store.records import day_bounds, day_rows


async def daily(request: web.Request) -> web.StreamResponse:
    """The report of one site day (default: today), figures as of now, as one HTML page."""
    settings = request.app[SETTINGS]
    store = request.app[STORE]
    now = request.app[CLOCK].now()
    raw = request.query.get("date")
    day = (
        _parse_day(raw)
        if raw
        else engine.site_day(now, settings.site.timezone, settings.site.day_turns_at)
    )
    start, end = day_bounds(day, settings.site.timezone, settings.site.day_turns_at)
    as_of = min(max(now, start), end)  # a past day is complete; a future day is empty
    rows = await store.read(
        lambda conn: day_rows(
            conn,
            day,
            [store.site_id],
            timezone=settings.site.timezone,
            as_of=as_of,
            seats={store.site_id: settings.observation.seats},
            site_names={store.site_id: settings.site.name},
        )
    )
    page = await asyncio.to_thread(_render, rows)
    return web.Response(
        text=page, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"}
    )


def _parse_day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid("bad_date", f"{raw!r} is not a date like 2026-11-21.") from None


def _render(rows: DayRows) -> str:
    from vaxflow.queue.records.report_html import render_html  # matplotlib loads on first use

    return render_html(build(rows))
