"""The check-in flow, pure: tables of (events -> screen, effects), every refusal, every fault."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from vaxflow.kiosk import flow as f
from vaxflow.kiosk.flow import Action, Screen
from vaxflow.queue.core import reasons

TODAY = date(2026, 11, 21)
ADULT = f.Card("450103199001011238", "张小明", date(1990, 1, 1), "male")
SENIOR = f.Card("11010119580315002X", "李华", date(1958, 3, 15), "female")
QR = "DEMO0001"
QUESTIONS = [
    {
        "id": "fever",
        "effect": "defer",
        "text": {"zh-CN": "发热？", "zh-TW": "發燒？", "en": "Fever?"},
    },
    {
        "id": "allergy",
        "effect": "refer",
        "text": {"zh-CN": "过敏？", "zh-TW": "過敏？", "en": "Allergy?"},
    },
]
PRECHECK = {
    "eligible": True,
    "person": {"name": "张*明", "id_number": "4501**********1238", "age": 36},
    "product": "CORONAVAC",
    "product_name": "CoronaVac",
    "dose_number": 1,
    "walk_in": False,
    "review": [],
    "questions": QUESTIONS,
    "consent": {"version": "2021-03", "text": {"zh-CN": "同意", "zh-TW": "同意", "en": "I agree"}},
}
TICKET = {
    "visit_id": 7,
    "ticket": "A023",
    "lane": "A",
    "lane_name": "Booked",
    "site_name": "Demo Stadium",
    "qr": "VXT1:demo:20261121:A023",
    "estimated_wait_minutes": 12,
    "walk_in": False,
    "zone": None,
}


def all_reason_codes() -> list[str]:
    po = Path(reasons.LOCALE_DIR, "en", "LC_MESSAGES", "reasons.po").read_text("utf-8")
    return sorted(set(re.findall(r'msgid "reason\.([a-z_]+)"', po)))


def make_flow() -> f.Flow:
    ids = itertools.count(1)
    return f.Flow(lambda: f"rid-{next(ids)}")


class Driver:
    """Feeds events, keeps the state, remembers every effect."""

    def __init__(self) -> None:
        self.flow = make_flow()
        step = self.flow.start()
        self.state = step.state
        self.timeout = step.timeout
        self.effects: list[f.Effect] = []

    def send(self, event: f.Event) -> f.Step:
        step = self.flow.handle(self.state, event)
        self.state, self.timeout = step.state, step.timeout
        self.effects += step.effects
        return step

    def touch(self, action: Action, value: str = "") -> f.Step:
        return self.send(f.Touched(action, value))

    def pending_call(self) -> f.Call:
        assert self.state.pending is not None
        return self.state.pending

    def answer(self, data: dict[str, Any]) -> f.Step:
        return self.send(f.Answered(self.pending_call().id, data))

    def calls(self) -> list[f.Call]:
        return [e.call for e in self.effects if isinstance(e, f.ServerCall)]

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]


def to_consent(d: Driver, first: str = "qr", card: f.Card = ADULT) -> None:
    events: list[f.Event] = [f.Scanned(QR), f.CardRead(card, TODAY)]
    for event in events if first == "qr" else reversed(events):
        d.send(event)
    assert d.state.screen is Screen.CHECKING
    d.answer(PRECHECK)
    d.touch(Action.NO)
    d.touch(Action.NO)
    assert d.state.screen is Screen.CONSENT


def to_ticket(d: Driver) -> None:
    to_consent(d)
    d.touch(Action.AGREE)
    d.answer(TICKET)
    d.send(f.Printed())


@pytest.mark.parametrize("first", ["qr", "card"])
def test_booked_check_in_in_either_order(first: str) -> None:
    d = Driver()
    to_consent(d, first)
    d.touch(Action.AGREE)
    assert d.state.screen is Screen.ISSUING
    check_in = d.calls()[-1]
    assert check_in.kind == "check_in" and check_in.request_id == "rid-1"
    assert check_in.body == {
        "booking_qr": QR,
        "id_card": ADULT.body(),
        "answers": {"fever": False, "allergy": False},
        "consent_version": "2021-03",
    }
    d.answer(TICKET)
    assert d.state.screen is Screen.PRINTING
    assert d.of(f.PrintTicket)[0].ticket.number == "A023"
    d.send(f.Printed())
    assert d.state.screen is Screen.TICKET
    assert d.of(f.ReportPrint) == [f.ReportPrint(7, True)]
    assert not d.of(f.Abandon)


@pytest.mark.parametrize(
    ("events", "screen"),
    [
        ([f.Scanned(QR)], Screen.WAIT_CARD),
        ([f.CardRead(ADULT, TODAY)], Screen.WAIT_BOOKING),
        ([f.CardRead(ADULT, TODAY), f.Touched(Action.WALK_IN)], Screen.WALK_IN),
        (
            [f.CardRead(ADULT, TODAY), f.Touched(Action.WALK_IN), f.Touched(Action.BACK)],
            Screen.WAIT_BOOKING,
        ),
        ([f.CardRead(ADULT, TODAY), f.Touched(Action.WALK_IN), f.Scanned(QR)], Screen.CHECKING),
        ([f.Scanned(QR), f.Scanned("DEMO0002")], Screen.WAIT_CARD),
        ([f.Scanned(QR), f.Touched(Action.START_OVER)], Screen.ATTRACT),
        ([f.Scanned(QR), f.CardUnreadable("garbled")], Screen.WAIT_CARD),
        ([f.Touched(Action.YES)], Screen.ATTRACT),  # stray touches do nothing
        ([f.Printed()], Screen.ATTRACT),
        ([f.Answered(99, {})], Screen.ATTRACT),  # an answer to no call
    ],
)
def test_screens_before_precheck(events: list[f.Event], screen: Screen) -> None:
    d = Driver()
    for event in events:
        d.send(event)
    assert d.state.screen is screen


def test_rescan_replaces_the_booking_and_unreadable_card_asks_again() -> None:
    d = Driver()
    d.send(f.Scanned(QR))
    d.send(f.CardUnreadable("garbled"))
    assert d.state.notice == "notice.card_again"
    d.send(f.Scanned("DEMO0002"))
    d.send(f.CardRead(ADULT, TODAY))
    assert d.calls()[-1].body["booking_qr"] == "DEMO0002"


def test_walk_in_path() -> None:
    d = Driver()
    d.send(f.CardRead(ADULT, TODAY))
    d.touch(Action.WALK_IN)
    d.touch(Action.AGREE)
    assert d.state.screen is Screen.CHECKING
    assert d.calls()[-1].body == {"walk_in": ADULT.body()}
    d.answer({**PRECHECK, "walk_in": True})
    d.touch(Action.NO)
    d.touch(Action.NO)
    d.touch(Action.AGREE)
    body = d.calls()[-1].body
    assert "walk_in" in body and "booking_qr" not in body and body["answers"]
    d.answer({**TICKET, "ticket": "W001", "lane": "W", "walk_in": True})
    d.send(f.Printed())
    assert d.state.ticket is not None and d.state.ticket.walk_in


def test_questions_back_and_change_an_answer() -> None:
    d = Driver()
    d.send(f.Scanned(QR))
    d.send(f.CardRead(ADULT, TODAY))
    d.answer(PRECHECK)
    assert d.state.question is not None and d.state.question.id == "fever"
    d.touch(Action.YES)
    d.touch(Action.BACK)
    assert d.state.question is not None and d.state.question.id == "fever"
    d.touch(Action.NO)
    d.touch(Action.YES)
    assert d.state.screen is Screen.CONSENT
    d.touch(Action.BACK)
    assert d.state.question is not None and d.state.question.id == "allergy"
    d.touch(Action.NO)
    d.touch(Action.AGREE)
    assert d.calls()[-1].body["answers"] == {"fever": False, "allergy": False}


def test_no_questions_and_no_consent_goes_straight_to_check_in() -> None:
    d = Driver()
    d.send(f.Scanned(QR))
    d.send(f.CardRead(ADULT, TODAY))
    d.answer({**PRECHECK, "questions": [], "consent": {"version": "x", "text": {}}})
    assert d.state.screen is Screen.ISSUING
    assert "consent_version" not in d.calls()[-1].body


def test_consent_declined_sends_to_the_doctor() -> None:
    d = Driver()
    to_consent(d)
    d.touch(Action.DECLINE)
    assert d.state.screen is Screen.PROBLEM
    assert d.state.problem is not None and d.state.problem.desk is f.Desk.MEDICAL
    assert d.state.problem.message("en") is None  # the kiosk's own catalogue words it


@pytest.mark.parametrize("reason", all_reason_codes())
@pytest.mark.parametrize("at", ["precheck", "check_in"])
@pytest.mark.parametrize("language", ["zh-CN", "zh-TW", "en"])
def test_every_refusal_shows_the_servers_words_and_a_desk(
    reason: str, at: str, language: str
) -> None:
    d = Driver()
    d.touch(Action.LANGUAGE, language)
    if at == "precheck":
        d.send(f.Scanned(QR))
        d.send(f.CardRead(ADULT, TODAY))
    else:
        to_consent(d)
        d.touch(Action.AGREE)
    described = reasons.describe(reason, {}, reason)
    d.send(f.Refused(d.pending_call().id, reason, described["messages"], described["hints"]))
    assert d.state.screen is Screen.PROBLEM
    problem = d.state.problem
    assert problem is not None and problem.reason == reason
    assert problem.message(d.state.language) == described["messages"][language]
    assert problem.desk is f.desk_for(reason)
    assert d.timeout is not None  # a problem screen never stays forever
    d.send(f.Idle(d.state.idle_seq))
    assert d.state.screen is Screen.ATTRACT
    assert not d.of(f.Abandon)  # refused: no ticket exists


@pytest.mark.parametrize(
    ("reason", "desk"),
    [
        ("id_mismatch", f.Desk.INFO),
        ("unknown_booking", f.Desk.INFO),
        ("deferred_by_screening", f.Desk.MEDICAL),
        ("interval_too_short", f.Desk.MEDICAL),
        ("walk_in_full", f.Desk.WALK_IN),
        ("something_new", f.Desk.INFO),
    ],
)
def test_desks(reason: str, desk: f.Desk) -> None:
    assert f.desk_for(reason) is desk


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["precheck", "check_in"])
def test_server_unreachable_retries_the_same_call_with_backoff(kind: str) -> None:
    d = Driver()
    if kind == "precheck":
        d.send(f.Scanned(QR))
        d.send(f.CardRead(ADULT, TODAY))
    else:
        to_consent(d)
        d.touch(Action.AGREE)
    call = d.pending_call()
    delays = []
    for _ in range(5):
        step = d.send(f.Unreachable(call.id, "connection refused"))
        assert d.state.screen is Screen.OFFLINE
        (retry,) = [e for e in step.effects if isinstance(e, f.RetryLater)]
        delays.append(retry.seconds)
        d.send(f.RetryDue(retry.seq))
        assert d.calls()[-1] == call  # same body, same idempotency key
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    d.answer(TICKET if kind == "check_in" else PRECHECK)
    assert d.state.screen is (Screen.PRINTING if kind == "check_in" else Screen.QUESTION)
    keys = {c.request_id for c in d.calls() if c.kind == "check_in"}
    assert len(keys) == (1 if kind == "check_in" else 0)


def test_retry_now_and_stale_retry_timer() -> None:
    d = Driver()
    to_consent(d)
    d.touch(Action.AGREE)
    call = d.pending_call()
    step = d.send(f.Unreachable(call.id))
    (retry,) = [e for e in step.effects if isinstance(e, f.RetryLater)]
    d.touch(Action.RETRY_NOW)
    assert d.calls()[-1] == call
    sent = len(d.calls())
    d.send(f.RetryDue(retry.seq))  # the timer of an earlier transition: ignored
    assert len(d.calls()) == sent


@pytest.mark.parametrize("how", ["idle", "start_over"])
def test_leaving_while_the_check_in_is_unanswered_abandons_it(how: str) -> None:
    d = Driver()
    to_consent(d)
    d.touch(Action.AGREE)
    call = d.pending_call()
    d.send(f.Unreachable(call.id))
    if how == "idle":
        d.send(f.Idle(d.state.idle_seq))
    else:
        d.touch(Action.START_OVER)
    assert d.state.screen is Screen.ATTRACT
    assert d.of(f.Abandon) == [f.Abandon(call)]
    d.send(f.Answered(call.id, TICKET))  # the late answer changes nothing on screen
    assert d.state.screen is Screen.ATTRACT and d.state.ticket is None


@pytest.mark.parametrize(
    "screen_events",
    [
        [f.Scanned(QR)],
        [f.CardRead(ADULT, TODAY)],
        [f.CardRead(ADULT, TODAY), f.Touched(Action.WALK_IN)],
        [f.Scanned(QR), f.CardRead(ADULT, TODAY)],
    ],
)
def test_inactivity_before_a_check_in_returns_to_attract_without_cancel(
    screen_events: list[f.Event],
) -> None:
    d = Driver()
    for event in screen_events:
        d.send(event)
    stale = d.state.idle_seq - 1
    d.send(f.Idle(stale))
    assert d.state.screen is not Screen.ATTRACT
    d.send(f.Idle(d.state.idle_seq))
    assert d.state.screen is Screen.ATTRACT
    assert not d.of(f.Abandon)


def test_inactivity_in_questions_and_on_the_ticket() -> None:
    d = Driver()
    to_consent(d)
    d.send(f.Idle(d.state.idle_seq))
    assert d.state.screen is Screen.ATTRACT and not d.of(f.Abandon)
    d = Driver()
    to_ticket(d)
    d.send(f.Idle(d.state.idle_seq))
    assert d.state.screen is Screen.ATTRACT
    assert not d.of(f.Abandon)  # the person saw the ticket: never cancelled


@pytest.mark.parametrize("reason", ["paper_out", "cover_open", "timeout", "unavailable", "garbled"])
def test_print_failure_shows_the_ticket_alerts_staff_and_offers_reprint(reason: str) -> None:
    d = Driver()
    to_consent(d)
    d.touch(Action.AGREE)
    d.answer(TICKET)
    d.send(f.PrintFailed(reason))
    assert d.state.screen is Screen.TICKET
    assert d.state.print_state is f.PrintState.FAILED
    assert d.state.ticket is not None and d.state.ticket.number == "A023"
    assert d.of(f.ReportPrint) == [f.ReportPrint(7, False, reason)]
    assert d.of(f.AlertStaff) == [f.AlertStaff("printer", reason)]
    assert d.timeout == f.Timing().ticket_print_failed
    d.touch(Action.REPRINT)
    assert d.of(f.PrintTicket)[-1].reprint
    d.send(f.Printed())
    assert d.state.print_state is f.PrintState.PRINTED
    assert d.of(f.ReportPrint)[-1] == f.ReportPrint(7, True)


def test_printer_that_never_answers_is_a_failed_print() -> None:
    d = Driver()
    to_consent(d)
    d.touch(Action.AGREE)
    d.answer(TICKET)
    d.send(f.Idle(d.state.idle_seq))
    assert d.state.screen is Screen.TICKET and d.state.print_state is f.PrintState.FAILED


# --- people ---------------------------------------------------------------------------------


def test_another_person_keeps_language_and_chosen_elderly_mode() -> None:
    d = Driver()
    d.touch(Action.LANGUAGE, "en")
    d.touch(Action.ELDERLY, "on")
    to_ticket(d)
    d.touch(Action.ANOTHER)
    assert d.state.screen is Screen.ATTRACT
    assert (d.state.language, d.state.elderly, d.state.served) == ("en", True, 1)
    assert d.state.card is None and d.state.booking_qr is None and d.state.ticket is None
    d.touch(Action.DONE)  # nothing to finish on the attract screen
    to_ticket(d)
    d.touch(Action.DONE)
    assert (d.state.language, d.state.elderly, d.state.served) == ("zh-CN", False, 2)


def test_elderly_mode_switches_on_from_the_card_and_doubles_timeouts() -> None:
    d = Driver()
    d.send(f.CardRead(ADULT, TODAY))
    assert not d.state.elderly and d.timeout == f.Timing().waiting
    d = Driver()
    d.send(f.CardRead(SENIOR, TODAY))
    assert d.state.elderly and d.state.elderly_auto
    assert d.timeout == f.Timing().waiting * 2
    assert [e.key for e in d.of(f.Speak)] == ["prompt.scan_or_walk_in"]
    to_consent(d, card=SENIOR)
    d.touch(Action.AGREE)
    d.answer(TICKET)
    d.send(f.Printed())
    d.touch(Action.ANOTHER)  # the next family member is not assumed to be 60+
    assert not d.state.elderly


def test_elderly_boundary_is_the_sixtieth_birthday() -> None:
    d = Driver()
    d.send(f.CardRead(f.Card("x", "y", date(1966, 11, 21)), TODAY))
    assert d.state.elderly
    d = Driver()
    d.send(f.CardRead(f.Card("x", "y", date(1966, 11, 22)), TODAY))
    assert not d.state.elderly


@pytest.mark.parametrize(("value", "expected"), [("zh-TW", "zh-TW"), ("en", "en"), ("fr", "zh-CN")])
def test_language_choice(value: str, expected: str) -> None:
    d = Driver()
    d.touch(Action.LANGUAGE, value)
    assert d.state.language == expected


def test_card_body_and_age() -> None:
    assert ADULT.body() == {
        "id_type": "cn_resident",
        "id_number": "450103199001011238",
        "name": "张小明",
        "birth_date": "1990-01-01",
        "sex": "male",
    }
    assert f.Card("x", "y").age_on(TODAY) is None
    assert f.Card("x", "y").body() == {"id_type": "cn_resident", "id_number": "x", "name": "y"}


def test_server_retries_do_not_restart_the_inactivity_timer() -> None:
    d = Driver()
    to_consent(d)
    d.touch(Action.AGREE)
    call = d.pending_call()
    step = d.send(f.Unreachable(call.id))
    assert step.rearm and d.state.screen is Screen.OFFLINE
    armed = d.state.idle_seq
    for _ in range(3):
        (retry,) = [e for e in step.effects if isinstance(e, f.RetryLater)]
        assert not d.send(f.RetryDue(retry.seq)).rearm
        step = d.send(f.Unreachable(call.id))
        assert not step.rearm
    assert d.state.idle_seq == armed
    d.send(f.Idle(armed))  # the timer armed on arrival at the offline screen still counts
    assert d.state.screen is Screen.ATTRACT and d.of(f.Abandon) == [f.Abandon(call)]
    assert d.touch(Action.LANGUAGE, "en").rearm  # a touch restarts it
