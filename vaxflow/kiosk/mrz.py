"""A passport's machine-readable zone (ICAO 9303 part 4, TD3: two lines of 44 characters).

`parse_td3(text, today)` reads what a document scanner sends for the two MRZ lines (or the
88 characters in one line, as the kiosk's scanners deliver one line per code) and gives
the document number, the name and the birth date, or raises `BadMrz` with why (a check digit,
a length, a date). Pure: no I/O, no clock (today comes in). The `mrz` package on PyPI does
this too but has had no release since 2020; the format is small and fixed, so it lives here,
with its check digits, and is fuzzed by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

LINE = 44
_WEIGHTS = (7, 3, 1)


class BadMrz(ValueError):
    """Not a readable TD3 zone; the message says which part."""


@dataclass(frozen=True)
class Td3:
    """What the kiosk takes from a passport's zone."""

    number: str
    surname: str
    given_names: str
    birth_date: date
    nationality: str
    issuing_state: str
    sex: str  # male | female | unknown
    expires: date | None

    @property
    def name(self) -> str:
        """The name as typed at the kiosk: surname, then given names."""
        return " ".join(part for part in (self.surname, self.given_names) if part)


def check_digit(field: str) -> str:
    """ICAO 9303's check digit: digits as themselves, A-Z as 10-35, < as 0, weights 7 3 1."""
    total = 0
    for n, char in enumerate(field):
        if char.isdigit():
            value = int(char)
        elif "A" <= char <= "Z":
            value = ord(char) - 55
        elif char == "<":
            value = 0
        else:
            raise BadMrz(f"{char!r} cannot be in a machine-readable zone")
        total += value * _WEIGHTS[n % 3]
    return str(total % 10)


_ZONE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")


def looks_like_td3(text: str) -> bool:
    """Whether a scan is meant as a passport's zone (so the kiosk reads it as one): two lines
    of about 44, or the 88 characters in one line (how scanners on the kiosk's line send it),
    starting with P, of the zone's characters only, with the name's << separator."""
    lines = _lines(text)
    return (
        len(lines) == 2
        and lines[0].startswith("P")
        and len(lines[0]) >= 40
        and "<<" in lines[0]
        and set("".join(lines)) <= _ZONE_CHARS
    )


def parse_td3(text: str, today: date) -> Td3:
    """The two lines of a passport's zone, checked; `today` settles the birth century."""
    lines = _lines(text)
    if len(lines) != 2 or any(len(line) != LINE for line in lines):
        raise BadMrz("a passport's zone is two lines of 44 characters")
    first, second = lines
    if first[0] != "P":
        raise BadMrz("the first line of a passport's zone starts with P")
    for line in lines:
        check_digit(line)  # only the zone's characters
    number, number_check = second[0:9], second[9]
    birth, birth_check = second[13:19], second[19]
    expiry, expiry_check = second[21:27], second[27]
    optional, optional_check = second[28:42], second[42]
    for field, check, what in (
        (number, number_check, "document number"),
        (birth, birth_check, "birth date"),
        (expiry, expiry_check, "expiry date"),
    ):
        if check_digit(field) != check:
            raise BadMrz(f"the {what}'s check digit is wrong")
    if optional_check not in ("<", check_digit(optional)) or (
        optional_check == "<" and optional.strip("<")
    ):
        raise BadMrz("the personal number's check digit is wrong")
    composite = second[0:10] + second[13:20] + second[21:43]
    if check_digit(composite) != second[43]:
        raise BadMrz("the composite check digit is wrong")
    surname, _, given = first[5:].partition("<<")
    document = number.rstrip("<")
    if not document or "<" in document:
        raise BadMrz("the document number is empty")
    return Td3(
        number=document,
        surname=_words(surname),
        given_names=_words(given),
        birth_date=_birth(birth, today),
        nationality=second[10:13].strip("<"),
        issuing_state=first[2:5].strip("<"),
        sex={"M": "male", "F": "female"}.get(second[20], "unknown"),
        expires=_date(expiry, 2000) if expiry.isdigit() else None,
    )


def _lines(text: str) -> list[str]:
    lines = [line.strip().upper() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    if len(lines) == 1 and len(lines[0]) == 2 * LINE:  # one line from a line-based scanner
        return [lines[0][:LINE], lines[0][LINE:]]
    return lines


def _words(field: str) -> str:
    return " ".join(field.replace("<", " ").split())


def _date(yymmdd: str, century: int) -> date:
    try:
        return date(century + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        raise BadMrz(f"{yymmdd} is not a date") from None


def _birth(yymmdd: str, today: date) -> date:
    if not yymmdd.isdigit():
        raise BadMrz("the birth date is not given")
    born = _date(yymmdd, 2000)
    return born if born <= today else _date(yymmdd, 1900)
