"""A passport's machine-readable zone (ICAO 9303 TD3): the specimen, a table of faults, zones
built with hypothesis read back exactly, any mutation or garbage refused with BadMrz only, and
the kiosk taking a zone under the scanner as the passport typed."""

from __future__ import annotations

import contextlib
import itertools
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxflow.kiosk import flow as f
from vaxflow.kiosk.mrz import LINE, BadMrz, check_digit, looks_like_td3, parse_td3
from vaxflow.queue.core.identity import IdType, validate_id

TODAY = date(2026, 11, 21)
# The specimen of ICAO Doc 9303 part 4 (Anna Maria Eriksson, Utopia).
SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
)


def test_the_icao_specimen() -> None:
    zone = parse_td3(SPECIMEN, TODAY)
    assert (zone.number, zone.name, zone.birth_date) == (
        "L898902C3",
        "ERIKSSON ANNA MARIA",
        date(1974, 8, 12),
    )
    assert (zone.sex, zone.nationality, zone.issuing_state) == ("female", "UTO", "UTO")
    assert zone.expires == date(2012, 4, 15)
    assert looks_like_td3(SPECIMEN) and not looks_like_td3("DEMO0001")
    one_line = SPECIMEN.replace("\n", "")  # a scanner that sends one line per code
    assert looks_like_td3(one_line) and parse_td3(one_line, TODAY) == zone


def flip(text: str, at: int, char: str) -> str:
    return text[:at] + char + text[at + 1 :]


SECOND = LINE + 1  # where the second line starts in SPECIMEN


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (SPECIMEN[:LINE], "two lines"),
        (SPECIMEN + "<", "two lines"),
        ("X" + SPECIMEN[1:], "starts with P"),
        (flip(SPECIMEN, SECOND + 9, "7"), "document number"),
        (flip(SPECIMEN, SECOND + 19, "3"), "birth date"),
        (flip(SPECIMEN, SECOND + 27, "0"), "expiry date"),
        (flip(SPECIMEN, SECOND + 42, "5"), "personal number"),
        (flip(SPECIMEN, SECOND + 43, "1"), "composite"),
        (flip(SPECIMEN, SECOND + 1, "9"), "document number"),
        (flip(SPECIMEN, 7, "é"), "cannot be in"),
    ],
)
def test_faults_are_named(text: str, why: str) -> None:
    with pytest.raises(BadMrz, match=why):
        parse_td3(text, TODAY)


def build(number: str, surname: str, given_names: str, born: date, expires: date) -> str:
    """A TD3 zone as a passport office prints it."""
    first = f"P<UTO{surname}<<{given_names.replace(' ', '<')}".ljust(LINE, "<")[:LINE]
    doc = number.ljust(9, "<")
    birth, expiry = f"{born:%y%m%d}", f"{expires:%y%m%d}"
    optional = "<" * 14
    second = (
        f"{doc}{check_digit(doc)}UTO{birth}{check_digit(birth)}M"
        f"{expiry}{check_digit(expiry)}{optional}<"
    )
    composite = second[0:10] + second[13:20] + second[21:43]
    return f"{first}\n{second}{check_digit(composite)}"


NAME = st.from_regex(r"[A-Z]{1,12}", fullmatch=True)
ZONES = st.builds(
    build,
    number=st.from_regex(r"[A-Z0-9]{5,9}", fullmatch=True),
    surname=NAME,
    given_names=st.lists(NAME, min_size=1, max_size=2).map(" ".join),
    born=st.dates(date(1927, 1, 1), TODAY),
    expires=st.dates(date(2020, 1, 1), date(2040, 12, 31)),
)


@settings(max_examples=200, deadline=None)
@given(zone=ZONES)
def test_built_zones_read_back_and_their_numbers_pass_the_server(zone: str) -> None:
    read = parse_td3(zone, TODAY)
    second = zone.split("\n")[1]
    assert read.number == second[:9].rstrip("<")
    assert f"{read.birth_date:%y%m%d}" == second[13:19] and read.birth_date <= TODAY
    validate_id(IdType.PASSPORT, read.number)


def value(char: str) -> int:
    return int(char) if char.isdigit() else 0 if char == "<" else ord(char) - 55


#: Places in the second line no check digit covers: nationality, sex (ICAO 9303 part 4).
UNCHECKED = {10, 11, 12, 20}


@settings(max_examples=300, deadline=None)
@given(zone=ZONES, at=st.integers(0, LINE - 1), char=st.sampled_from("0123456789<AZ"))
def test_a_changed_character_in_the_checked_line_is_caught(zone: str, at: int, char: str) -> None:
    """7-3-1 weights catch every substitution except one by a character worth the same mod 10
    (0, <, A, K, U; 5, F, P, Z ...)."""
    before = zone.split("\n")[1][at]
    changed = flip(zone, LINE + 1 + at, char)
    try:
        parse_td3(changed, TODAY)
    except BadMrz:
        assert at not in UNCHECKED or before == char
        return
    assert at in UNCHECKED or value(before) % 10 == value(char) % 10


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=120))
def test_garbage_is_refused_with_bad_mrz_only(text: str) -> None:
    with contextlib.suppress(BadMrz):
        parse_td3(text, TODAY)


def test_the_kiosk_takes_a_passports_zone_as_the_passport() -> None:
    ids = itertools.count(1)
    flow = f.Flow(lambda: f"rid-{next(ids)}")
    state = flow.handle(flow.start("en").state, f.Scanned("DEMO0001", TODAY)).state
    state = flow.handle(state, f.Scanned(SPECIMEN, TODAY)).state
    assert state.screen is f.Screen.CHECKING
    assert state.card == f.Card(
        "L898902C3", "ERIKSSON ANNA MARIA", date(1974, 8, 12), "female", "passport"
    )
    assert state.pending is not None and state.pending.body["booking_qr"] == "DEMO0001"
    bad = flow.handle(flow.start("en").state, f.Scanned(flip(SPECIMEN, SECOND + 43, "1"), TODAY))
    assert (bad.state.screen, bad.state.notice) == (f.Screen.ATTRACT, "typed.error.mrz")
    desk = f.Flow(lambda: "r", typed_documents=False)
    sent = desk.handle(desk.start("en").state, f.Scanned(SPECIMEN, TODAY)).state
    assert sent.booking_qr == SPECIMEN  # the site types no documents: a scan like any other
