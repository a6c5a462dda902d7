"""Identity documents: validation per ID type, and matching the card read to the booking."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import isdigits

from vaxflow.queue.core.errors import Invalid, Refused


class IdType(StrEnum):
    """Documents a person may check in with."""

    CN_RESIDENT = "cn_resident"  # 居民身份证, 18 characters with a check digit
    PASSPORT = "passport"
    HK_MACAU_PERMIT = "hk_macau_permit"  # 港澳居民来往内地通行证 (H/M + 8 or 10 digits)
    TAIWAN_PERMIT = "taiwan_permit"  # 台湾居民来往大陆通行证 (8 digits)


# Formats as printed on the documents; python-stdnum has no module for the permits or
# passports, so these are the published number layouts.
_PATTERNS = {
    IdType.PASSPORT: re.compile(r"^[A-Z0-9]{5,17}$"),
    IdType.HK_MACAU_PERMIT: re.compile(r"^[HM](\d{8}|\d{10})$"),
    IdType.TAIWAN_PERMIT: re.compile(r"^\d{8}$"),
}


@dataclass(frozen=True)
class IdNote:
    """Something staff may want to know about a valid document; a reason code and its values."""

    code: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class IdDocument:
    """A checked document number; `birth_date` when the number itself carries one."""

    id_type: IdType
    number: str
    birth_date: date | None = None
    note: IdNote | None = None


def parse_id_type(value: str) -> IdType:
    try:
        return IdType(value)
    except ValueError:
        known = ", ".join(t.value for t in IdType)
        raise Invalid(
            "unknown_id_type", f"Unknown ID type {value!r}; use one of {known}."
        ) from None


EARLIEST_BIRTH = date(1880, 1, 1)
"""No one alive was born earlier: an earlier date in a number is a misread or a forgery."""

_LATEST_ZONE = timedelta(hours=14)
"""Today somewhere on Earth (UTC+14): a baby registered today is never born "in the future"."""


def validate_id(id_type: IdType, number: str, *, today: date | None = None) -> IdDocument:
    """Normalise and check a document number; for a resident ID the hard checks are length,
    format, check digit and a real birth date between `EARLIEST_BIRTH` and `today`.

    The region code is not a hard check (see `region_note`): a number keeps the code of the
    place where it was registered, so it may predate or outlive the code's current meaning.
    """
    document = _validate(id_type, number)
    born = document.birth_date
    if born is not None and born > (today or _today_somewhere()):
        raise Invalid(
            "bad_id_number",
            "This resident ID number is not valid.",
            problem=f"birth date {born.isoformat()} is in the future",
        )
    return document


def _today_somewhere() -> date:
    return (datetime.now(UTC) + _LATEST_ZONE).date()


@functools.lru_cache(maxsize=8192)
def _validate(id_type: IdType, number: str) -> IdDocument:
    # Cached: a check-in validates the same number up to three times (card, booking, match).
    # Refusals raise and are not cached; the future-date check runs outside (it needs today).
    compact = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", number)).upper()
    if id_type is IdType.CN_RESIDENT:
        try:
            valid, born = _resident_id(compact)
        except StdnumError as err:
            raise Invalid(
                "bad_id_number", "This resident ID number is not valid.", problem=_problem(err)
            ) from None
        return IdDocument(id_type, valid, born, region_note(valid[:6], born.year))
    if not _PATTERNS[id_type].match(compact):
        raise Invalid("bad_id_number", f"This {id_type.value} number is not valid.")
    return IdDocument(id_type, compact)


def _problem(err: StdnumError) -> str:
    """What is wrong, for the staff hint: stdnum's exception class says which check failed."""
    problems: dict[type[StdnumError], str] = {
        InvalidLength: "it does not have 18 characters",
        FirstGenerationNumber: (
            "it is a 15-digit first-generation number (those cards expired in 2013):"
            " ask for the 18-digit number"
        ),
        InvalidFormat: "the first 17 characters are not all digits",
        InvalidChecksum: "the check digit (last character) is wrong",
        InvalidComponent: "the birth date (characters 7-14) is not a real date from 1880 on",
    }
    return problems.get(type(err), str(err))


class FirstGenerationNumber(InvalidLength):
    """A 15-digit number of the first-generation card, void since 1 January 2013: the
    person has an 18-digit number now, and it is that one the registry knows."""


def _resident_id(compact: str) -> tuple[str, date]:
    """`ric.validate` without its birth-place step: length, format, check digit, birth date.

    stdnum's birth-place step refuses a number whose region code was not in use in the birth
    year. But a number is assigned at registration (the 1980s card issue, a move, a
    re-districting keeps the number), not at birth: everyone born before their district's
    current code existed (much of Chongqing, Shenzhen, Nanning...) holds a valid number that
    stdnum refuses. So the region code only yields a note for staff (`region_note`).
    """
    if len(compact) == 15 and isdigits(compact):
        raise FirstGenerationNumber()
    if len(compact) != 18:
        raise InvalidLength()
    if not isdigits(compact[:-1]):
        raise InvalidFormat()
    if compact[-1] != ric.calc_check_digit(compact):
        raise InvalidChecksum()
    born = ric.get_birth_date(compact)  # InvalidComponent unless a real calendar date
    if born < EARLIEST_BIRTH:
        raise InvalidComponent()
    return compact, born


@functools.lru_cache(maxsize=4096)
def region_note(region: str, year: int) -> IdNote | None:
    """A note for staff when python-stdnum's region table does not know the code, or knows it
    only for other years than the birth year; None when it matches. Never a refusal.

    Cached per region code and birth year: the look-up is 130 of the 138 µs a stdnum
    validation takes (measured), and a site's people come from a few hundred regions.
    """
    try:
        ric.get_birth_place(f"{region}{year:04d}01010000")
    except KeyError:  # 110003: stdnum knows the province but no county entry
        return IdNote("region_code_unknown", {"region": region})
    except InvalidComponent:
        if not any(props.get("county") for _, props in numdb.get("cn/loc").info(region)):
            return IdNote("region_code_unknown", {"region": region})
        return IdNote("region_code_not_in_use", {"region": region, "year": year})
    return None


def note_of(id_type: str | None, number: str) -> IdNote | None:
    """The staff note for a stored document number (its region code), if any; cached."""
    try:
        return validate_id(parse_id_type(id_type or IdType.CN_RESIDENT), number).note
    except Invalid:  # a number stored under an earlier rule: nothing to add
        return None


def birth_date_of(
    document: IdDocument, *given: date | None, today: date | None = None
) -> date | None:
    """The birth date to judge age by: the document's own when it carries one.

    A birth date sent along (walk-in form, card read, booking) must agree with it, else
    `birth_date_mismatch`: age is never taken from what a client claims over the document.
    A document without one (passport, permits) takes the date sent with it (the MRZ or what
    staff typed); None when nothing gives one, and check-in then sends the person to review.
    """
    claimed = [d for d in given if d is not None]
    reference = document.birth_date or (claimed[0] if claimed else None)
    for day in claimed:
        if day != reference:
            assert reference is not None
            raise Refused(
                "birth_date_mismatch",
                "The birth date given differs from the one on the ID document.",
                given=day.isoformat(),
                on_document=reference.isoformat(),
            )
    if reference is not None and not EARLIEST_BIRTH <= reference <= (today or _today_somewhere()):
        raise Invalid(
            "bad_birth_date", "This birth date is not possible.", given=reference.isoformat()
        )
    return reference


# Characters people and systems put between the parts of a name: every middle-dot variant
# (· U+00B7 on the ID card, ・ U+30FB from Japanese input, • ‧ ⸱ ∙ ⋅ ᐧ ㆍ ꞏ ...). Those that are
# punctuation are removed by category below; these are symbols or letters by category.
_NAME_DOTS = frozenset("\u2219\u22c5\u1427\u119e\ua78f")  # ∙ ⋅ ᐧ ㆍ(after NFKC) ꞏ
_NAME_SEPARATOR_CATEGORIES = ("Z", "P", "Cc", "Cf")


def normalise_name(name: str) -> str:
    """Compare names as people write them: width, case, spacing, middle dots and other
    punctuation do not matter; the letters and their order do.

    NFKC folds width (全角) and compatibility forms; every whitespace (U+3000 too), every
    punctuation mark (all middle dots, hyphens, full stops) and invisible formatting
    characters are removed, so "阿依古丽·买买提" = "阿依古丽・买买提" = "阿依古丽 买买提"
    and "LI WEI" = "Li  Wei", while "张三" and "张山" stay different.
    """
    text = unicodedata.normalize("NFKC", name).casefold()
    return "".join(
        c
        for c in text
        if c not in _NAME_DOTS
        and not c.isspace()
        and not unicodedata.category(c).startswith(_NAME_SEPARATOR_CATEGORIES)
    )


def match_card_to_booking(
    card_type: IdType,
    card_number: str,
    card_name: str,
    booking_type: IdType,
    booking_number: str,
    booking_name: str,
) -> None:
    """The ID card at the kiosk must be the booked person's: same document, same name."""
    card = validate_id(card_type, card_number)
    booked = validate_id(booking_type, booking_number)
    if (card.id_type, card.number) != (booked.id_type, booked.number):
        raise Refused("id_mismatch", "This ID card does not belong to this booking.")
    if normalise_name(card_name) != normalise_name(booking_name):
        raise Refused("name_mismatch", "The name on the ID card differs from the booking.")
