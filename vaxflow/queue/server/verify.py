"""Verifying the person at an injection station: the ticket or the ID card against the call.

The vaccinator scans the ticket, or scans/types the ID card's number (or the console's
ID-card reader reads it), and sees at once whether this is the person the station called:
a match starts the service; a MISMATCH changes nothing but is recorded (an event, with the
number masked) so the audit shows who checked whom. The answer is the photo-free summary
the verifying console needs: the full ID number (this console only, DESIGN rule 8), age,
dose number, the screening questions' words with the answers, the person's earlier doses
with the source(s) of each, and the flags (doctor review, priority, walk-in).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from vaxflow.config import Settings
from vaxflow.config.schema import LaneKind
from vaxflow.queue.api import models as m
from vaxflow.queue.core import ticket_code
from vaxflow.queue.core.booking import PriorDose
from vaxflow.queue.core.errors import Invalid, NotFound, Refused
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.guardians import IdSource, is_minor
from vaxflow.queue.core.history import history_view
from vaxflow.queue.core.model import AT_STATION_STATES, CALLED_STATES, Visit
from vaxflow.queue.core.privacy import mask_id_number, mask_name
from vaxflow.queue.ops import decisions as doctor_decisions
from vaxflow.queue.ops import service
from vaxflow.queue.server.appkeys import SETTINGS
from vaxflow.queue.server.handlers import mutate
from vaxflow.queue.store import repo
from vaxflow.queue.store.bookings import history_of_visit
from vaxflow.queue.store.guardians import VisitIdentity, identity_of
from vaxflow.queue.store.writer import Tx

#: A scan that is an ID number rather than a ticket: a resident ID, a permit or passport number.
_ID_NUMBER = re.compile(r"^(\d{17}[\dXx]|[HM]\d{8}(\d{2})?|\d{8}|[A-Z]\d{7,8})$")
#: Flags the console shows as coloured chips, with their words.
FLAG_WORDS = {
    "doctor_review": {"zh-CN": "需医生评估", "zh-TW": "需醫師評估", "en": "Doctor review"},
    "priority": {"zh-CN": "优先", "zh-TW": "優先", "en": "Priority"},
    "walk_in": {"zh-CN": "现场登记", "zh-TW": "現場登記", "en": "Walk-in"},
    "booster": {"zh-CN": "加强针", "zh-TW": "追加劑", "en": "Booster"},
    "overdue": {
        "zh-CN": "已超期：请尽快完成",
        "zh-TW": "已逾期：請儘快完成",
        "en": "Overdue: complete as soon as possible",
    },
    "minor": {"zh-CN": "未成年人", "zh-TW": "未成年人", "en": "Minor"},
    "household_register": {
        "zh-CN": "户口簿号码",
        "zh-TW": "戶口名簿號碼",
        "en": "Household register number",
    },
}
_OVERDUE_NOTES = frozenset({"dose_overdue", "series_window_passed"})


def is_id_number(code: str) -> bool:
    """Whether a scan is an ID document's number rather than a ticket (A023, a ticket QR)."""
    return bool(_ID_NUMBER.match(code.strip().upper()))


def screening_items(visit: Visit, settings: Settings) -> list[dict[str, Any]]:
    """Each screening question in the site's order, with its words and the person's answer."""
    answers = service.visit_view(visit, settings, full_id=True).get("screening") or {}
    items = []
    for q in settings.questions:
        if q.id in answers:
            items.append(
                {"id": q.id, "text": dict(q.text), "effect": q.effect, "answer": answers[q.id]}
            )
    known = {q.id for q in settings.questions}
    items += [
        {"id": k, "text": {}, "effect": None, "answer": v}
        for k, v in answers.items()
        if k not in known
    ]
    return items


def flags(
    visit: Visit, settings: Settings, identity: VisitIdentity | None = None
) -> list[dict[str, Any]]:
    """Doctor review, priority lane, walk-in, booster, overdue, minor: what the vaccinator must
    not miss (an overdue dose is given as usual, "complete as soon as possible")."""
    out = []
    lane = settings.lane(visit.lane)
    if json.loads(visit.review_reasons or "[]") or lane.kind is LaneKind.REVIEW:
        out.append("doctor_review")
    if lane.kind is LaneKind.PRIORITY:
        out.append("priority")
    if visit.walk_in:
        out.append("walk_in")
    if visit.dose_kind == "booster":
        out.append("booster")
    if any(n.get("code") in _OVERDUE_NOTES for n in json.loads(visit.schedule_notes or "[]")):
        out.append("overdue")
    if is_minor(visit.birth_date, visit.site_day):
        out.append("minor")
    if identity is not None and identity.id_source is IdSource.HOUSEHOLD_REGISTER:
        out.append("household_register")
    return [{"code": code, "text": FLAG_WORDS[code]} for code in out]


def summary(
    visit: Visit,
    settings: Settings,
    history: Sequence[PriorDose] = (),
    identity: VisitIdentity | None = None,
) -> dict[str, Any]:
    """The verifying console's view of the person: full ID, age, dose, answers with words,
    every earlier dose with where it is known from; a minor's guardian (name, relation,
    masked number) and where the number came from."""
    view = service.visit_view(visit, settings, full_id=True)
    view["screening_items"] = screening_items(visit, settings)
    view["flags"] = flags(visit, settings, identity)
    view["history"] = history_view(history)
    view["guardian"] = identity.guardian_view() if identity else None
    view["id_source"] = identity.id_source.value if identity else IdSource.ID_CARD.value
    return view


def _masked(visit: Visit) -> dict[str, Any]:
    """Who a mismatching scan belongs to, as much as another station may show: masked."""
    return {
        "visit_id": visit.id,
        "ticket": visit.ticket,
        "name": mask_name(visit.person_name),
        "id_number": mask_id_number(visit.id_number),
        "state": visit.state.value,
        "station_id": visit.station_id,
    }


def _names(code: str, called: Visit) -> bool:
    """Whether the scan names the called person: their ID number, or their ticket (of their
    own day: a person carried over from the day before has yesterday's W001, and the new
    day's W001 is someone else)."""
    if is_id_number(code):
        return code.strip().upper() == called.id_number
    try:
        parsed = ticket_code.decode(code)
    except Invalid:
        return False
    return (
        parsed.ticket == called.ticket
        and parsed.site_id in (None, called.site_id)
        and parsed.site_day in (None, called.site_day)
    )


def _find(tx: Tx, settings: Settings, code: str) -> Visit | None:
    """Today's visit a ticket or ID number names; None when nobody today has it."""
    if is_id_number(code):
        day = repo.site_day(
            tx.conn, tx.site_id, tx.now, settings.site.timezone, settings.site.day_turns_at
        )
        return repo.latest_visit_of_person(tx.conn, tx.site_id, day, code.strip().upper())
    try:
        return service.resolve_ticket(tx.conn, settings, tx.site_id, tx.now, code)
    except NotFound:
        return None


def _history(tx: Tx, settings: Settings, visit: Visit) -> tuple[PriorDose, ...]:
    return history_of_visit(
        tx.conn,
        tx.site_id,
        settings.site.timezone,
        visit_id=visit.id,
        id_number=visit.id_number,
        booking_code=visit.booking_code,
    )


def verify(tx: Tx, settings: Settings, station_id: str, body: m.VerifyRequest) -> dict[str, Any]:
    """Compare the scan with the person this station called; a match starts the service."""
    if settings.station(station_id) is None:
        raise NotFound("unknown_station", f"There is no station {station_id}.")
    station = repo.get_station(tx.conn, tx.site_id, station_id)
    if station.visit_id is None:
        raise Refused("nobody_called", f"Station {station_id} has called nobody to verify.")
    called = repo.get_visit(tx.conn, tx.site_id, station.visit_id)
    if called.state not in AT_STATION_STATES:
        raise Refused("nobody_called", f"Station {station_id} has called nobody to verify.")
    kind = "id_card" if is_id_number(body.code) else "ticket"
    match = _names(body.code, called)
    found = called if match else _find(tx, settings, body.code)
    tx.emit(
        EventKind.IDENTITY_VERIFIED if match else EventKind.IDENTITY_MISMATCH,
        called.id,
        {"station_id": station_id, "by": body.by, "scanned": kind, "match": match},
    )
    if match and called.state in CALLED_STATES:
        called = service.start_service_of(tx, settings, station_id, called)
    person = summary(
        called,
        settings,
        _history(tx, settings, called),
        identity_of(tx.conn, tx.site_id, called.id),
    )
    person["doctor_decisions"] = doctor_decisions.pending(tx.conn, settings, tx.site_id, called)
    return {
        "match": match,
        "scanned": kind,
        "visit": person,
        "found": None if match or found is None else _masked(found),
    }


async def handler(request: web.Request) -> web.Response:
    """POST /api/stations/{station_id}/verify."""
    settings, sid = request.app[SETTINGS], request.match_info["station_id"]
    return await mutate(request, m.VerifyRequest, lambda tx, b: verify(tx, settings, sid, b))
