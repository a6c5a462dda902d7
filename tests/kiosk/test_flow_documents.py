"""The kiosk without a resident ID card (typed passport or permit) and the booking's answers
confirmed on one screen: the pure flow, by table, and typed numbers fuzzed with hypothesis."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxflow.kiosk import flow as f
from vaxflow.kiosk.flow import Action, Screen
from vaxflow.queue.core.errors import Invalid
from vaxflow.queue.core.identity import IdType, validate_id

TODAY = date(2026, 11, 21)
QR = "DEMO0001"
QUESTIONS = [
    {"id": "fever", "effect": "defer", "text": {"en": "Fever?"}},
    {"id": "allergy", "effect": "refer", "text": {"en": "Allergy?"}},
]
CONSENT = {"version": "2021-03", "text": {"en": "I agree"}}
PRECHECK: dict[str, Any] = {
    "person": {"name": "S*** J***"},
    "product_name": "CoronaVac",
    "dose_number": 1,
    "questions": QUESTIONS,
    "consent": CONSENT,
}
TICKET = {"visit_id": 7, "ticket": "A023", "lane": "A", "qr": "q", "estimated_wait_minutes": 3}


class Driver:
    def __init__(self, *, typed_documents: bool = True) -> None:
        ids = itertools.count(1)
        self.flow = f.Flow(lambda: f"rid-{next(ids)}", typed_documents=typed_documents)
        self.state = self.flow.start("en").state
        self.effects: list[f.Effect] = []
        self.taps = 0

    def send(self, event: f.Event) -> f.State:
        step = self.flow.handle(self.state, event)
        self.state = step.state
        self.effects += step.effects
        if isinstance(event, f.Touched):
            self.taps += 1
        return self.state

    def touch(self, action: Action, value: str = "") -> f.State:
        return self.send(f.Touched(action, value, TODAY))

    def type(self, text: str) -> None:
        for char in text:
            self.touch(Action.KEY, char)

    def answer(self, data: dict[str, Any]) -> f.State:
        assert self.state.pending is not None
        return self.send(f.Answered(self.state.pending.id, data))


def typed_to_card(d: Driver, document: str, number: str, name: str, birth: str) -> None:
    d.touch(Action.NO_ID_CARD)
    d.touch(Action.DOCUMENT, document)
    for value in (number, name, birth):
        d.type(value)
        d.touch(Action.NEXT)


@pytest.mark.parametrize(
    ("document", "number", "name", "birth", "card"),
    [
        ("passport", "E12345678", "SMITH JOHN", "19800102", ("E12345678", "SMITH JOHN")),
        ("hk_macau_permit", "H12345678", "CHAN TAI MAN", "19751231", ("H12345678", None)),
        ("hk_macau_permit", "M1234567890", "LEI", "20000229", ("M1234567890", None)),
        ("taiwan_permit", "12345678", "LIN", "19990909", ("12345678", None)),
    ],
)
def test_typed_document_stands_for_the_card(
    document: str, number: str, name: str, birth: str, card: tuple[str, str | None]
) -> None:
    d = Driver()
    d.send(f.Scanned(QR))
    assert d.state.screen is Screen.WAIT_CARD
    typed_to_card(d, document, number, name, birth)
    assert d.state.screen is Screen.CHECKING
    assert d.state.card is not None
    assert d.state.card.id_type == document
    assert d.state.card.id_number == card[0]
    assert d.state.card.name == (card[1] or name)
    body = d.state.pending.body if d.state.pending else {}
    assert body["booking_qr"] == QR
    assert body["id_card"]["id_type"] == document
    assert body["id_card"]["birth_date"] == f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"
    validate_id(IdType(document), card[0])  # what the kiosk lets through, the server takes


def test_typed_document_without_a_booking_asks_for_it_or_a_walk_in() -> None:
    d = Driver()
    typed_to_card(d, "passport", "P1234567", "DOE JANE", "19900101")
    assert d.state.screen is Screen.WAIT_BOOKING
    d.touch(Action.WALK_IN)
    d.touch(Action.AGREE)
    assert d.state.pending is not None
    assert d.state.pending.body["walk_in"]["id_type"] == "passport"


def test_a_booking_scanned_while_typing_is_kept() -> None:
    d = Driver()
    d.touch(Action.NO_ID_CARD)
    d.touch(Action.DOCUMENT, "passport")
    d.send(f.Scanned(QR))
    assert (d.state.screen, d.state.booking_qr) == (Screen.TYPING, QR)
    assert d.state.notice == "notice.booking_read"
    for value in ("P1234567", "DOE", "19900101"):
        d.type(value)
        d.touch(Action.NEXT)
    assert d.state.screen is Screen.CHECKING


def test_a_card_placed_while_typing_wins() -> None:
    d = Driver()
    d.touch(Action.NO_ID_CARD)
    d.touch(Action.DOCUMENT, "passport")
    card = f.Card("450103199001011238", "张小明", date(1990, 1, 1))
    d.send(f.CardRead(card, TODAY))
    assert (d.state.screen, d.state.card, d.state.typed) == (Screen.WAIT_BOOKING, card, None)


@pytest.mark.parametrize(
    ("document", "field_values", "error"),
    [
        ("passport", ("",), "typed.error.number_empty"),
        ("passport", ("E12",), "typed.error.passport_length"),
        ("hk_macau_permit", ("12345678",), "typed.error.hk_macau_letter"),
        ("hk_macau_permit", ("H1234567",), "typed.error.hk_macau_digits"),
        ("hk_macau_permit", ("H123456789",), "typed.error.hk_macau_digits"),
        ("hk_macau_permit", ("HA2345678",), "typed.error.hk_macau_digits"),
        ("taiwan_permit", ("1234567",), "typed.error.taiwan_digits"),
        ("taiwan_permit", ("A1234567",), "typed.error.taiwan_digits"),
        ("passport", ("E1234567", "  "), "typed.error.name_empty"),
        ("passport", ("E1234567", "LI", "1990"), "typed.error.birth_format"),
        ("passport", ("E1234567", "LI", "19900230"), "typed.error.birth_not_a_date"),
        ("passport", ("E1234567", "LI", "20270101"), "typed.error.birth_impossible"),
        ("passport", ("E1234567", "LI", "18791231"), "typed.error.birth_impossible"),
    ],
)
def test_bad_input_gets_a_specific_error(
    document: str, field_values: tuple[str, ...], error: str
) -> None:
    d = Driver()
    d.touch(Action.NO_ID_CARD)
    d.touch(Action.DOCUMENT, document)
    for value in field_values:
        d.type(value)
        d.touch(Action.NEXT)
    assert d.state.screen is Screen.TYPING
    assert d.state.notice == error
    d.touch(Action.ERASE)
    assert d.state.notice == ""  # the error goes as soon as the person fixes it


def test_keyboard_limits_back_and_erase() -> None:
    d = Driver()
    d.touch(Action.NO_ID_CARD)
    assert d.state.screen is Screen.DOCUMENT
    d.touch(Action.BACK)
    assert d.state.screen is Screen.ATTRACT
    d.touch(Action.NO_ID_CARD)
    d.touch(Action.DOCUMENT, "taiwan_permit")
    d.type("1234567899")
    assert d.state.typed is not None
    assert (d.state.typed.number, d.state.notice) == ("12345678", "typed.error.too_long")
    d.type("é!中")  # not on this keyboard: ignored
    assert d.state.typed.number == "12345678"
    d.touch(Action.NEXT)
    assert d.state.typed.field == "name"
    d.type(" LI  WEI ")  # no leading or doubled spaces
    assert d.state.typed.name == "LI WEI "
    d.touch(Action.BACK)
    assert d.state.typed.field == "number"
    d.touch(Action.BACK)
    assert (d.state.screen, d.state.typed) == (Screen.DOCUMENT, None)


def test_the_site_may_send_documents_to_the_desk() -> None:
    d = Driver(typed_documents=False)
    d.touch(Action.NO_ID_CARD)
    assert d.state.screen is Screen.PROBLEM
    assert d.state.problem is not None
    assert (d.state.problem.reason, d.state.problem.desk) == ("document_at_desk", f.Desk.INFO)


def test_an_older_person_typing_gets_large_text() -> None:
    d = Driver()
    d.send(f.Scanned(QR))
    typed_to_card(d, "passport", "E1234567", "OLD", "19500101")
    assert d.state.elderly and d.state.elderly_auto


# --- the booking's answers on one screen ------------------------------------------------------


def booked(answers: dict[str, Any] | None) -> Driver:
    d = Driver()
    d.send(f.Scanned(QR))
    d.send(f.CardRead(f.Card("450103199001011238", "张小明", date(1990, 1, 1)), TODAY))
    d.answer({**PRECHECK, "booked_answers": answers})
    return d


def test_booked_answers_confirmed_in_three_taps_or_fewer() -> None:
    d = booked({"fever": False, "allergy": True})
    assert d.state.screen is Screen.CONFIRM_ANSWERS
    d.touch(Action.YES)
    assert d.state.screen is Screen.CONSENT
    assert d.state.answers == (("fever", False), ("allergy", True))
    d.touch(Action.AGREE)
    assert d.state.pending is not None
    assert d.state.pending.body["answers"] == {"fever": False, "allergy": True}
    d.answer(TICKET)
    d.send(f.Printed())
    d.touch(Action.DONE)
    assert d.state.screen is Screen.ATTRACT
    assert d.taps == 3


def test_something_changed_asks_the_questions() -> None:
    d = booked({"fever": False, "allergy": False})
    d.touch(Action.NO)
    assert (d.state.screen, d.state.question_index) == (Screen.QUESTION, 0)
    d.touch(Action.YES)
    d.touch(Action.NO)
    assert d.state.screen is Screen.CONSENT
    assert d.state.answers == (("fever", True), ("allergy", False))
    d.touch(Action.BACK)
    assert d.state.screen is Screen.QUESTION


def test_back_from_consent_returns_to_the_confirm_screen() -> None:
    d = booked({"fever": False, "allergy": False})
    d.touch(Action.YES)
    d.touch(Action.BACK)
    assert d.state.screen is Screen.CONFIRM_ANSWERS


@pytest.mark.parametrize(
    "answers",
    [None, {}, {"fever": False}, {"fever": False, "allergy": "no"}, ["fever"]],
)
def test_incomplete_booked_answers_mean_the_questions(answers: Any) -> None:
    d = booked(answers)
    assert d.state.screen is Screen.QUESTION


# --- typed numbers, fuzzed -------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    document=st.sampled_from(f.DOCUMENTS),
    typed=st.text(alphabet=st.sampled_from(f.DIGITS + f.LETTERS + "hm é-中 !\x00"), max_size=24),
)
def test_fuzzed_numbers_the_kiosk_accepts_are_numbers_the_server_accepts(
    document: str, typed: str
) -> None:
    d = Driver()
    d.touch(Action.NO_ID_CARD)
    d.touch(Action.DOCUMENT, document)
    d.type(typed)
    d.touch(Action.NEXT)
    assert d.state.typed is not None
    number = d.state.typed.number
    assert len(number) <= f.MAX_NUMBER[document]
    assert set(number) <= set(f.KEYS["number"])
    try:
        validate_id(IdType(document), number)
        server_ok = True
    except Invalid:
        server_ok = False
    kiosk_ok = d.state.typed.field == "name"
    assert kiosk_ok == server_ok
    assert kiosk_ok or d.state.notice.startswith("typed.error.")
