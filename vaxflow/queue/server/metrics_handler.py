"""`GET /metrics`: the site's figures in Prometheus' text format (issue 20)."""

from __future__ import annotations

from aiohttp import web

from vaxflow.queue.server.appkeys import METRICS
from vaxflow.queue.server.board_handlers import dashboard_data
from vaxflow.queue.server.site_metrics import CONTENT_TYPE


async def metrics(request: web.Request) -> web.Response:
    """Counters since the start, and the marshal dashboard's figures as gauges."""
    data = await dashboard_data(request.app)
    body = request.app[METRICS].render(data)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
