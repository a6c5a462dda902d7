"""Check-in: who the person is, whether they may be vaccinated today, and their ticket.

The same identification and rules run twice: in `precheck` (read-only, before the kiosk asks
the health questions) and in `check_in` (inside the write transaction, with the answers and
the consent), so a ticket is never issued on a stale decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from vaxflow.config import LaneKind, Settings
from vaxflow.config.schema import Product
from vaxflow.queue.core import engine, reasons
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.eligibility import (
    Decision,
    Reason,
    assess,
    check_screening,
    check_walk_in_capacity,
)
from vaxflow.queue.core.errors import Invalid, NotFound, Refused
from vaxflow.queue.core.identity import (
    IdType,
    birth_date_of,
    match_card_to_booking,
    parse_id_type,
    validate_id,
)
from vaxflow.queue.core.model import FINAL_STATES, Visit, VisitState
from vaxflow.queue.core.privacy import mask_id_number, mask_name
from vaxflow.queue.store import repo
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.bookings import find_booking, prior_doses_here, remember_booking
from vaxflow.queue.store.prepared import Prepared
from vaxflow.queue.store.writer import Tx


@dataclass(frozen=True)
class IdCardData:
    """What the kiosk's reader took from the card (or staff typed from a passport)."""

    id_type: str
    id_number: str
    name: str
    birth_date: date | None = None
    sex: str | None = None


@dataclass(frozen=True)
class WalkInPerson:
    """A person without a booking, from their ID card."""

    name: str
    id_number: str
    birth_date: date | None = None
    product: str | None = None
    dose_number: int = 1
    id_type: str = IdType.CN_RESIDENT.value
    sex: str | None = None


@dataclass(frozen=True)
class CheckInRequest:
    """Everything a kiosk sends; the booking is resolved beforehand when it came from a QR
    signature or the booking service, else `booking_code` is looked up in the day's list."""

    booking: Booking | None = None
    booking_code: str | None = None
    id_card: IdCardData | None = None
    walk_in: WalkInPerson | None = None
    answers: Mapping[str, bool] | None = None
    consent_version: str | None = None


@dataclass(frozen=True)
class Applicant:
    """The person being checked in, identified and matched to their booking."""

    name: str
    id_type: str
    id_number: str
    birth_date: date | None
    sex: str | None
    product: Product
    dose_number: int
    booking: Booking | None
    history: tuple[PriorDose, ...] = field(default=())

    @property
    def walk_in(self) -> bool:
        return self.booking is None


def refusal(decision: Decision) -> Refused:
    """The first refusal as the error people see; every reason listed in the details."""
    first = decision.refusals[0]
    message = reasons.text("reason", first.code, "en", first.params) or first.code
    return Refused(
        first.code,
        message,
        **first.params,
        reasons=[{"code": r.code, **r.params} for r in decision.refusals],
    )


def identify(
    conn: Connection, settings: Settings, site_id: str, request: CheckInRequest, now: datetime
) -> Applicant:
    """Find the booking, check the ID card against it, and gather the dose history."""
    if (request.booking is None and request.booking_code is None) == (request.walk_in is None):
        raise Invalid("booking_or_walk_in", "Give either a booking or a walk-in person.")
    booking = request.booking
    if booking is None and request.booking_code is not None:
        booking = find_booking(conn, site_id, request.booking_code)
        if booking is None:
            raise NotFound("unknown_booking", "This booking code is not on today's list.")
    if booking is not None:
        booked_type = parse_id_type(booking.id_type)
        card = request.id_card
        if card is not None:
            match_card_to_booking(
                parse_id_type(card.id_type),
                card.id_number,
                card.name,
                booked_type,
                booking.id_number,
                booking.person_name,
            )
        elif settings.booking.require_id_card:
            raise Refused("id_card_required", "Place the ID card on the reader.")
        document = validate_id(booked_type, booking.id_number)
        name, sex = booking.person_name, booking.sex or (card.sex if card else None)
        birth = birth_date_of(document, booking.birth_date, card.birth_date if card else None)
        product_code, dose_number = booking.product, booking.dose_number
        history = list(booking.prior_doses)
    else:
        assert request.walk_in is not None
        person = request.walk_in
        document = validate_id(parse_id_type(person.id_type), person.id_number)
        name, sex = person.name, person.sex
        birth = birth_date_of(document, person.birth_date)
        product_code = (
            person.product or settings.walk_in.default_product or settings.products[0].code
        )
        dose_number = person.dose_number
        history = []
    product = settings.product(product_code)
    if product is None:
        raise Invalid("unknown_product", f"This site does not give {product_code}.")
    known = {(d.given_on, d.manufacturer) for d in history}
    for dose in prior_doses_here(conn, document.number, settings.site.timezone):
        if (dose.given_on, dose.manufacturer) not in known:
            history.append(dose)
    return Applicant(
        name,
        document.id_type.value,
        document.number,
        birth,
        sex,
        product,
        dose_number,
        booking,
        tuple(sorted(history, key=lambda d: d.given_on)),
    )


_VISITS_OF_PERSON = Prepared(
    select(t.visits.c.id, t.visits.c.ticket, t.visits.c.state, t.visits.c.site_day).where(
        t.visits.c.id_number == bindparam("id_number"), t.visits.c.site_id == bindparam("site_id")
    )
)
_VISITS_OF_BOOKING = Prepared(
    select(t.visits.c.id, t.visits.c.ticket, t.visits.c.state, t.visits.c.site_day).where(
        t.visits.c.site_id == bindparam("site_id"), t.visits.c.booking_code == bindparam("code")
    )
)
_FINAL = frozenset(s.value for s in FINAL_STATES)


def _already_here(conn: Connection, site_id: str, day: date, applicant: Applicant) -> None:
    """One person, one ticket: an unfinished visit today (or this booking's) is reused.

    Both look-ups go by their own index (person, booking) and filter the few rows here:
    filtering by day and state in SQL made SQLite scan the whole day's visits.
    """
    rows = _VISITS_OF_PERSON.rows(conn, {"id_number": applicant.id_number, "site_id": site_id})
    if applicant.booking is not None:
        rows += _VISITS_OF_BOOKING.rows(conn, {"site_id": site_id, "code": applicant.booking.code})
    for row in rows:
        if row.site_day == day and row.state not in _FINAL:
            raise Refused(
                "already_checked_in",
                f"Already checked in with ticket {row.ticket}.",
                ticket=row.ticket,
                visit_id=row.id,
            )


def decide(
    conn: Connection, settings: Settings, site_id: str, applicant: Applicant, now: datetime
) -> Decision:
    """Every rule for this applicant now, including walk-in capacity."""
    day = engine.site_day(now, settings.site.timezone)
    decision = assess(
        settings,
        product=applicant.product,
        dose_number=applicant.dose_number,
        birth_date=applicant.birth_date,
        history=applicant.history,
        now=now,
        booking=applicant.booking,
    )
    if applicant.birth_date is None:  # a passport or permit, no date given: staff confirm it
        decision = decision + Decision(review=(Reason("birth_date_unconfirmed"),))
    if applicant.walk_in:
        lane = settings.lane_of_kind(LaneKind.WALK_IN)
        if lane is None:
            decision = decision + Decision((Reason("walk_in_closed"),))
        else:
            issued = repo.issued_in_lane(conn, site_id, day, lane.prefix)
            from vaxflow.queue.ops.boards import walk_in_capacity  # the marshal may override it

            capacity = walk_in_capacity(conn, settings, site_id, day)
            decision = decision + check_walk_in_capacity(issued, capacity)
    return decision


def precheck(
    conn: Connection, settings: Settings, site_id: str, request: CheckInRequest, now: datetime
) -> dict[str, Any]:
    """What the kiosk needs before the questions: may this person go on, and what to ask."""
    applicant = identify(conn, settings, site_id, request, now)
    _already_here(conn, site_id, engine.site_day(now, settings.site.timezone), applicant)
    decision = decide(conn, settings, site_id, applicant, now)
    if not decision.ok:
        raise refusal(decision)
    return {
        "eligible": True,
        "person": {
            "name": mask_name(applicant.name),
            "id_number": mask_id_number(applicant.id_number),
            "age": engine.age_on(applicant.birth_date, engine.site_day(now, settings.site.timezone))
            if applicant.birth_date
            else None,
        },
        "product": applicant.product.code,
        "product_name": applicant.product.name,
        "dose_number": applicant.dose_number,
        "walk_in": applicant.walk_in,
        "review": [{"code": r.code, **r.params} for r in decision.review],
        "questions": [q.model_dump() for q in settings.questions],
        "consent": settings.consent.model_dump(),
    }


def _screening(settings: Settings, answers: Mapping[str, bool] | None) -> dict[str, bool]:
    if not settings.questions:
        return dict(answers or {})
    given = dict(answers or {})
    missing = [q.id for q in settings.questions if q.id not in given]
    if missing:
        raise Invalid(
            "answers_missing", "Answer every health question.", missing=", ".join(missing)
        )
    return given


def check_in(tx: Tx, settings: Settings, request: CheckInRequest) -> Visit:
    """Identify, decide, and issue the ticket: the lane's next number, in one transaction."""
    day = engine.site_day(tx.now, settings.site.timezone)
    applicant = identify(tx.conn, settings, tx.site_id, request, tx.now)
    _already_here(tx.conn, tx.site_id, day, applicant)
    decision = decide(tx.conn, settings, tx.site_id, applicant, tx.now)
    if not decision.ok:
        raise refusal(decision)
    answers = _screening(settings, request.answers)
    screened = check_screening(settings, answers)
    if not screened.ok:
        raise refusal(screened)
    decision = decision + screened
    if settings.consent.text and request.consent_version != settings.consent.version:
        raise Refused(
            "consent_required",
            "The consent has not been agreed.",
            expected=settings.consent.version,
        )
    if applicant.booking is not None and applicant.booking.source in ("qr", "service"):
        remember_booking(tx, applicant.booking)
    lane = engine.lane_for_check_in(
        settings, walk_in=applicant.walk_in, review=bool(decision.review)
    )
    number = repo.allocate_number(tx.conn, tx.site_id, day, lane)
    booking_code = applicant.booking.code if applicant.booking else None
    values: dict[str, Any] = {
        "site_id": tx.site_id,
        "site_day": day,
        "ticket": engine.format_ticket(lane, number),
        "lane": lane,
        "number": number,
        "state": VisitState.CHECKED_IN.value,
        "product": applicant.product.code,
        "dose_number": applicant.dose_number,
        "person_name": applicant.name,
        "id_number": applicant.id_number,
        "id_type": applicant.id_type,
        "birth_date": applicant.birth_date,
        "sex": applicant.sex,
        "booking_code": booking_code,
        "walk_in": applicant.walk_in,
        "checked_in_at": tx.now,
        "call_count": 0,
        "adverse_open": False,
        "print_failed": False,
        "device": tx.device,
        "screening": json.dumps(answers, sort_keys=True) if answers else None,
        "consent_version": request.consent_version if settings.consent.text else None,
        "review_reasons": json.dumps([r.code for r in decision.review])
        if decision.review
        else None,
    }
    visit_id = repo.insert_visit(tx.conn, values)
    if booking_code is not None:
        repo.link_booking(tx.conn, tx.site_id, booking_code, visit_id)
    return repo.visit_from_values(visit_id, values)
