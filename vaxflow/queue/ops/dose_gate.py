"""What must be settled before a dose is recorded, and before a desk-confirmed birth date
makes a ticket a minor's.

At the station: a passport holder whose birth date staff never confirmed has had no age check
(`birth_date_unconfirmed`: the desk confirms first), and a switch of manufacturer waits for a
doctor's decision (`doctor_decision_required`); once approved, the dose number is the one the
schedule decides with the switch allowed. At the desk: a confirmed birth date that makes the
person a minor needs a guardian, which a ticket issued without one does not have.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from vaxflow.config import Settings
from vaxflow.queue.core.errors import Refused
from vaxflow.queue.core.guardians import ADULT_AGE, is_minor
from vaxflow.queue.core.model import Visit, VisitState
from vaxflow.queue.core.switch import needs_decision, switch_of
from vaxflow.queue.ops import checkin
from vaxflow.queue.ops.decisions import review_codes, switch_plan
from vaxflow.queue.store import Conn
from vaxflow.queue.store.decisions import decision_of
from vaxflow.queue.store.guardians import identity_of
from vaxflow.queue.store.writer import Tx


def before_dose(tx: Tx, settings: Settings, visit: Visit) -> Visit:
    """The visit as its dose may be recorded, or the reason it may not be yet. A visit that is
    not in service (ended, declined) is left to the engine's own refusal."""
    if visit.state is not VisitState.IN_SERVICE:
        return visit
    codes = review_codes(visit)
    if "birth_date_unconfirmed" in codes or visit.birth_date is None:
        raise Refused(
            "birth_date_unconfirmed",
            f"Ticket {visit.ticket}: the birth date has not been confirmed at the desk.",
            ticket=visit.ticket,
        )
    for kind in needs_decision(codes):
        decided = decision_of(tx.conn, tx.site_id, visit.id, kind)
        plan = switch_plan(tx.conn, settings, tx.site_id, visit)
        if decided is None or not decided.approve:
            switch = switch_of(plan.decision.notes) or {}
            raise Refused(
                "doctor_decision_required",
                f"Ticket {visit.ticket}: a doctor must decide on another manufacturer first.",
                ticket=visit.ticket,
                kind=kind.value,
                previous=switch.get("previous"),
                booked=switch.get("booked"),
            )
        if not plan.decision.ok:
            raise checkin.refusal(plan.decision)
        visit = replace(visit, dose_number=plan.dose_number, dose_kind=plan.kind.value)
    return visit


def guardian_for_minor(conn: Conn, site_id: str, visit: Visit, born: date) -> None:
    """A birth date confirmed at the desk that makes the person a minor: the ticket must have
    a guardian's consent, else the child is checked in again with the guardian."""
    if not is_minor(born, visit.site_day):
        return
    identity = identity_of(conn, site_id, visit.id)
    if identity is None or identity.guardian_name is None:
        raise Refused(
            "guardian_required",
            f"Ticket {visit.ticket} is a minor's: cancel it and check the child in again "
            "with the guardian.",
            ticket=visit.ticket,
            adult_age=ADULT_AGE,
            check_in_again=True,
        )
