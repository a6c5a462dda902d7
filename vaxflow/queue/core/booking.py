"""A booking as every source delivers it, and the earlier doses it or our records know of."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

#: Where a dose record came from, most authoritative first (`history.merge_history` keeps it).
#: Who reported a dose, most authoritative first: this site's records, the region's (another
#: site's records, issue 16), the immunization registry, the booking service, the booking.
SOURCES = ("site", "region", "registry", "service", "booking")


@dataclass(frozen=True)
class PriorDose:
    """An earlier COVID-19 dose of any product, manufacturer or site, and who reported it.

    `dose_number` is what the source claimed, kept for the record only: the server counts
    doses from the whole history. `source` is one of `SOURCES`; after a merge, `also_from`
    names the other sources that reported the same dose.
    """

    given_on: date
    product: str
    manufacturer: str
    dose_number: int | None = None
    source: str = "booking"
    also_from: tuple[str, ...] = ()

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source that reported this dose, the one whose details are kept first."""
        return (self.source, *self.also_from)


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
    answers: tuple[tuple[str, bool], ...] = ()
    """The health questions answered in the booking app (question id, yes), if it asked them:
    the kiosk shows them on one screen to confirm instead of asking each again."""


def parse_answers(text: str) -> tuple[tuple[str, bool], ...]:
    """`fever=no;allergy=yes` to (("fever", False), ("allergy", True)); ValueError if bad."""
    answers: dict[str, bool] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        qid, _, said = item.partition("=")
        qid, said = qid.strip(), said.strip().lower()
        if not qid or not all(c.isascii() and (c.isalnum() or c == "_") for c in qid):
            raise ValueError(f"answers: {item!r} is not question_id=yes or question_id=no")
        if said not in ("yes", "no") or qid in answers:
            raise ValueError(f"answers: {item!r} is not question_id=yes or question_id=no once")
        answers[qid] = said == "yes"
    return tuple(answers.items())


def format_answers(answers: tuple[tuple[str, bool], ...]) -> str:
    """The `answers` column of a booking."""
    return ";".join(f"{qid}={'yes' if yes else 'no'}" for qid, yes in answers)
