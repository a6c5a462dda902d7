"""Striking out a dose given in error (issue 15): one transaction for the mark, the event
and the registries' rows.

The dose row stays (who struck it, why, when): the registries hold the dose already and must
be told, under the same dose key, that it was entered in error (HL7 RXA-21 D, FHIR status
`entered-in-error`), so they update their record rather than add a second one. The site's
counts, exports and the schedule rules' dose history leave a struck dose out; its
certificate verifies as struck.
"""

from __future__ import annotations

from typing import Any

from vaxflow.config import Settings
from vaxflow.queue.core.errors import Refused
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.outbox import Action, dose_key
from vaxflow.queue.ops import outbox_rows
from vaxflow.queue.store import repo, views
from vaxflow.queue.store.writer import Tx


def strike_dose(tx: Tx, settings: Settings, visit_id: int, reason: str) -> dict[str, Any]:
    """Strike out the dose of a visit; refused when no dose was given or it is struck."""
    visit = repo.get_visit(tx.conn, tx.site_id, visit_id)  # NotFound for an unknown visit
    dose = views.dose_of_visit(tx.conn, tx.site_id, visit_id)
    if dose is None:
        raise Refused(
            "not_dosed_yet",
            f"Ticket {visit.ticket} has no dose recorded: there is nothing to strike out.",
            ticket=visit.ticket,
        )
    if dose.struck_at is not None:
        raise Refused(
            "dose_already_struck",
            f"The dose of ticket {visit.ticket} was already struck out.",
            ticket=visit.ticket,
            struck_at=dose.struck_at.isoformat(),
            struck_by=dose.struck_by,
        )
    repo.strike_dose(tx.conn, tx.site_id, dose.id, tx.now, tx.actor, reason)
    key = dose_key(tx.site_id, dose.id)
    tx.emit(
        EventKind.DOSE_STRUCK,
        visit_id,
        {
            "ticket": visit.ticket,
            "dose": key,
            "product": dose.product,
            "lot": dose.lot,
            "dose_number": dose.dose_number,
            "reason": reason,
        },
    )
    outbox_rows.dose_changed(tx, settings, visit_id, Action.DELETE)
    return {
        "visit_id": visit_id,
        "ticket": visit.ticket,
        "dose": key,
        "product": dose.product,
        "lot": dose.lot,
        "dose_number": dose.dose_number,
        "struck_at": tx.now.isoformat(),
        "struck_by": tx.actor,
        "reason": reason,
    }
