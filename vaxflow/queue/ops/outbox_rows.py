"""Outbox rows written in the transaction of the change they report (issue 15).

Each function is called from an operation, with its `Tx`, so the row commits with the dose,
the reaction, the check-in (or is rolled back with it): a change nobody will hear of, or a
record sent for a change that never happened, cannot exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vaxflow.config import Settings
from vaxflow.queue.core.outbox import (
    REGISTRIES,
    Action,
    Kind,
    OutboxState,
    Target,
    booking_key,
    dose_key,
    overdue,
)
from vaxflow.queue.store import Conn, outbox
from vaxflow.queue.store.writer import Tx


def registry_targets(settings: Settings) -> tuple[Target, ...]:
    """The registries this site sends doses to."""
    configured = {Target.FHIR: settings.uplink.fhir, Target.HL7: settings.uplink.hl7}
    return tuple(target for target in REGISTRIES if configured[target] is not None)


def writes_off(settings: Settings) -> bool:
    """Whether the booking service is told about its bookings."""
    return settings.uplink.booking_writeoff and settings.booking.service_url is not None


def dose_changed(tx: Tx, settings: Settings, visit_id: int, action: Action) -> None:
    """A dose was given (ADD), changed (a reaction flagged or resolved: UPDATE) or struck out
    (DELETE): one row per registry. An update of a dose not yet in the outbox is its ADD."""
    targets = registry_targets(settings)
    if not targets:
        return
    dose_id = outbox.dose_id_of_visit(tx.conn, visit_id)
    if dose_id is None:
        return  # a reaction before any dose (flagged at the station): nothing to report
    if action is Action.UPDATE and not outbox.dose_rows_sent(tx.conn, tx.site_id, dose_id):
        action = Action.ADD
    for target in targets:
        outbox.enqueue(
            tx.conn,
            tx.site_id,
            tx.now,
            target=target,
            kind=Kind.DOSE,
            record_key=dose_key(tx.site_id, dose_id),
            action=action,
            visit_id=visit_id,
            dose_id=dose_id,
        )


def booking_event(
    tx: Tx, settings: Settings, code: str | None, kind: Kind, visit_id: int | None = None
) -> None:
    """Tell the booking service (once per booking and kind) that a booking was used at
    check-in, that its dose was given, or that nobody came by the end of its window."""
    if code is None or not writes_off(settings):
        return
    key = booking_key(kind, code)
    if outbox.has_row(tx.conn, tx.site_id, key):
        return
    outbox.enqueue(
        tx.conn,
        tx.site_id,
        tx.now,
        target=Target.BOOKING,
        kind=kind,
        record_key=key,
        visit_id=visit_id,
        booking_code=code,
    )


def sweep_no_shows(tx: Tx, settings: Settings) -> int:
    """Write off the bookings whose window ended with nobody checked in; how many."""
    if not writes_off(settings):
        return 0
    codes = outbox.bookings_past_window(tx.conn, tx.site_id, tx.now)
    for code in codes:
        booking_event(tx, settings, code, Kind.BOOKING_NO_SHOW)
    return len(codes)


def backlog(conn: Conn, settings: Settings, site_id: str, now: datetime) -> dict[str, Any]:
    """The marshal's uplink figures: per target pending, sent, needs fixing, the oldest
    pending row's age, and whether it is past the alert (well before the registry's limit)."""
    rules = settings.uplink
    targets = {}
    alerts = []
    for target, figures in sorted(outbox.summary(conn, site_id).items()):
        oldest = figures["oldest_pending"]
        age = None if oldest is None else round((now - oldest).total_seconds() / 60, 1)
        late = oldest is not None and overdue(oldest, now, rules.alert_after_hours)
        targets[target] = {
            "pending": figures[OutboxState.PENDING.value],
            "sent": figures[OutboxState.SENT.value],
            "needs_fixing": figures[OutboxState.NEEDS_FIXING.value],
            "oldest_pending_minutes": age,
            "past_alert": late,
        }
        if late or figures[OutboxState.NEEDS_FIXING.value]:
            alerts.append({"target": target, **targets[target]})
    return {
        "targets": targets,
        "deadline_hours": rules.deadline_hours,
        "alert_after_hours": rules.alert_after_hours,
        "alerts": alerts,
        "needs_fixing": [
            row.to_json() for row in outbox.rows(conn, site_id, OutboxState.NEEDS_FIXING, 50)
        ],
    }
