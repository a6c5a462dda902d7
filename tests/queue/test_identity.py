"""ID documents and matching the card to the booking."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from vaxflow.queue.errors import Invalid, Refused
from vaxflow.queue.identity import IdType, match_card_to_booking, validate_id
from vaxflow.queue.privacy import mask_id_number, mask_name

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


@settings(max_examples=300, deadline=None)
@given(
    region=st.sampled_from(_REGIONS) | st.text("0123456789", min_size=6, max_size=6),
    born=st.dates(date(1900, 1, 1), date(2025, 12, 31)),
    serial=st.text("0123456789", min_size=3, max_size=3),
    last=st.sampled_from("0123456789X") | st.none(),
)
def test_resident_ids_are_judged_exactly_as_python_stdnum_does(
    region: str, born: date, serial: str, last: str | None
) -> None:
    body = f"{region}{born:%Y%m%d}{serial}"
    number = body + (last if last is not None else ric.calc_check_digit(body + "0"))
    try:
        expected: str | None = ric.validate(number)
    except (StdnumError, KeyError):  # KeyError: stdnum on a region code without a county
        expected = None
    try:
        got: str | None = validate_id(IdType.CN_RESIDENT, number).number
    except Invalid:
        got = None
    assert got == expected


def test_a_region_code_stdnum_has_no_county_for_is_a_bad_number_not_a_crash() -> None:
    body = "11000319800101001"  # 110003: a province entry with no county in stdnum's table
    number = body + ric.calc_check_digit(body + "0")
    with pytest.raises(Invalid) as refused:
        validate_id(IdType.CN_RESIDENT, number)
    assert refused.value.reason == "bad_id_number"
