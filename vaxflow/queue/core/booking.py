"""A booking as every source delivers it, and the earlier doses it or our records know of."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class PriorDose:
    """A dose the person already had (from the booking system or this site's records)."""

    given_on: date
    product: str
    manufacturer: str
    dose_number: int


@dataclass(frozen=True)
class Booking:
    """One booked visit: who, where, when, which vaccine and which dose of the series."""

    code: str
    person_name: str
    id_type: str
    id_number: str
    site_id: str
    visit_date: date
    product: str
    dose_number: int
    window_start: datetime | None = None
    window_end: datetime | None = None
    birth_date: date | None = None
    sex: str | None = None
    prior_doses: tuple[PriorDose, ...] = field(default=())
    source: str = "list"  # list | csv | qr | service | demo
