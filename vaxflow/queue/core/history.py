"""A person's earlier doses from every source: the text form, and one merged history.

Text form (the booking CSV's `prior_doses` column, the signed booking QR): items
``YYYY-MM-DD:PRODUCT:MANUFACTURER`` separated by ``;``, e.g.
``2021-03-01:CORONAVAC:Sinovac;2021-03-29:CORONAVAC:Sinovac``. The product may not hold
``:`` or ``;``; the manufacturer is everything after the second ``:`` (it may hold spaces and
``:``, never ``;``). ``DATE:PRODUCT`` alone is allowed for a product this site gives (its
manufacturer comes from the site file). Spaces around items and fields are ignored. No escaping.

Merging: the same day and the same manufacturer (compared case-, width- and space-insensitively)
is one dose. The merged dose keeps the details of its most authoritative report
(site > registry > service > booking) and names every source that reported it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from vaxflow.queue.core.booking import SOURCES, PriorDose

#: More earlier doses than this in one history is a data error, not a person.
MAX_DOSES = 10
MAX_PRODUCT = 40
MAX_MANUFACTURER = 100
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BadHistory(ValueError):
    """A history text that cannot be taken as it is; the message says which item and why."""


def manufacturer_key(name: str) -> str:
    """A manufacturer's name compared across sources: NFKC, case-folded, without spaces."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


def same_dose_key(dose: PriorDose) -> tuple[date, str]:
    """Two reports of one dose share the day and the manufacturer."""
    return dose.given_on, manufacturer_key(dose.manufacturer)


def _rank(source: str) -> int:
    return SOURCES.index(source) if source in SOURCES else len(SOURCES)


def _authority(dose: PriorDose) -> tuple[Any, ...]:
    """Most authoritative first; the rest only make the choice independent of order."""
    return (
        _rank(dose.source),
        dose.source,
        dose.product,
        dose.manufacturer,
        dose.dose_number or 0,
        dose.also_from,
    )


def merge_history(*sources: Iterable[PriorDose]) -> tuple[PriorDose, ...]:
    """One dose per (day, manufacturer), oldest first, whatever the order of sources or doses."""
    groups: dict[tuple[date, str], list[PriorDose]] = {}
    for source in sources:
        for dose in source:
            groups.setdefault(same_dose_key(dose), []).append(dose)
    merged = []
    for reports in groups.values():
        best = min(reports, key=_authority)
        others = {s for r in reports for s in r.sources} - {best.source}
        merged.append(
            PriorDose(
                best.given_on,
                best.product,
                best.manufacturer,
                best.dose_number,
                best.source,
                tuple(sorted(others, key=lambda s: (_rank(s), s))),
            )
        )
    return tuple(sorted(merged, key=lambda d: (same_dose_key(d), _authority(d))))


def parse_history(
    text: str,
    *,
    visit_date: date,
    today: date | None = None,
    source: str = "booking",
    manufacturer_of: Callable[[str], str | None] = lambda _product: None,
) -> tuple[PriorDose, ...]:
    """The text form to doses, each before the visit day and not after today (when known).

    Raises BadHistory naming the item (1-based) and the reason: a bad or future date, an empty
    product or manufacturer, the same dose twice, or more than MAX_DOSES items.
    """
    items = [item.strip() for item in text.split(";")]
    if items and not items[-1]:
        items.pop()  # a trailing ';' is harmless
    if len(items) > MAX_DOSES:
        raise BadHistory(f"more than {MAX_DOSES} earlier doses ({len(items)})")
    doses: list[PriorDose] = []
    seen: dict[tuple[date, str], int] = {}
    for n, item in enumerate(items, start=1):
        where = f"earlier dose {n}"
        if not item:
            raise BadHistory(f"{where} is empty")
        parts = [p.strip() for p in item.split(":", 2)]
        try:
            if not _DATE.fullmatch(parts[0]):
                raise ValueError(parts[0])
            given_on = date.fromisoformat(parts[0])
        except ValueError:
            raise BadHistory(f"{where}: {parts[0]!r} is not a date like 2021-04-01") from None
        if today is not None and given_on > today:
            raise BadHistory(f"{where}: {given_on} is in the future")
        if given_on >= visit_date:
            raise BadHistory(f"{where}: {given_on} is not before the visit date {visit_date}")
        product = parts[1] if len(parts) > 1 else ""
        if not product:
            raise BadHistory(f"{where}: the product is empty")
        if len(product) > MAX_PRODUCT:
            raise BadHistory(f"{where}: the product is longer than {MAX_PRODUCT} characters")
        manufacturer = parts[2] if len(parts) > 2 else ""
        if not manufacturer:
            manufacturer = manufacturer_of(product) or ""
            if not manufacturer:
                raise BadHistory(
                    f"{where}: the manufacturer is empty and {product} "
                    "is not in the site file's [[products]]"
                )
        if len(manufacturer) > MAX_MANUFACTURER:
            raise BadHistory(
                f"{where}: the manufacturer is longer than {MAX_MANUFACTURER} characters"
            )
        dose = PriorDose(given_on, product, manufacturer, None, source)
        key = same_dose_key(dose)
        if key in seen:
            raise BadHistory(f"{where} repeats earlier dose {seen[key]}")
        seen[key] = n
        doses.append(dose)
    return tuple(doses)


def format_history(doses: Iterable[PriorDose]) -> str:
    """Doses in the text form (`parse_history` reads it back)."""
    out = []
    for d in doses:
        if ";" in d.product + d.manufacturer or ":" in d.product:
            raise ValueError(f"{d.product}/{d.manufacturer}: ';' or ':' cannot be written")
        out.append(f"{d.given_on.isoformat()}:{d.product}:{d.manufacturer}")
    return ";".join(out)


def history_view(doses: Iterable[PriorDose]) -> list[dict[str, Any]]:
    """The history as API answers show it: which source(s) reported each dose."""
    return [
        {
            "date": d.given_on.isoformat(),
            "product": d.product,
            "manufacturer": d.manufacturer,
            "source": d.source,
            "sources": list(d.sources),
        }
        for d in doses
    ]
