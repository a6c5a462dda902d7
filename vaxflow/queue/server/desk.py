"""The staff desk's check-in: numbers typed by signed-in staff, audited with their name.

Children without an ID card of their own are checked in with the number printed in the
household register (户口本), typed or scanned by staff; a guardian whose document shows no
birth date (passport) has it typed here by staff who saw it. The same rules and transaction
as the kiosk's check-in run; the visit keeps the number's source and the staff member, and
the event log names them. A device token alone is not enough: its routes are `staff_only`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from vaxflow.queue.api import models as m
from vaxflow.queue.core.guardians import IdSource
from vaxflow.queue.ops import checkin, service
from vaxflow.queue.server.appkeys import CLOCK, SETTINGS, STORE
from vaxflow.queue.server.handlers import _checkin_request, json_response, mutate_answer, parse_body
from vaxflow.queue.store.writer import Tx


async def _request(request: web.Request, body: m.DeskCheckInRequest) -> checkin.CheckInRequest:
    wanted = await _checkin_request(request, body)
    return replace(wanted, id_source=IdSource(body.id_source), desk=True)


async def desk_precheck(request: web.Request) -> web.Response:
    """POST /api/desk/checkins/precheck: the kiosk's precheck for a number staff typed."""
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    body, _raw = await parse_body(request, m.DeskCheckInRequest)
    wanted = await _request(request, body)
    now = clock.now()
    answer = await store.read(
        lambda conn: checkin.precheck(conn, settings, store.site_id, wanted, now)
    )
    return json_response(answer)


async def desk_check_in(request: web.Request) -> web.Response:
    """POST /api/desk/checkins: issue the ticket; the visit records source and staff."""
    settings = request.app[SETTINGS]
    parsed = await parse_body(request, m.DeskCheckInRequest)
    wanted = await _request(request, parsed[0])

    def op(tx: Tx, _body: m.DeskCheckInRequest) -> dict[str, Any]:
        visit = service.check_in(tx, settings, wanted)
        view = service.visit_view(visit, settings)
        view["lane_name"] = settings.lane(visit.lane).name
        view["site_name"] = settings.site.name
        view["id_source"] = wanted.id_source.value
        return view

    status, answer = await mutate_answer(request, m.DeskCheckInRequest, op, parsed)
    return json_response(answer, status)
