"""POST /api/visits/{visit_id}/decisions: a doctor's recorded decision (ops/decisions.py)."""

from __future__ import annotations

from aiohttp import web

from vaxflow.queue.api import models as m
from vaxflow.queue.core.switch import DecisionKind
from vaxflow.queue.ops import decisions
from vaxflow.queue.server.appkeys import SETTINGS
from vaxflow.queue.server.handlers import _int_param, mutate, serving


async def decide(request: web.Request) -> web.Response:
    """POST /api/visits/{visit_id}/decisions."""
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await mutate(
        request,
        m.DecisionRequest,
        lambda tx, b: decisions.record(
            tx,
            settings,
            visit_id,
            DecisionKind(b.kind),
            b.approve,
            b.reason,
            sees=lambda visit: serving(request, visit),
        ),
    )
