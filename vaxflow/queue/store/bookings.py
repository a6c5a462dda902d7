"""Bookings in the store: look-up, upsert of a booking met at check-in, and CSV imports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, insert, select, update

from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.history import merge_history
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.prepared import Prepared
from vaxflow.queue.store.writer import Tx


def booking_from_row(row: Any) -> Booking:
    prior = tuple(
        PriorDose(
            date.fromisoformat(d["given_on"]),
            d["product"],
            d["manufacturer"],
            d.get("dose_number"),
            d.get("source", "booking"),
        )
        for d in json.loads(row.prior_doses or "[]")
    )
    return Booking(
        code=row.code,
        person_name=row.person_name,
        id_type=row.id_type,
        id_number=row.id_number,
        site_id=row.site_id,
        visit_date=row.visit_date,
        product=row.product,
        dose_number=row.dose_number,
        window_start=row.window_start,
        window_end=row.window_end,
        birth_date=row.birth_date,
        sex=row.sex,
        prior_doses=prior,
        source=row.source or "list",
        answers=tuple((str(k), bool(v)) for k, v in json.loads(row.answers or "{}").items()),
    )


def _values(booking: Booking) -> dict[str, Any]:
    return {
        "site_id": booking.site_id,
        "code": booking.code,
        "person_name": booking.person_name,
        "id_type": booking.id_type,
        "id_number": booking.id_number,
        "birth_date": booking.birth_date,
        "sex": booking.sex,
        "product": booking.product,
        "dose_number": booking.dose_number,
        "visit_date": booking.visit_date,
        "window_start": booking.window_start,
        "window_end": booking.window_end,
        "prior_doses": json.dumps(
            [
                {
                    "given_on": d.given_on.isoformat(),
                    "product": d.product,
                    "manufacturer": d.manufacturer,
                    "dose_number": d.dose_number,
                    "source": d.source,
                }
                for d in booking.prior_doses
            ]
        ),
        "source": booking.source,
        "answers": json.dumps(dict(booking.answers)) if booking.answers else None,
    }


def find_booking(conn: Connection, site_id: str, code: str) -> Booking | None:
    row = _FIND_BOOKING.first(conn, {"site_id": site_id, "code": code})
    return booking_from_row(row) if row is not None else None


def remember_booking(tx: Tx, booking: Booking) -> None:
    """Keep a booking met at check-in (signed QR, booking service) so one code is one ticket."""
    if find_booking(tx.conn, booking.site_id, booking.code) is None:
        tx.conn.execute(insert(t.bookings).values(**_values(booking), created_at=tx.now))


def _same(existing: Booking, new: Booking) -> bool:
    return _values(existing) == _values(new)


@dataclass
class ImportResult:
    """What an import did: new bookings, identical ones skipped, and codes that clash."""

    added: int = 0
    unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)


def import_bookings(
    tx: Tx, bookings: Sequence[Booking], *, replace_conflicts: bool = False
) -> ImportResult:
    """Add bookings; re-importing the same rows changes nothing; a changed row is a conflict."""
    result = ImportResult()
    codes = [b.code for b in bookings]
    existing: dict[str, Booking] = {}
    for start in range(0, len(codes), 500):
        rows = tx.conn.execute(
            select(t.bookings).where(
                t.bookings.c.site_id == tx.site_id,
                t.bookings.c.code.in_(codes[start : start + 500]),
            )
        )
        existing.update({row.code: booking_from_row(row) for row in rows})
    new_rows = []
    for booking in bookings:
        old = existing.get(booking.code)
        if old is None:
            new_rows.append({**_values(booking), "created_at": tx.now})
        elif _same(old, booking):
            result.unchanged += 1
        elif replace_conflicts:
            tx.conn.execute(
                update(t.bookings)
                .where(t.bookings.c.site_id == tx.site_id, t.bookings.c.code == booking.code)
                .values(**_values(booking))
            )
            result.added += 1
        else:
            result.conflicts.append(booking.code)
    if result.conflicts:
        return result
    if new_rows:
        tx.conn.execute(insert(t.bookings), new_rows)
    result.added += len(new_rows)
    if result.added:
        tx.emit(
            EventKind.BOOKINGS_IMPORTED,
            None,
            {"added": result.added, "unchanged": result.unchanged},
        )
    return result


_PRIOR_DOSES = Prepared(
    select(
        t.doses.c.given_at,
        t.doses.c.product,
        t.doses.c.manufacturer,
        t.doses.c.dose_number,
        t.doses.c.visit_id,
    )
    .join(t.visits, t.visits.c.id == t.doses.c.visit_id)
    .where(t.visits.c.id_number == bindparam("id_number"), t.doses.c.struck_at.is_(None))
    .order_by(t.doses.c.given_at)
)
_BOOKINGS_OF_PERSON = Prepared(
    select(t.bookings).where(
        t.bookings.c.site_id == bindparam("site_id"),
        t.bookings.c.id_number == bindparam("id_number"),
        t.bookings.c.visit_date == bindparam("visit_date"),
    )
)
_FIND_BOOKING = Prepared(
    select(t.bookings).where(
        t.bookings.c.site_id == bindparam("site_id"), t.bookings.c.code == bindparam("code")
    )
)


def prior_doses_here(
    conn: Connection, id_number: str, timezone: str, *, besides_visit: int | None = None
) -> list[PriorDose]:
    """Doses this database already holds for the person (any site of a regional database),
    leaving out the dose of `besides_visit` (the visit being verified)."""
    zone = ZoneInfo(timezone)
    rows = _PRIOR_DOSES.rows(conn, {"id_number": id_number})
    return [
        PriorDose(
            r.given_at.astimezone(zone).date(), r.product, r.manufacturer, r.dose_number, "site"
        )
        for r in rows
        if r.visit_id != besides_visit
    ]


def bookings_of_person(conn: Connection, site_id: str, id_number: str, day: date) -> list[Booking]:
    """The person's bookings at this site for `day`, unused ones first (card-only check-in)."""
    rows = _BOOKINGS_OF_PERSON.rows(
        conn, {"site_id": site_id, "id_number": id_number, "visit_date": day}
    )
    ordered = sorted(rows, key=lambda r: (r.visit_id is not None, r.code))
    return [booking_from_row(r) for r in ordered]


def history_of_visit(
    conn: Connection,
    site_id: str,
    timezone: str,
    *,
    visit_id: int,
    id_number: str,
    booking_code: str | None,
) -> tuple[PriorDose, ...]:
    """A checked-in person's earlier doses as check-in merged them: booking data and records
    (the visit's own dose, once recorded, is not an earlier one)."""
    booking = find_booking(conn, site_id, booking_code) if booking_code else None
    reported = booking.prior_doses if booking is not None else ()
    here = prior_doses_here(conn, id_number, timezone, besides_visit=visit_id)
    return merge_history(reported, here)
