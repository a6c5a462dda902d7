"""The ticket QR payload: tables for the known forms, hypothesis for anything a scanner sends."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.queue.core import ticket_code
from vaxflow.queue.core.errors import Invalid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A023", ticket_code.TicketCode("A023")),
        (" e001\r\n", ticket_code.TicketCode("E001")),
        ("W1000", ticket_code.TicketCode("W1000")),
        (
            "VXF1:demo-stadium:2026-11-21:A023",
            ticket_code.TicketCode("A023", "demo-stadium", date(2026, 11, 21)),
        ),
    ],
)
def test_decode_known_forms(text: str, expected: ticket_code.TicketCode) -> None:
    assert ticket_code.decode(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A02",
        "AA023",
        "VXF2:demo:2026-11-21:A023",
        "VXF1:demo:2026-13-01:A023",
        "VXF1::2026-11-21:A023",
        "VXF1:demo:2026-11-21:a023x",
        "https://booking.example/b/123",
        "x" * 500,
    ],
)
def test_decode_refuses_what_is_not_a_ticket(text: str) -> None:
    with pytest.raises(Invalid) as err:
        ticket_code.decode(text)
    assert err.value.reason == "bad_ticket_code"


@given(
    site=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,39}", fullmatch=True),
    day=st.dates(date(2000, 1, 1), date(2100, 1, 1)),
    lane=st.sampled_from("AEWR"),
    number=st.integers(1, 99999),
)
def test_encode_decode_round_trip(site: str, day: date, lane: str, number: int) -> None:
    ticket = f"{lane}{number:03d}"
    decoded = ticket_code.decode(ticket_code.encode(site, day, ticket))
    assert decoded == ticket_code.TicketCode(ticket, site, day)


@given(st.text(max_size=200))
def test_anything_scanned_decodes_or_is_refused_cleanly(text: str) -> None:
    try:
        code = ticket_code.decode(text)
    except Invalid as err:
        assert err.reason == "bad_ticket_code"
    else:
        assert code.ticket[0].isalpha() and code.ticket[1:].isdigit()
