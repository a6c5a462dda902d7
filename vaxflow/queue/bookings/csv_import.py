"""The day's bookings from a CSV file: every row checked first, then all imported or none.

Columns (header row required, UTF-8, optional BOM): code, name, id_type, id_number,
visit_date (YYYY-MM-DD; may be left out with --site-day), window_start and window_end
(HH:MM, site time; optional), product, dose_number, and optionally sex, birth_date and the
person's earlier doses:

- prior_doses: every earlier COVID-19 dose, any product or manufacturer, as items
  ``YYYY-MM-DD:PRODUCT:MANUFACTURER`` separated by ``;`` (``history.py`` has the exact form:
  the manufacturer may hold spaces; ``DATE:PRODUCT`` suffices for a product given here);
- prior_dose_date, prior_product, prior_manufacturer: the older three-column form of one
  earlier dose, still read; when it names a dose also in prior_doses it is that dose;
- answers: the health questions answered in the booking app, ``question_id=yes|no`` items
  separated by ``;`` (the kiosk shows them on one screen to confirm).

A history is refused with the row's line and why: a bad date, a date after today or not
before the visit date, an empty product, the same dose twice, more than ten doses.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from vaxflow.config import Product, Settings
from vaxflow.queue.core.booking import Booking, PriorDose, format_answers, parse_answers
from vaxflow.queue.core.errors import QueueError
from vaxflow.queue.core.history import MAX_DOSES as MAX_HISTORY_DOSES
from vaxflow.queue.core.history import BadHistory, format_history, manufacturer_key, parse_history
from vaxflow.queue.core.identity import IdType, normalise_name, parse_id_type, validate_id

REQUIRED = ("code", "name", "id_type", "id_number", "product", "dose_number")
OPTIONAL = (
    "visit_date",
    "window_start",
    "window_end",
    "sex",
    "birth_date",
    "prior_dose_date",
    "prior_product",
    "prior_manufacturer",
    "prior_doses",
    "answers",
)
MAX_FIELD = 200
#: The history column holds up to ten doses, each up to a date, a product and a manufacturer.
MAX_HISTORY_FIELD = 2000


@dataclass(frozen=True)
class RowProblem:
    """One bad row: its line in the file, its code if readable, and why."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f" ({self.code})" if self.code else "") + f": {self.message}"


@dataclass
class CsvCheck:
    """The result of checking a file: the good bookings and every bad row."""

    bookings: list[Booking] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


class BadFile(ValueError):
    """The file itself cannot be read as a bookings CSV (encoding, header)."""


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BadFile(f"the header lacks column(s): {', '.join(missing)}")
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if unknown:
        raise BadFile(f"unknown column(s): {', '.join(unknown)}")
    reader.fieldnames = header
    for row in reader:
        if None in row:  # more fields than the header names
            yield reader.line_num, {"__extra__": "x"}
            continue
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}


def _clock(text: str, day: date, zone: ZoneInfo, column: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a time like 09:30") from None
    return datetime.combine(day, moment, zone)


def _day(text: str, column: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a date like 2021-04-01") from None


def _manufacturer_of(settings: Settings) -> Callable[[str], str | None]:
    def manufacturer(code: str) -> str | None:
        product = settings.product(code)
        return product.manufacturer if product is not None else None

    return manufacturer


def _history(
    row: dict[str, str], settings: Settings, visit_date: date, today: date | None
) -> tuple[PriorDose, ...]:
    """The row's earlier doses: the prior_doses list, and the older one-dose columns."""
    try:
        doses = parse_history(
            row.get("prior_doses", ""),
            visit_date=visit_date,
            today=today,
            manufacturer_of=_manufacturer_of(settings),
        )
    except BadHistory as err:
        raise ValueError(f"prior_doses: {err}") from None
    if not row.get("prior_dose_date"):
        return doses
    product = row.get("prior_product") or row["product"]
    manufacturer = row.get("prior_manufacturer") or _manufacturer_of(settings)(product)
    if not manufacturer:
        raise ValueError(
            f"prior_manufacturer is empty and {product} is not in the site file's [[products]]"
        )
    if ";" in product + manufacturer or ":" in product:
        raise ValueError("prior_product/prior_manufacturer may not hold ';' (or ':' in a product)")
    try:
        (legacy,) = parse_history(
            f"{row['prior_dose_date']}:{product}:{manufacturer}",
            visit_date=visit_date,
            today=today,
        )
    except BadHistory as err:
        raise ValueError(f"prior_dose_date: {str(err).split(': ', 1)[-1]}") from None
    if any(d.given_on == legacy.given_on for d in doses if _same_maker(d, legacy)):
        return doses  # the same dose in both forms: one dose
    if len(doses) >= MAX_HISTORY_DOSES:
        raise ValueError(f"prior_doses: more than {MAX_HISTORY_DOSES} earlier doses")
    return (*doses, legacy)


def _same_maker(a: PriorDose, b: PriorDose) -> bool:
    return manufacturer_key(a.manufacturer) == manufacturer_key(b.manufacturer)


def parse_row(
    row: dict[str, str], settings: Settings, site_day: date | None, today: date | None = None
) -> Booking:
    """One row to a booking, or ValueError/QueueError with a sentence saying what is wrong."""
    if "__extra__" in row:
        raise ValueError("the row has more fields than the header")
    if len(row.get("prior_doses", "")) > MAX_HISTORY_FIELD:
        raise ValueError(f"prior_doses is longer than {MAX_HISTORY_FIELD} characters")
    if any(len(v) > MAX_FIELD for k, v in row.items() if k != "prior_doses"):
        raise ValueError(f"a field is longer than {MAX_FIELD} characters")
    for column in REQUIRED:
        if not row.get(column):
            raise ValueError(f"{column} is empty")
    code = row["code"]
    if not code.replace("-", "").replace("_", "").isalnum() or not code.isascii() or len(code) > 64:
        raise ValueError(f"code {code!r} may only hold letters, digits, - and _")
    id_type = parse_id_type(row["id_type"])
    document = validate_id(id_type, row["id_number"])
    product = settings.product(row["product"])
    if product is None:
        raise ValueError(f"product {row['product']!r} is not given at this site")
    try:
        dose_number = int(row["dose_number"])
    except ValueError:
        raise ValueError(f"dose_number {row['dose_number']!r} is not a number") from None
    highest = highest_dose(settings, product)
    if not 1 <= dose_number <= highest:
        raise ValueError(f"dose_number {dose_number} is outside 1..{highest} for {product.code}")
    if row.get("visit_date"):
        visit_date = _day(row["visit_date"], "visit_date")
        if site_day is not None and visit_date != site_day:
            raise ValueError(f"booked for {visit_date}, not the imported day {site_day}")
    elif site_day is not None:
        visit_date = site_day
    else:
        raise ValueError("visit_date is empty (or give --site-day)")
    zone = ZoneInfo(settings.site.timezone)
    start = _clock(row.get("window_start", ""), visit_date, zone, "window_start")
    end = _clock(row.get("window_end", ""), visit_date, zone, "window_end")
    if (start is None) != (end is None):
        raise ValueError("give both window_start and window_end, or neither")
    if start is not None and end is not None and end <= start:
        raise ValueError("window_end is not after window_start")
    birth = _day(row["birth_date"], "birth_date") if row.get("birth_date") else document.birth_date
    if document.birth_date and birth != document.birth_date:
        raise ValueError("birth_date differs from the birth date in the ID number")
    sex = row.get("sex") or None
    if sex not in (None, "male", "female", "unknown"):
        raise ValueError(f"sex {sex!r} is not male, female or unknown")
    legacy = row.get("prior_product") or row.get("prior_manufacturer")
    if legacy and not row.get("prior_dose_date"):
        raise ValueError("prior_product/prior_manufacturer need prior_dose_date")
    prior = _history(row, settings, visit_date, today)
    if not normalise_name(row["name"]):
        raise ValueError("name is empty")
    return Booking(
        code=code,
        person_name=row["name"],
        id_type=id_type.value,
        id_number=document.number,
        site_id=settings.site.id,
        visit_date=visit_date,
        product=product.code,
        dose_number=dose_number,
        window_start=start,
        window_end=end,
        birth_date=birth,
        sex=sex,
        prior_doses=prior,
        source="csv",
        answers=parse_answers(row.get("answers", "")),
    )


def highest_dose(settings: Settings, product: Product) -> int:
    """The highest dose number a booking of `product` may state: its own series, or a booster
    after the longest series a booster rule covers. Only a claim: the server decides the dose."""
    highest = product.doses_in_series
    for rule in settings.boosters:
        if rule.products and product.code not in rule.products:
            continue
        covered = [p.doses_in_series for p in settings.products if rule.covers(p)]
        highest = max(highest, max(covered, default=0) + rule.number)
    return highest


def check_csv(
    data: bytes,
    settings: Settings,
    site_day: date | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> CsvCheck:
    """Check every row; duplicate codes and one person booked twice are problems too.

    `today` (the site's day when importing) refuses earlier doses dated in the future.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadFile(f"the file is not UTF-8 (byte {err.start})") from None
    result = CsvCheck()
    seen_codes: dict[str, int] = {}
    seen_people: dict[tuple[str, str], int] = {}
    for index, (line, row) in enumerate(_rows(text), start=1):
        code = row.get("code", "")[:64]
        try:
            booking = parse_row(row, settings, site_day, today)
        except (ValueError, QueueError) as err:
            message = err.message if isinstance(err, QueueError) else str(err)
            result.problems.append(RowProblem(line, code, message))
            continue
        if booking.code in seen_codes:
            result.problems.append(
                RowProblem(line, code, f"code repeats line {seen_codes[booking.code]}")
            )
            continue
        person = (booking.id_number, booking.visit_date.isoformat())
        if person in seen_people and IdType(booking.id_type) is not IdType.PASSPORT:
            result.problems.append(
                RowProblem(line, code, f"the same person is booked on line {seen_people[person]}")
            )
            continue
        seen_codes[booking.code] = line
        seen_people[person] = line
        result.bookings.append(booking)
        if progress is not None and index % 1000 == 0:
            progress(index)
    return result


def to_csv(bookings: list[Booking], timezone: str) -> str:
    """Bookings as the importer reads them (the demo writes its day list with this)."""
    zone = ZoneInfo(timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REQUIRED + OPTIONAL)
    for b in bookings:
        writer.writerow(
            [
                b.code,
                b.person_name,
                b.id_type,
                b.id_number,
                b.product,
                b.dose_number,
                b.visit_date.isoformat(),
                f"{b.window_start.astimezone(zone):%H:%M}" if b.window_start else "",
                f"{b.window_end.astimezone(zone):%H:%M}" if b.window_end else "",
                b.sex or "",
                b.birth_date.isoformat() if b.birth_date else "",
                "",
                "",
                "",
                format_history(b.prior_doses),
                format_answers(b.answers),
            ]
        )
    return out.getvalue()
