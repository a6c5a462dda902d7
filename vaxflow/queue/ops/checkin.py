"""Check-in: who the person is, whether they may be vaccinated today, and their ticket.

The same identification and rules run twice: in `precheck` (read-only, before the kiosk asks
the health questions) and in `check_in` (inside the write transaction, with the answers and
the consent), so a ticket is never issued on a stale decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from vaxflow.config import LaneKind, Settings
from vaxflow.config.schema import Product
from vaxflow.queue.core import engine, reasons
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.eligibility import (
    Assessment,
    Decision,
    Reason,
    check_screening,
    check_walk_in_capacity,
    evaluate,
)
from vaxflow.queue.core.errors import Invalid, NotFound, QueueError, Refused
from vaxflow.queue.core.guardians import (
    Guardian,
    GuardianClaim,
    IdSource,
    check_id_source,
    guardian_for,
    is_minor,
)
from vaxflow.queue.core.history import history_view, merge_history
from vaxflow.queue.core.identity import (
    IdType,
    birth_date_of,
    match_card_to_booking,
    parse_id_type,
    validate_id,
)
from vaxflow.queue.core.model import FINAL_STATES, Visit, VisitState
from vaxflow.queue.core.privacy import mask_code, mask_id_number, mask_name
from vaxflow.queue.core.switch import route_switch
from vaxflow.queue.store import Conn, repo
from vaxflow.queue.store import guardians as guardian_store
from vaxflow.queue.store.bookings import (
    bookings_of_person,
    find_booking,
    prior_doses_here,
    remember_booking,
)
from vaxflow.queue.store.views import walk_in_capacity
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
    dose_number: int | None = None  # what the person says; the schedule decides
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
    guardian: GuardianClaim | None = None
    id_source: IdSource = IdSource.ID_CARD
    desk: bool = False  # entered by signed-in staff at the desk (audited with their name)
    region_history: tuple[PriorDose, ...] = ()
    """The person's doses at the city's other sites, fetched beforehand (issue 16)."""
    registry_doses: tuple[PriorDose, ...] = ()
    """Earlier doses the registry answered with (asked before the transaction)."""
    registry_unverified: bool = False
    """The registry was asked and did not answer in time: the history is the site's own."""


@dataclass(frozen=True)
class Applicant:
    """The person being checked in, identified and matched to their booking."""

    name: str
    id_type: str
    id_number: str
    birth_date: date | None
    sex: str | None
    product: Product
    dose_number: int | None  # claimed by the booking or the kiosk; `schedule` decides the dose
    booking: Booking | None
    history: tuple[PriorDose, ...] = field(default=())
    found_by_id: bool = False
    """A walk-in request whose ID card has a booking here today: checked in as that booking."""
    history_unverified: bool = False
    """The registry did not answer: earlier doses elsewhere may be missing (a person checks)."""

    @property
    def walk_in(self) -> bool:
        return self.booking is None


def minor_guardian(
    settings: Settings, applicant: Applicant, request: CheckInRequest, day: date, *, issuing: bool
) -> Guardian | None:
    """The guardian rules (vaxflow.queue.core.guardians) for this applicant and request."""
    return guardian_for(
        request.guardian,
        child_birth_date=applicant.birth_date,
        child_id_type=applicant.id_type,
        child_id_number=applicant.id_number,
        day=day,
        desk=request.desk,
        consent_version=settings.consent.version if settings.consent.text else None,
        issuing=issuing,
    )


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
    conn: Conn, settings: Settings, site_id: str, request: CheckInRequest, now: datetime
) -> Applicant:
    """Find the booking, check the ID card against it, and gather the dose history.

    A walk-in whose card has a booking here today (the imported list, or one the booking
    service found for the number, passed in as `request.booking`) is checked in as that booking.
    """
    if request.booking_code is not None and request.walk_in is not None:
        raise Invalid("booking_or_walk_in", "Give either a booking or a walk-in person.")
    if request.booking is None and request.booking_code is None and request.walk_in is None:
        raise Invalid("booking_or_walk_in", "Give either a booking or a walk-in person.")
    typed = request.id_card or request.walk_in
    check_id_source(request.id_source, typed.id_type if typed else IdType.CN_RESIDENT.value)
    booking = request.booking
    found_by_id = False
    card = request.id_card
    if request.walk_in is not None:
        if booking is None:
            booking = booking_of_card(conn, settings, site_id, request.walk_in, now)
        if booking is not None:
            found_by_id = True
            card = card_of(request.walk_in)
    if booking is None and request.booking_code is not None:
        booking = find_booking(conn, site_id, request.booking_code)
        if booking is None:
            raise NotFound("unknown_booking", "This booking code is not on today's list.")
    dose_number: int | None  # claimed; the schedule decides (judge)
    if booking is not None:
        booked_type = parse_id_type(booking.id_type)
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
        reported: tuple[PriorDose, ...] = booking.prior_doses
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
        reported = ()
    product = settings.product(product_code)
    if product is None:
        raise Invalid("unknown_product", f"This site does not give {product_code}.")
    here = prior_doses_here(conn, document.number, settings.site.timezone)
    return Applicant(
        name,
        document.id_type.value,
        document.number,
        birth,
        sex,
        product,
        dose_number,
        booking,
        merge_history(reported, here, request.region_history, request.registry_doses),
        found_by_id,
        request.registry_unverified,
    )


def card_of(person: WalkInPerson) -> IdCardData:
    """A walk-in request's person as the ID card the kiosk read."""
    return IdCardData(person.id_type, person.id_number, person.name, person.birth_date, person.sex)


def booking_of_card(
    conn: Conn, settings: Settings, site_id: str, person: WalkInPerson, now: datetime
) -> Booking | None:
    """Today's booking here for the card's number and document type (imported or remembered).

    A number that is not a valid document finds nothing here: the walk-in path refuses it
    with its own reason.
    """
    try:
        document = validate_id(parse_id_type(person.id_type), person.id_number)
    except QueueError:
        return None
    day = repo.site_day(conn, site_id, now, settings.site.timezone, settings.site.day_turns_at)
    for booking in bookings_of_person(conn, site_id, document.number, day):
        if booking.id_type == document.id_type.value:
            return booking
    return None


def open_day(conn: Conn, settings: Settings, site_id: str, now: datetime) -> date:
    """The open site day, which a check-in now is numbered on and every booking date is
    judged against: the schedule's day, never before the floor (issue 18). Refused with
    `site_day_closed` while staff have closed it (see `service.close_day`): nobody new checks
    in until the next day opens, by the schedule's turn or by staff."""
    site = settings.site
    day, closed = repo.site_day_state(conn, site_id, now, site.timezone, site.day_turns_at)
    if closed:
        turn = engine.next_turn(day, site.timezone, site.day_turns_at)
        local = turn.astimezone(ZoneInfo(site.timezone))
        raise Refused(
            "site_day_closed",
            f"Check-in for {day.isoformat()} is closed.",
            day=day.isoformat(),
            opens_at=local.strftime("%H:%M"),
            next_turn=turn.astimezone(UTC).isoformat(),
        )
    return day


_FINAL = frozenset(s.value for s in FINAL_STATES)


def _already_here(conn: Conn, site_id: str, day: date, applicant: Applicant, now: datetime) -> None:
    """One person, one ticket: an unfinished visit today (or this booking's) is reused, and
    so is one carried over from the day before (`engine.CARRY_OVER`: still in the queue
    when the schedule turned the day).

    Both look-ups go by their own index (person, booking) and filter the few rows here:
    filtering by day and state in SQL made SQLite scan the whole day's visits.
    """
    rows = repo.visits_of_person(conn, site_id, applicant.id_number)
    if applicant.booking is not None:
        rows += repo.visits_of_booking(conn, site_id, applicant.booking.code)
    carry = engine.carry(day, now)
    for row in rows:
        here = row.site_day == day or carry.holds(row.site_day, row.checked_in_at)
        if here and row.state not in _FINAL:
            raise Refused(
                "already_checked_in",
                f"Already checked in with ticket {row.ticket}.",
                ticket=row.ticket,
                visit_id=row.id,
            )


def judge(
    conn: Conn,
    settings: Settings,
    site_id: str,
    applicant: Applicant,
    now: datetime,
    *,
    allow_switch: bool = False,
) -> Assessment:
    """Every rule for this applicant now, including walk-in capacity, and the decided dose."""
    day = repo.site_day(conn, site_id, now, settings.site.timezone, settings.site.day_turns_at)
    assessment = evaluate(
        settings,
        product=applicant.product,
        dose_number=applicant.dose_number,
        birth_date=applicant.birth_date,
        history=applicant.history,
        now=now,
        booking=applicant.booking,
        allow_switch=allow_switch,
        day=day,
    )
    decision = assessment.decision
    if not allow_switch:  # another manufacturer for the next dose: a doctor decides (switch.py)
        decision = route_switch(decision, applicant.dose_number)
    if applicant.history_unverified:  # the registry did not answer: staff ask the person
        decision = decision + Decision(review=(Reason("prior_dose_unverified"),))
    if applicant.birth_date is None:  # a passport or permit, no date given: staff confirm it
        decision = decision + Decision(review=(Reason("birth_date_unconfirmed"),))
    if applicant.walk_in:
        lane = settings.lane_of_kind(LaneKind.WALK_IN)
        if lane is None:
            decision = decision + Decision((Reason("walk_in_closed"),))
        else:
            issued = repo.walk_in_places_used(conn, site_id, day, lane.prefix)
            capacity = walk_in_capacity(conn, settings, site_id, day)  # the marshal's, if set
            decision = decision + check_walk_in_capacity(issued, capacity)
    return Assessment(assessment.plan, decision)


def decide(
    conn: Conn, settings: Settings, site_id: str, applicant: Applicant, now: datetime
) -> Decision:
    """The decision alone of `judge`."""
    return judge(conn, settings, site_id, applicant, now).decision


def _reasons(found: tuple[Reason, ...]) -> list[dict[str, Any]]:
    return [{"code": r.code, **r.params} for r in found]


def precheck(
    conn: Conn, settings: Settings, site_id: str, request: CheckInRequest, now: datetime
) -> dict[str, Any]:
    """What the kiosk needs before the questions: may this person go on, and what to ask."""
    day = open_day(conn, settings, site_id, now)  # refused while staff have closed it
    applicant = identify(conn, settings, site_id, request, now)
    _already_here(conn, site_id, day, applicant, now)
    assessment = judge(conn, settings, site_id, applicant, now)
    decision, plan = assessment.decision, assessment.plan
    if not decision.ok:
        raise refusal(decision)
    guardian = minor_guardian(settings, applicant, request, day, issuing=False)
    if guardian is not None:
        decision = decision + Decision((), guardian.review)
    minor = is_minor(applicant.birth_date, day)
    return {
        "eligible": True,
        "minor": minor,
        "guardian_required": minor,
        "guardian": {"name": mask_name(guardian.name), "relation": guardian.relation.value}
        if guardian
        else None,
        "person": {
            "name": mask_name(applicant.name),
            "id_number": mask_id_number(applicant.id_number),
            "age": engine.age_on(applicant.birth_date, day) if applicant.birth_date else None,
        },
        "product": applicant.product.code,
        "product_name": applicant.product.name,
        "product_names": dict(applicant.product.names),
        "dose_number": plan.dose_number,
        "dose_kind": plan.kind.value,
        "claimed_dose_number": applicant.dose_number,
        "earlier_doses": [dose.as_dict() for dose in plan.history.counted],
        "not_counted": [dose.as_dict() for dose in plan.history.ignored],
        "walk_in": applicant.walk_in,
        "booking_found_by_id": applicant.found_by_id,
        "booking_code": mask_code(applicant.booking.code) if applicant.booking else None,
        "history": history_view(applicant.history),
        "review": _reasons(decision.review),
        "notes": _reasons(decision.notes),
        "questions": [q.model_dump() for q in settings.questions],
        "booked_answers": booked_answers(settings, applicant.booking),
        "consent": settings.consent.model_dump(),
    }


def booked_answers(settings: Settings, booking: Booking | None) -> dict[str, bool] | None:
    """The booking app's answers when they cover every question the site asks, else None:
    the kiosk then shows them on one screen to confirm (check-in still receives all answers)."""
    if booking is None or not booking.answers or not settings.questions:
        return None
    given = dict(booking.answers)
    if any(q.id not in given for q in settings.questions):
        return None
    return {q.id: given[q.id] for q in settings.questions}


def found_by_id(request: CheckInRequest, visit: Visit) -> bool:
    """Whether a check-in sent as a walk-in was issued on the card's booking."""
    return request.walk_in is not None and visit.booking_code is not None


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
    day = open_day(tx.conn, settings, tx.site_id, tx.now)  # refused while closed
    applicant = identify(tx.conn, settings, tx.site_id, request, tx.now)
    _already_here(tx.conn, tx.site_id, day, applicant, tx.now)
    assessment = judge(tx.conn, settings, tx.site_id, applicant, tx.now)
    decision, plan = assessment.decision, assessment.plan
    if not decision.ok:
        raise refusal(decision)
    guardian = minor_guardian(settings, applicant, request, day, issuing=True)
    if guardian is not None:
        decision = decision + Decision((), guardian.review)
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
    if applicant.walk_in:
        repo.use_walk_in_place(tx.conn, tx.site_id, day)
    booking_code = applicant.booking.code if applicant.booking else None
    values: dict[str, Any] = {
        "site_id": tx.site_id,
        "site_day": day,
        "ticket": engine.format_ticket(lane, number),
        "lane": lane,
        "number": number,
        "state": VisitState.CHECKED_IN.value,
        "product": applicant.product.code,
        "dose_number": plan.dose_number,
        "dose_kind": plan.kind.value,
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
        "schedule_notes": json.dumps(_reasons(decision.notes), sort_keys=True)
        if decision.notes
        else None,
    }
    visit_id = repo.insert_visit(tx.conn, values)
    if guardian is not None or request.desk:
        guardian_store.record(
            tx,
            visit_id,
            id_source=request.id_source,
            entered_by=tx.actor if request.desk else None,
            guardian=guardian,
            consent_version=request.guardian.consent_version if request.guardian else None,
        )
    if booking_code is not None:
        repo.link_booking(tx.conn, tx.site_id, booking_code, visit_id)
    return repo.visit_from_values(visit_id, values)
