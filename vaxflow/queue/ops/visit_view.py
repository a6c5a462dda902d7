"""How a visit is shown: the masked payload boards and the feed see, and the API's view.

Pure (no store): the writes (service.py, decisions.py) and the read views (boards.py) all
answer with these, so they live apart from both.
"""

from __future__ import annotations

import json
from typing import Any

from vaxflow.config import Settings
from vaxflow.queue.core import engine, reasons, ticket_code
from vaxflow.queue.core.identity import note_of
from vaxflow.queue.core.model import Visit
from vaxflow.queue.core.privacy import mask_id_number, mask_name


def visit_payload(visit: Visit, settings: Settings) -> dict[str, Any]:
    """What boards and the event feed may know about a visit: masked, no ID number."""
    station = settings.station(visit.station_id) if visit.station_id else None
    return {
        "visit_id": visit.id,
        "ticket": visit.ticket,
        "lane": visit.lane,
        "state": visit.state.value,
        "product": visit.product,
        "name": mask_name(visit.person_name),
        "station_id": visit.station_id,
        "station_name": station.name if station else None,
        "zone": station.zone if station else None,
        "station_names": dict(station.names) if station else {},
        "zone_names": dict(station.zone_names) if station else {},
        "call_count": visit.call_count,
        "ends_at": visit.observation_ends_at.isoformat() if visit.observation_ends_at else None,
        "adverse_open": visit.adverse_open,
        "print_failed": visit.print_failed,
    }


def visit_view(visit: Visit, settings: Settings, *, full_id: bool = False) -> dict[str, Any]:
    """A visit for API answers; the full ID number only for the verifying station."""
    view = visit_payload(visit, settings)
    view.update(
        site_day=visit.site_day.isoformat(),
        dose_number=visit.dose_number,
        dose_kind=visit.dose_kind,
        walk_in=visit.walk_in,
        checked_in_at=visit.checked_in_at.isoformat(),
        id_number=visit.id_number if full_id else mask_id_number(visit.id_number),
        age=engine.age_on(visit.birth_date, visit.site_day) if visit.birth_date else None,
        dosed_at=visit.dosed_at.isoformat() if visit.dosed_at else None,
        finished_at=visit.finished_at.isoformat() if visit.finished_at else None,
        reason=visit.reason,
        qr=ticket_code.encode(visit.site_id, visit.site_day, visit.ticket),
    )
    if full_id:  # the verifying station also sees the health answers and why a doctor is needed
        view.update(
            screening=json.loads(visit.screening) if visit.screening else {},
            review_reasons=json.loads(visit.review_reasons) if visit.review_reasons else [],
            schedule_notes=json.loads(visit.schedule_notes) if visit.schedule_notes else [],
            consent_version=visit.consent_version,
            id_note=_id_note(visit),
        )
    return view


def _id_note(visit: Visit) -> dict[str, Any] | None:
    """A remark on the document for the station (a region code not in the current list)."""
    note = note_of(visit.id_type, visit.id_number)
    if note is None:
        return None
    return {"code": note.code, **note.params, **reasons.describe(note.code, note.params, "")}


def reaction_view(row: Any) -> dict[str, Any] | None:
    """An open reaction (a `views.open_adverse` row) as boards and consoles show it: kind,
    severity and when it was flagged; None without one."""
    if row is None:
        return None
    return {"kind": row.kind, "severity": row.severity, "flagged_at": row.flagged_at.isoformat()}
