"""Doctors' recorded decisions (a switch of manufacturer) in the store: read and write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from vaxflow.queue.core.switch import DecisionKind
from vaxflow.queue.store import tables as t


@dataclass(frozen=True)
class DoctorDecision:
    """One recorded decision."""

    visit_id: int
    kind: DecisionKind
    approve: bool
    reason: str
    previous_manufacturer: str | None
    booked_manufacturer: str | None
    dose_number: int | None
    decided_by: str
    decided_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "approve": self.approve,
            "reason": self.reason,
            "previous": self.previous_manufacturer,
            "booked": self.booked_manufacturer,
            "dose_number": self.dose_number,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat(),
        }


def decision_of(
    conn: Connection, site_id: str, visit_id: int, kind: DecisionKind
) -> DoctorDecision | None:
    """The recorded decision of this kind for the visit, if any."""
    d = t.doctor_decisions
    row = conn.execute(
        select(d).where(d.c.site_id == site_id, d.c.visit_id == visit_id, d.c.kind == kind.value)
    ).first()
    if row is None:
        return None
    data = row._asdict()
    data.pop("site_id")
    data["kind"] = DecisionKind(data["kind"])
    return DoctorDecision(**data)


def save_decision(conn: Connection, site_id: str, decision: DoctorDecision) -> None:
    """Insert one decision row (one per visit and kind: the key refuses a second)."""
    conn.execute(
        insert(t.doctor_decisions).values(
            site_id=site_id,
            **{k: v for k, v in decision.__dict__.items() if k != "kind"},
            kind=decision.kind.value,
        )
    )
