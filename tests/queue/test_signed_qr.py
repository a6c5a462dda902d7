"""Signed booking QR codes: round trip, and each way a code can be refused."""

from __future__ import annotations

import base64
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxflow.queue.bookings import signed_qr
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.core.errors import QueueError

ZONE = "Asia/Shanghai"
DAY = date(2026, 11, 21)
PRIVATE, PUBLIC = signed_qr.new_key()
OTHER_PRIVATE, OTHER_PUBLIC = signed_qr.new_key()
KEYS = {"k1": PUBLIC}
BOOKING = Booking(
    code="B-0001",
    person_name="张小明",
    id_type="cn_resident",
    id_number="11010119900307007X",
    site_id="demo-stadium",
    visit_date=DAY,
    product="CORONAVAC",
    dose_number=2,
    window_start=datetime.combine(DAY, time(9, 0), ZoneInfo(ZONE)),
    window_end=datetime.combine(DAY, time(10, 30), ZoneInfo(ZONE)),
    source="qr",
)


def verify(text: str, today: date = DAY, keys: dict[str, str] = KEYS) -> Booking:
    return signed_qr.verify(text, keys, "demo-stadium", ZONE, today)


def test_round_trip_is_ascii_and_compact() -> None:
    text = signed_qr.sign(BOOKING, PRIVATE, "k1", ZONE)
    assert text.isascii() and len(text) < 300
    assert verify(text) == BOOKING


def _swap_body(text: str, new_body: bytes) -> str:
    prefix, kid, _body, sig = text.split(".")
    encoded = base64.urlsafe_b64encode(new_body).rstrip(b"=").decode()
    return ".".join([prefix, kid, encoded, sig])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda t: _swap_body(
                t,
                "B-0001|张小明|cn_resident|11010119900307007X|demo-stadium"
                "|20261121|0900-1030|CORONAVAC|1".encode(),
            ),
            "qr_tampered",
        ),
        (lambda t: t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB"), "qr_tampered"),
        (lambda t: t.replace(".k1.", ".k9."), "qr_unknown_key"),
        (lambda t: signed_qr.sign(BOOKING, OTHER_PRIVATE, "k1", ZONE), "qr_tampered"),
        (lambda t: t.replace("VXB1", "VXB2"), "bad"),
        (lambda t: t + ".x", "qr_malformed"),
        (lambda t: t.split(".")[0], "qr_malformed"),
        (lambda t: t + "=" * 700, "qr_malformed"),
    ],
)
def test_refused_codes(make: object, reason: str) -> None:
    text = make(signed_qr.sign(BOOKING, PRIVATE, "k1", ZONE))  # type: ignore[operator]
    with pytest.raises(QueueError) as err:
        verify(text)
    assert err.value.reason == (reason if reason != "bad" else "qr_malformed")


def test_wrong_site_and_expired_are_told_apart() -> None:
    other_site = Booking(**{**BOOKING.__dict__, "site_id": "north-hall"})
    with pytest.raises(QueueError) as err:
        verify(signed_qr.sign(other_site, PRIVATE, "k1", ZONE))
    assert err.value.reason == "qr_wrong_site"
    with pytest.raises(QueueError) as err:
        verify(signed_qr.sign(BOOKING, PRIVATE, "k1", ZONE), today=date(2026, 11, 22))
    assert err.value.reason == "qr_expired"
    # a future booking verifies: the eligibility rules then say "wrong day"
    assert verify(signed_qr.sign(BOOKING, PRIVATE, "k1", ZONE), today=date(2026, 11, 20))


def test_signed_but_garbled_contents_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(PRIVATE))
    body = base64.urlsafe_b64encode(b"only|three|fields").rstrip(b"=").decode()
    signed = f"VXB1.k1.{body}"
    sig = base64.urlsafe_b64encode(key.sign(signed.encode())).rstrip(b"=").decode()
    with pytest.raises(QueueError) as err:
        verify(f"{signed}.{sig}")
    assert err.value.reason == "qr_malformed"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.builds(lambda s: "VXB1.k1." + s, st.text(max_size=300)))
def test_any_scan_verifies_or_is_refused_with_a_reason(text: str) -> None:
    try:
        verify(text)
    except QueueError as err:
        assert err.reason.startswith("qr_")


@settings(max_examples=100, deadline=None)
@given(
    name=st.text(
        st.characters(blacklist_characters="|", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=20,
    ),
    code=st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True),
    dose=st.integers(1, 3),
)
def test_any_booking_round_trips(name: str, code: str, dose: int) -> None:
    booking = Booking(
        **{**BOOKING.__dict__, "person_name": name, "code": code, "dose_number": dose}
    )
    assert verify(signed_qr.sign(booking, PRIVATE, "k1", ZONE)) == booking


def test_earlier_doses_travel_in_the_signed_code() -> None:
    from vaxflow.queue.core.booking import PriorDose

    history = (
        PriorDose(date(2021, 3, 1), "ZF2001", "Anhui Zhifei Longcom"),
        PriorDose(date(2021, 4, 1), "ZF2001", "Anhui Zhifei Longcom"),
        PriorDose(date(2026, 9, 1), "CORONAVAC", "Sinovac"),
    )
    booked = Booking(**{**BOOKING.__dict__, "prior_doses": history})
    text = signed_qr.sign(booked, PRIVATE, "k1", ZONE)
    assert verify(text) == booked
    assert all(d.source == "booking" for d in verify(text).prior_doses)
    # a nine-field body (no earlier doses, or an older issuer) still reads: no history
    assert verify(signed_qr.sign(BOOKING, PRIVATE, "k1", ZONE)).prior_doses == ()


def test_a_signed_but_malformed_history_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(PRIVATE))
    fields = (
        "B-0001|张小明|cn_resident|11010119900307007X|demo-stadium|20261121|0900-1030|CORONAVAC|2"
    )
    for history in ("2026-11-21:CORONAVAC:Sinovac", "yesterday:CORONAVAC:Sinovac", "2021-03-01::"):
        body = base64.urlsafe_b64encode(f"{fields}|{history}".encode()).rstrip(b"=").decode()
        signed = f"VXB1.k1.{body}"
        sig = base64.urlsafe_b64encode(key.sign(signed.encode())).rstrip(b"=").decode()
        with pytest.raises(QueueError) as err:
            verify(f"{signed}.{sig}")
        assert err.value.reason == "qr_malformed"


def test_answers_from_the_booking_app_travel_in_the_signed_code() -> None:
    from vaxflow.queue.core.booking import PriorDose

    answers = (("fever", False), ("allergy", True))
    booked = Booking(**{**BOOKING.__dict__, "answers": answers})
    assert verify(signed_qr.sign(booked, PRIVATE, "k1", ZONE)) == booked  # empty history field
    both = Booking(
        **{
            **booked.__dict__,
            "prior_doses": (PriorDose(date(2026, 9, 1), "CORONAVAC", "Sinovac"),),
        }
    )
    assert verify(signed_qr.sign(both, PRIVATE, "k1", ZONE)) == both
