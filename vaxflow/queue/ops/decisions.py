"""A doctor's recorded, audited decision at the station: completing a series with another
manufacturer (switch.py).

A ticket issued with `manufacturer_switch_needs_doctor` cannot be dosed until a signed-in
staff member (station, marshal or admin) records the decision: approved, the dose is recorded
with the number the schedule decides when the switch is allowed; declined, the visit ends for
today (deferred, with the reason). The row keeps the reason text; the event (which the boards'
feed carries) names the staff member, both manufacturers and the outcome, never the reason
text or an ID number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vaxflow.config import Settings
from vaxflow.queue.core.errors import Invalid, Refused
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.model import AT_STATION_STATES, PRE_DOSE_STATES, Visit, VisitState
from vaxflow.queue.core.schedule import DosePlan, plan_dose
from vaxflow.queue.core.switch import DecisionKind, needs_decision, switch_of
from vaxflow.queue.ops import checkin
from vaxflow.queue.ops.visit_view import visit_payload, visit_view
from vaxflow.queue.store import Conn, repo
from vaxflow.queue.store.bookings import history_of_visit
from vaxflow.queue.store.decisions import DoctorDecision, decision_of, save_decision
from vaxflow.queue.store.writer import Tx

#: The audit event of a decision.
EVENT = EventKind.DOCTOR_DECISION
#: A declined switch ends the visit with this reason (then the doctor's words).
DECLINED = "manufacturer_switch_declined"


def review_codes(visit: Visit) -> list[str]:
    """The review reasons the visit was ticketed with."""
    codes = json.loads(visit.review_reasons or "[]")
    return [str(code) for code in codes]


def switch_plan(conn: Conn, settings: Settings, site_id: str, visit: Visit) -> DosePlan:
    """Today's dose of the visit's product from the person's whole history, the switch allowed."""
    product = settings.product(visit.product)
    if product is None:
        raise Invalid("unknown_product", f"This site does not give {visit.product}.")
    history = history_of_visit(
        conn,
        site_id,
        settings.site.timezone,
        visit_id=visit.id,
        id_number=visit.id_number,
        booking_code=visit.booking_code,
    )
    return plan_dose(
        settings,
        product,
        history,
        day=visit.site_day,
        birth_date=visit.birth_date,
        allow_switch=True,
    )


def pending(conn: Conn, settings: Settings, site_id: str, visit: Visit) -> dict[str, Any]:
    """For the station console: which decisions this visit waits for (both manufacturers
    named) and those already recorded."""
    needed = []
    for kind in needs_decision(review_codes(visit)):
        decided = decision_of(conn, site_id, visit.id, kind)
        if decided is not None:
            continue
        switch = switch_of(switch_plan(conn, settings, site_id, visit).decision.notes) or {}
        needed.append({"kind": kind.value, **switch})
    recorded = [
        d.as_dict()
        for kind in DecisionKind
        if (d := decision_of(conn, site_id, visit.id, kind)) is not None
    ]
    return {"needed": needed, "recorded": recorded}


def record(
    tx: Tx,
    settings: Settings,
    visit_id: int,
    kind: DecisionKind,
    approve: bool,
    reason: str,
    *,
    sees: Callable[[Visit], bool] = lambda _visit: False,
) -> dict[str, Any]:
    """Record the decision and its event; a declined switch ends the visit for today. The
    visit is answered in full only to a caller `sees` lets see it (the serving station)."""
    visit = repo.get_visit(tx.conn, tx.site_id, visit_id)
    if visit.state not in PRE_DOSE_STATES or kind not in needs_decision(review_codes(visit)):
        raise Refused(
            "decision_not_needed",
            f"Ticket {visit.ticket} waits for no {kind.value} decision.",
            ticket=visit.ticket,
            kind=kind.value,
        )
    earlier = decision_of(tx.conn, tx.site_id, visit.id, kind)
    if earlier is not None:
        raise Refused(
            "decision_already_recorded",
            f"The {kind.value} decision for ticket {visit.ticket} is recorded already.",
            ticket=visit.ticket,
            approve=earlier.approve,
            decided_by=earlier.decided_by,
        )
    plan = switch_plan(tx.conn, settings, tx.site_id, visit)
    switch = switch_of(plan.decision.notes)
    if switch is None:
        raise Refused(
            "decision_not_needed",
            f"Ticket {visit.ticket}'s dose is no longer another manufacturer's.",
            ticket=visit.ticket,
            kind=kind.value,
        )
    if approve and not plan.decision.ok:  # e.g. too soon: no doctor may allow that
        raise checkin.refusal(plan.decision)
    decision = DoctorDecision(
        visit.id,
        kind,
        approve,
        reason,
        switch.get("previous"),
        switch.get("booked"),
        plan.dose_number if approve else None,
        tx.actor,
        tx.now,
    )
    save_decision(tx.conn, tx.site_id, decision)
    tx.emit(
        EVENT,
        visit.id,
        {
            "ticket": visit.ticket,
            "kind": kind.value,
            "approve": approve,
            "staff_id": tx.actor.removeprefix("staff:"),
            "previous": decision.previous_manufacturer,
            "booked": decision.booked_manufacturer,
            "dose_number": decision.dose_number,
        },
    )
    if not approve:
        visit = _end(tx, settings, visit, f"{DECLINED}: {reason}")
    return {
        "decision": decision.as_dict(),
        "visit": visit_view(visit, settings, full_id=sees(visit)),
    }


def _end(tx: Tx, settings: Settings, visit: Visit, reason: str) -> Visit:
    """Defer the visit for today, freeing the station that holds it."""
    after = replace(visit, state=VisitState.DEFERRED, reason=reason, finished_at=tx.now)
    if visit.station_id is not None and visit.state in AT_STATION_STATES:
        station = repo.get_station(tx.conn, tx.site_id, visit.station_id)
        if station.visit_id == visit.id:
            repo.save_station(tx.conn, replace(station, visit_id=None))
    repo.save_visit(tx.conn, visit, after)
    tx.emit(EventKind.DEFERRED, after.id, visit_payload(after, settings))
    return after
