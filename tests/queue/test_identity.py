"""ID documents and matching the card to the booking."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent
from stdnum.exceptions import ValidationError as StdnumError

from vaxflow.config.languages import LANGUAGES
from vaxflow.queue.core import reasons
from vaxflow.queue.core.errors import Invalid, Refused
from vaxflow.queue.core.identity import (
    IdDocument,
    IdType,
    birth_date_of,
    match_card_to_booking,
    normalise_name,
    validate_id,
)
from vaxflow.queue.core.privacy import mask_id_number, mask_name

from .people import resident_id

GOOD = resident_id(7)  # 11010119900307007 + its check digit


@pytest.mark.parametrize(
    ("id_type", "number", "normalised", "birth"),
    [
        (IdType.CN_RESIDENT, GOOD, GOOD, date(1990, 3, 7)),
        (IdType.CN_RESIDENT, f" {GOOD[:6]} {GOOD[6:14]} {GOOD[14:]} ", GOOD, date(1990, 3, 7)),
        (IdType.PASSPORT, "e12345678", "E12345678", None),
        (IdType.HK_MACAU_PERMIT, "H12345678", "H12345678", None),
        (IdType.HK_MACAU_PERMIT, "M1234567890", "M1234567890", None),
        (IdType.TAIWAN_PERMIT, "12345678", "12345678", None),
    ],
)
def test_valid_documents(id_type: IdType, number: str, normalised: str, birth: date | None) -> None:
    document = validate_id(id_type, number)
    assert (document.number, document.birth_date) == (normalised, birth)


@pytest.mark.parametrize(
    ("id_type", "number"),
    [
        (IdType.CN_RESIDENT, GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1")),  # check digit
        (IdType.CN_RESIDENT, "110101199002300000"),  # 30 February
        (IdType.CN_RESIDENT, "11010119900307"),  # too short
        (IdType.PASSPORT, "AB"),
        (IdType.HK_MACAU_PERMIT, "C12345678"),
        (IdType.TAIWAN_PERMIT, "1234567"),
    ],
)
def test_invalid_documents(id_type: IdType, number: str) -> None:
    with pytest.raises(Invalid) as err:
        validate_id(id_type, number)
    assert err.value.reason == "bad_id_number"


def test_card_matches_booking_with_width_and_spacing_differences() -> None:
    match_card_to_booking(
        IdType.CN_RESIDENT, GOOD.lower(), "张小明", IdType.CN_RESIDENT, GOOD, "张小明 "
    )
    match_card_to_booking(
        IdType.PASSPORT, "E1234567", "SMITH JOHN", IdType.PASSPORT, "e1234567", "Smith  John"
    )


@pytest.mark.parametrize(
    ("card_number", "card_name", "reason"),
    [
        (resident_id(8), "张小明", "id_mismatch"),
        (GOOD, "张晓明", "name_mismatch"),
    ],
)
def test_card_that_is_not_the_booked_persons(card_number: str, card_name: str, reason: str) -> None:
    with pytest.raises(Refused) as err:
        match_card_to_booking(
            IdType.CN_RESIDENT, card_number, card_name, IdType.CN_RESIDENT, GOOD, "张小明"
        )
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("number", "masked"),
    [("450102199001011234", "4501**********1234"), ("E1234567", "********"), ("", "")],
)
def test_mask_id_number(number: str, masked: str) -> None:
    assert mask_id_number(number) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张小明", "张*明"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧**娜"),
        ("John Smith", "J*** S****"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


_REGIONS = ["110105", "310104", "440305", "510107", "130181", "999999", "110003", "000000"]
_LATER = date(2100, 1, 1)  # `today` for the comparison: no birth date in it is in the future


def _stdnum_without_birth_place(number: str) -> str | None:
    """python-stdnum's verdict with its birth-place step taken out, and our 1880 floor.

    stdnum raises InvalidComponent for a bad birth date and a bad birth place alike, so a
    refused number whose birth date parses was refused for its place only."""
    try:
        valid = ric.validate(number)
    except (InvalidComponent, KeyError):  # KeyError: a region code without a county
        try:
            ric.get_birth_date(number)  # raises for a bad birth date
            valid = ric.compact(number)
        except InvalidComponent:
            return None
    except StdnumError:
        return None
    return valid if ric.get_birth_date(valid) >= date(1880, 1, 1) else None


@settings(max_examples=300, deadline=None)
@given(
    region=st.sampled_from(_REGIONS) | st.text("0123456789", min_size=6, max_size=6),
    born=st.dates(date(1850, 1, 1), date(2025, 12, 31)),
    serial=st.text("0123456789", min_size=3, max_size=3),
    last=st.sampled_from("0123456789X") | st.none(),
)
def test_resident_ids_are_judged_as_python_stdnum_does_except_the_birth_place(
    region: str, born: date, serial: str, last: str | None
) -> None:
    body = f"{region}{born:%Y%m%d}{serial}"
    number = body + (last if last is not None else ric.calc_check_digit(body + "0"))
    try:
        got: str | None = validate_id(IdType.CN_RESIDENT, number, today=_LATER).number
    except Invalid:
        got = None
    assert got == _stdnum_without_birth_place(number)


def _all_region_codes() -> list[str]:
    """Every six-digit region code in python-stdnum's table (cn/loc.dat), any year."""
    codes = []
    for length, low, high, _, counties in numdb.get("cn/loc").prefixes:
        assert length == 2 and low == high
        for county_length, first, last, _, _ in counties:
            assert county_length == 4
            codes += [f"{low}{n:04d}" for n in range(int(first), int(last) + 1)]
    return codes


REGION_CODES = _all_region_codes()


def _number(region: str, born: date, serial: int = 7) -> str:
    body = f"{region}{born:%Y%m%d}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def test_stdnum_has_the_regions_that_were_refused() -> None:
    assert len(REGION_CODES) > 6000
    assert {"500118", "440306", "450108"} <= set(REGION_CODES)


def test_every_region_code_stdnum_knows_is_accepted_whatever_the_birth_year() -> None:
    """Each code once, with a birth year cycling through 1920-2023 (the sweep is exhaustive
    over codes; the property below mixes codes, dates and serials at random)."""
    refused = []
    for i, region in enumerate(REGION_CODES):
        born = date(1920 + i % 104, 1 + i % 12, 1 + i % 28)
        try:
            validate_id(IdType.CN_RESIDENT, _number(region, born, i))
        except Invalid:
            refused.append((region, born))
    assert refused == []


@settings(max_examples=500, deadline=None)
@given(
    region=st.sampled_from(REGION_CODES),
    born=st.dates(date(1920, 1, 1), date(2023, 12, 31)),
    serial=st.integers(0, 999),
)
def test_a_real_date_and_a_right_check_digit_are_enough(
    region: str, born: date, serial: int
) -> None:
    number = _number(region, born, serial)
    document = validate_id(IdType.CN_RESIDENT, number)
    assert (document.number, document.birth_date) == (number, born)


@settings(max_examples=300, deadline=None)
@given(
    region=st.sampled_from(REGION_CODES),
    born=st.dates(date(1920, 1, 1), date(2023, 12, 31)),
    serial=st.integers(0, 999),
    wrong=st.sampled_from("0123456789X"),
)
def test_a_wrong_check_digit_is_refused(region: str, born: date, serial: int, wrong: str) -> None:
    number = _number(region, born, serial)
    assume(wrong != number[-1])
    with pytest.raises(Invalid) as refused:
        validate_id(IdType.CN_RESIDENT, number[:-1] + wrong)
    assert refused.value.reason == "bad_id_number"


def _with_check_digit(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


@pytest.mark.parametrize(
    "body",
    [
        "50011819900230007",  # 30 February
        "50011819901301007",  # month 13
        "50011819900001007",  # month 0
        "50011819900100007",  # day 0
        "50011819900431007",  # 31 April
        "50011819000229007",  # 1900 was not a leap year
        "50011820230229007",  # nor 2023
        "50011818790101007",  # before 1880
        "50011800000101007",  # year 0
    ],
)
def test_impossible_birth_dates_are_refused(body: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate_id(IdType.CN_RESIDENT, _with_check_digit(body))
    assert refused.value.reason == "bad_id_number"


@pytest.mark.parametrize("born", [date(2000, 2, 29), date(1904, 2, 29), date(2020, 2, 29)])
def test_29_february_of_a_leap_year_is_a_real_birth_date(born: date) -> None:
    assert validate_id(IdType.CN_RESIDENT, _number("500118", born)).birth_date == born


@settings(max_examples=100, deadline=None)
@given(today=st.dates(date(1990, 1, 1), date(2090, 1, 1)), ahead=st.integers(1, 3000))
def test_a_birth_date_after_today_is_refused(today: date, ahead: int) -> None:
    number = _number("440305", today + timedelta(days=ahead))
    with pytest.raises(Invalid) as refused:
        validate_id(IdType.CN_RESIDENT, number, today=today)
    assert refused.value.reason == "bad_id_number"
    assert validate_id(IdType.CN_RESIDENT, _number("440305", today), today=today).birth_date


def test_a_birth_date_after_the_real_today_is_refused_without_a_given_today() -> None:
    with pytest.raises(Invalid):
        validate_id(IdType.CN_RESIDENT, _number("440305", date.today() + timedelta(days=2)))


@settings(max_examples=200, deadline=None)
@given(
    number=st.text("0123456789X", max_size=30).filter(lambda n: len(n) != 18)
    | st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=3).map(
        lambda letters: (letters + _number("110101", date(1990, 3, 7)))[:17] + "0"
    )
)
def test_wrong_length_and_letters_are_refused(number: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate_id(IdType.CN_RESIDENT, number)
    assert refused.value.reason == "bad_id_number"


@pytest.mark.parametrize(
    "number", ["110105491231002", "440301 800101 123", "１１０１０５４９１２３１００２"]
)
def test_a_first_generation_15_digit_number_is_refused_saying_so(number: str) -> None:
    """The 15-digit cards expired in 2013: staff are told to ask for the 18-digit number."""
    with pytest.raises(Invalid) as refused:
        validate_id(IdType.CN_RESIDENT, number)
    assert refused.value.reason == "bad_id_number"
    assert "15-digit first-generation" in refused.value.details["problem"]


@pytest.mark.parametrize(
    ("region", "year", "note"),
    [
        ("500118", 1970, "region_code_not_in_use"),  # Yongchuan district: code from 2006
        ("440306", 1985, "region_code_not_in_use"),  # Bao'an district: code from 1992
        ("110003", 1990, "region_code_unknown"),  # a province entry with no county
        ("999999", 1990, "region_code_unknown"),
        ("500118", 2010, None),
        ("110101", 1950, None),
    ],
)
def test_an_unknown_or_historical_region_code_is_a_note_not_a_refusal(
    region: str, year: int, note: str | None
) -> None:
    document = validate_id(IdType.CN_RESIDENT, _number(region, date(year, 6, 1)))
    assert (document.note.code if document.note else None) == note
    if document.note:
        assert document.note.params["region"] == region
        for language in LANGUAGES:
            text = reasons.text("hint", document.note.code, language, document.note.params)
            assert text is not None and region in text


ONE_PERSON = [
    ("阿依古丽·买买提", "阿依古丽・买买提"),  # U+00B7 on the card, U+30FB from Japanese input
    ("阿依古丽·买买提", "阿依古丽•买买提"),  # bullet
    ("阿依古丽·买买提", "阿依古丽‧买买提"),  # hyphenation point
    ("阿依古丽·买买提", "阿依古丽⸱买买提"),  # word separator middle dot
    ("阿依古丽·买买提", "阿依古丽ᐧ买买提"),  # Canadian syllabics final middle dot
    ("阿依古丽·买买提", "阿依古丽∙买买提"),  # bullet operator
    ("阿依古丽·买买提", "阿依古丽⋅买买提"),  # dot operator
    ("阿依古丽·买买提", "阿依古丽ㆍ买买提"),  # Hangul araea, a Korean keyboard's middle dot
    ("阿依古丽·买买提", "阿依古丽ꞏ买买提"),  # Latin sinological dot
    ("阿依古丽·买买提", "阿依古丽･买买提"),  # halfwidth katakana middle dot
    ("阿依古丽·买买提", "阿依古丽．买买提"),  # fullwidth full stop
    ("阿依古丽·买买提", "阿依古丽.买买提"),
    ("阿依古丽·买买提", "阿依古丽-买买提"),
    ("阿依古丽·买买提", "阿依古丽 · 买买提"),
    ("阿依古丽·买买提", "阿依古丽买买提"),
    ("张小明", "张 小明"),
    ("张小明", "张\u3000小明"),  # ideographic space
    ("张小明", " 张小明\t"),
    ("张小明", "张\u200b小明"),  # zero-width space
    ("张小明", "张\u00a0小明"),  # no-break space
    ("ＬＩ　ＷＥＩ", "Li Wei"),  # fullwidth letters
    ("LI WEI", "Li  Wei"),
    ("LI WEI", "liwei"),
    ("O'BRIEN MARY", "OBrien Mary"),
    ("JEAN-PIERRE DUPONT", "Jean Pierre Dupont"),
    ("STRASSE", "straße"),  # case folding
]

TWO_PEOPLE = [
    ("张三", "张山"),
    ("张小明", "张晓明"),
    ("张小明", "明小张"),
    ("Li Wei", "Li Wen"),
    ("LI WEI", "WEI LI"),
    ("阿依古丽·买买提", "阿依古丽·买提"),
    ("欧阳娜娜", "欧阳娜"),
    ("José", "Jose"),  # letters with and without a diacritic stay different
]


@pytest.mark.parametrize(("card", "booked"), ONE_PERSON)
def test_names_in_other_spellings_match(card: str, booked: str) -> None:
    match_card_to_booking(IdType.CN_RESIDENT, GOOD, card, IdType.CN_RESIDENT, GOOD, booked)
    match_card_to_booking(IdType.CN_RESIDENT, GOOD, booked, IdType.CN_RESIDENT, GOOD, card)


@pytest.mark.parametrize(("card", "booked"), TWO_PEOPLE)
def test_different_names_are_refused(card: str, booked: str) -> None:
    for one, other in ((card, booked), (booked, card)):
        with pytest.raises(Refused) as refused:
            match_card_to_booking(IdType.CN_RESIDENT, GOOD, one, IdType.CN_RESIDENT, GOOD, other)
        assert refused.value.reason == "name_mismatch"


_NAME_CHARS = st.characters(categories=["Lo", "Lu", "Ll"], max_codepoint=0x9FFF)
_SEPARATORS = st.sampled_from(
    [" ", "\u3000", "\u00b7", "\u30fb", "\u2022", "\u2027", "\u2e31", "\u1427", "\uff0e"]
)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.text(_NAME_CHARS, min_size=1, max_size=4), min_size=1, max_size=3),
    first=_SEPARATORS,
    second=_SEPARATORS,
)
def test_a_name_matches_itself_with_any_separator(
    parts: list[str], first: str, second: str
) -> None:
    assert normalise_name(first.join(parts)) == normalise_name(second.join(parts))


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(_NAME_CHARS, min_size=1, max_size=6),
    at=st.integers(0, 5),
    other=_NAME_CHARS,
)
def test_changing_one_letter_changes_the_name(name: str, at: int, other: str) -> None:
    at %= len(name)
    changed = name[:at] + other + name[at + 1 :]
    assume(normalise_name(other) != normalise_name(name[at]))
    assert normalise_name(changed) != normalise_name(name)


BORN = date(1990, 3, 7)
PASSPORT = IdDocument(IdType.PASSPORT, "E12345678")
RESIDENT = IdDocument(IdType.CN_RESIDENT, GOOD, BORN)


@pytest.mark.parametrize(
    ("document", "given", "expected"),
    [
        (RESIDENT, (), BORN),
        (RESIDENT, (BORN, None), BORN),
        (RESIDENT, (None, BORN), BORN),
        (PASSPORT, (), None),
        (PASSPORT, (None, None), None),
        (PASSPORT, (BORN,), BORN),
        (PASSPORT, (None, BORN), BORN),
        (PASSPORT, (BORN, BORN), BORN),
    ],
)
def test_age_comes_from_the_document_and_else_from_the_date_given(
    document: IdDocument, given: tuple[date | None, ...], expected: date | None
) -> None:
    assert birth_date_of(document, *given) == expected


@settings(max_examples=100, deadline=None)
@given(claimed=st.dates(date(1900, 1, 1), date(2020, 1, 1)), position=st.integers(0, 1))
def test_a_birth_date_that_disagrees_with_the_document_is_refused(
    claimed: date, position: int
) -> None:
    assume(claimed != BORN)
    given: list[date | None] = [None, None]
    given[position] = claimed
    with pytest.raises(Refused) as refused:
        birth_date_of(RESIDENT, *given)
    assert refused.value.reason == "birth_date_mismatch"
    assert refused.value.details == {
        "given": claimed.isoformat(),
        "on_document": BORN.isoformat(),
    }
    with pytest.raises(Refused):  # two dates sent for a passport must agree too
        birth_date_of(PASSPORT, BORN, claimed)


@pytest.mark.parametrize("given", [date(1879, 12, 31), date(2031, 1, 1)])
def test_an_impossible_birth_date_given_for_a_passport_is_refused(given: date) -> None:
    with pytest.raises(Invalid) as refused:
        birth_date_of(PASSPORT, given, today=date(2030, 12, 31))
    assert refused.value.reason == "bad_birth_date"
