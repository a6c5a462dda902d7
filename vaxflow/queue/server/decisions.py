"""POST /api/visits/{visit_id}/decisions: a doctor's recorded decision (ops/decisions.py)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from vaxflow.queue.api import models as m
from vaxflow.queue.core.switch import DecisionKind
from vaxflow.queue.ops import decisions
from vaxflow.queue.server.appkeys import SETTINGS
from vaxflow.queue.server.handlers import _int_param, mutate, serving


class DecisionRequest(m._Body):
    kind: Literal["manufacturer_switch"]
    """What is decided: completing the series with another manufacturer's product."""
    approve: bool
    """True: the dose may be given; False: the visit ends for today."""
    reason: str = Field(min_length=1, max_length=500)
    """The doctor's words, e.g. "first product unavailable at this site" (kept, not fed)."""


async def decide(request: web.Request) -> web.Response:
    """POST /api/visits/{visit_id}/decisions."""
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await mutate(
        request,
        DecisionRequest,
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
