"""The `visit_identity` rows: a desk-typed number's source and a minor's guardian, and their views.

Written in the check-in's transaction, with an audit event that never holds a full ID number.
Views mask the guardian's number everywhere, the verifying station's too; only the store
keeps it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.guardians import RELATION_WORDS, Guardian, IdSource, Relation
from vaxflow.queue.core.privacy import mask_id_number, mask_name
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.writer import Tx


@dataclass(frozen=True)
class VisitIdentity:
    """One visit's row: where the number came from, who typed it, the guardian if any."""

    visit_id: int
    id_source: IdSource
    entered_by: str | None = None
    guardian_id_type: str | None = None
    guardian_id_number: str | None = None
    guardian_name: str | None = None
    guardian_birth_date: date | None = None
    guardian_relation: str | None = None
    guardian_consent_version: str | None = None
    consented_at: datetime | None = None

    def guardian_view(self) -> dict[str, Any] | None:
        """The guardian as staff consoles show them: name, relation, masked number."""
        if self.guardian_id_number is None or self.guardian_relation is None:
            return None
        relation = Relation(self.guardian_relation)
        return {
            "name": self.guardian_name,
            "id_type": self.guardian_id_type,
            "id_number": mask_id_number(self.guardian_id_number),
            "relation": relation.value,
            "relation_text": RELATION_WORDS[relation],
            "consent_version": self.guardian_consent_version,
        }


def record(
    tx: Tx,
    visit_id: int,
    *,
    id_source: IdSource,
    entered_by: str | None,
    guardian: Guardian | None,
    consent_version: str | None,
) -> None:
    """Store how the person was identified and who consented, with the audit events."""
    values: dict[str, Any] = {
        "visit_id": visit_id,
        "site_id": tx.site_id,
        "id_source": id_source.value,
        "entered_by": entered_by,
    }
    if guardian is not None:
        values.update(
            guardian_id_type=guardian.id_type,
            guardian_id_number=guardian.id_number,
            guardian_name=guardian.name,
            guardian_birth_date=guardian.birth_date,
            guardian_relation=guardian.relation.value,
            guardian_consent_version=consent_version,
            consented_at=tx.now,
        )
    tx.conn.execute(insert(t.visit_identity).values(**values))
    if entered_by is not None:
        tx.emit(EventKind.ID_ENTERED_AT_DESK, visit_id, {"id_source": id_source.value})
    if guardian is not None:
        tx.emit(
            EventKind.GUARDIAN_CONSENTED,
            visit_id,
            {
                "relation": guardian.relation.value,
                "consent_version": consent_version,
                "guardian_id_type": guardian.id_type,
                "guardian_id_number": mask_id_number(guardian.id_number),
                "guardian_name": mask_name(guardian.name),
            },
        )


def identity_of(conn: Connection, site_id: str, visit_id: int) -> VisitIdentity | None:
    """The visit's row, or None when the person came with their own card and no guardian."""
    v = t.visit_identity
    row = conn.execute(select(v).where(v.c.site_id == site_id, v.c.visit_id == visit_id)).first()
    if row is None:
        return None
    data = row._asdict()
    data.pop("site_id")
    data["id_source"] = IdSource(data["id_source"])
    return VisitIdentity(**data)
