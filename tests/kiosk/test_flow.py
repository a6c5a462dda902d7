"""The check-in flow, pure: tables of (events -> screen, effects), every refusal, every fault."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_card_only_booked_person_is_told_the_booking_was_found() -> None:
    """The kiosk sends the card as a walk-in; the server found today's booking by its number."""
    d = Driver()
    d.send(f.CardRead(ADULT, TODAY))
    d.touch(Action.WALK_IN)
    d.touch(Action.AGREE)
    assert d.calls()[-1].body == {"walk_in": ADULT.body()}
    d.answer({**PRECHECK, "booking_found_by_id": True, "booking_code": "****0001"})
    assert d.state.precheck is not None and d.state.precheck.booking_found_by_id
    assert not d.state.precheck.walk_in
    d.touch(Action.NO)
    d.touch(Action.NO)
    d.touch(Action.AGREE)
    assert "walk_in" in d.calls()[-1].body  # the server finds the booking again at check-in
    d.answer(TICKET)
    d.send(f.Printed())
    assert d.state.ticket is not None and not d.state.ticket.walk_in


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
    assert d.of(f.Speak) == [f.Speak(Screen.WAIT_BOOKING, "zh-CN")]
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


# --- the next person --------------------------------------------------------------------------

NEXT = f.Card("110101198001010014", "王芳", date(1980, 1, 1), "female")


def on_screen(how: str) -> Driver:
    """A kiosk showing the previous person's printed ticket, or a refusal."""
    d = Driver()
    if how == "ticket":
        to_ticket(d)
    else:
        d.send(f.Scanned(QR))
        d.send(f.CardRead(ADULT, TODAY))
        d.send(f.Refused(d.pending_call().id, "id_mismatch"))
    assert d.state.screen is (Screen.TICKET if how == "ticket" else Screen.PROBLEM)
    return d


@pytest.mark.parametrize("how", ["ticket", "problem"])
@pytest.mark.parametrize("first", ["qr", "card"])
def test_next_persons_scan_or_card_on_the_ticket_or_problem_screen_starts_at_once(
    how: str, first: str
) -> None:
    d = on_screen(how)
    served = d.state.served
    events: list[f.Event] = [f.Scanned("DEMO0002"), f.CardRead(NEXT, TODAY)]
    if first == "card":
        events.reverse()
    d.send(events[0])
    assert d.state.screen is (Screen.WAIT_CARD if first == "qr" else Screen.WAIT_BOOKING)
    assert d.state.ticket is None and d.state.problem is None and d.state.served == served
    d.send(events[1])
    assert d.state.screen is Screen.CHECKING
    assert d.calls()[-1].body == {"booking_qr": "DEMO0002", "id_card": NEXT.body()}
    assert not d.of(f.Abandon)  # the previous ticket is on paper: never cancelled


@pytest.mark.parametrize("how", ["ticket", "problem"])
def test_the_same_persons_booking_or_card_again_is_not_a_next_person(how: str) -> None:
    d = on_screen(how)
    before = d.state
    assert d.send(f.Scanned(QR)).state is before
    assert d.send(f.CardRead(ADULT, TODAY)).state is before


def test_next_person_while_the_ticket_prints_waits_for_the_paper() -> None:
    d = Driver()
    to_consent(d)
    d.touch(Action.AGREE)
    d.answer(TICKET)
    assert d.state.screen is Screen.PRINTING
    d.send(f.CardRead(NEXT, TODAY))
    d.send(f.Scanned("DEMO0002"))
    assert d.state.screen is Screen.PRINTING and d.state.ticket is not None  # still shown
    assert len(d.state.queued) == 2
    d.send(f.Printed())
    assert d.of(f.ReportPrint) == [f.ReportPrint(7, True)]  # the ticket is done first
    assert d.state.screen is Screen.CHECKING and d.state.queued == ()
    assert d.calls()[-1].body == {"booking_qr": "DEMO0002", "id_card": NEXT.body()}


def test_a_failed_print_keeps_its_number_on_screen_until_that_person_is_done() -> None:
    d = Driver()
    to_consent(d)
    d.touch(Action.AGREE)
    d.answer(TICKET)
    d.send(f.PrintFailed("paper_out"))
    d.send(f.CardRead(NEXT, TODAY))  # the next person, while the number is only on screen
    assert d.state.screen is Screen.TICKET and d.state.print_state is f.PrintState.FAILED
    d.touch(Action.REPRINT)
    d.send(f.Printed())  # on paper now: the next person goes on
    assert d.state.screen is Screen.WAIT_BOOKING and d.state.card == NEXT


@pytest.mark.parametrize("leave", ["idle", "done", "another", "start_over"])
def test_a_card_placed_during_questions_is_read_when_the_kiosk_returns_to_the_start(
    leave: str,
) -> None:
    d = Driver()
    to_consent(d)
    d.send(f.CardRead(NEXT, TODAY))  # lying on the reader; the reader reports it only once
    assert d.state.screen is Screen.CONSENT
    if leave == "idle":
        d.send(f.Idle(d.state.idle_seq))
    elif leave == "start_over":
        d.touch(Action.START_OVER)
    else:
        d.touch(Action.AGREE)
        d.answer(TICKET)
        d.send(f.PrintFailed("paper_out"))  # held until this person is done
        d.touch(Action.DONE if leave == "done" else Action.ANOTHER)
    assert d.state.screen is Screen.WAIT_BOOKING and d.state.card == NEXT


def test_a_second_booking_scan_says_which_booking_is_now_in_use() -> None:
    d = Driver()
    d.send(f.Scanned("DEMO0001"))
    d.send(f.Scanned("DEMO0001"))  # the same code twice: nothing to say
    assert d.state.notice == ""
    d.send(f.Scanned("https://book.example/b?code=BK-4711"))
    assert (d.state.notice, d.state.notice_arg) == ("notice.booking_replaced", "4711")
    assert d.state.screen is Screen.WAIT_CARD
    d.send(f.CardRead(ADULT, TODAY))
    assert d.calls()[-1].body["booking_qr"] == "https://book.example/b?code=BK-4711"


# --- the voice ------------------------------------------------------------------------------


def test_voice_speaks_every_new_screen_and_question_and_hushes_when_switched_off() -> None:
    d = Driver()
    d.touch(Action.VOICE, "on")
    assert d.of(f.Speak) == [f.Speak(Screen.ATTRACT, "zh-CN")]  # what is on screen now
    d.touch(Action.LANGUAGE, "en")
    to_consent(d)
    spoken = [(e.screen, e.language) for e in d.of(f.Speak)]
    assert spoken[1:] == [
        (Screen.ATTRACT, "en"),
        (Screen.WAIT_CARD, "en"),
        (Screen.CHECKING, "en"),
        (Screen.QUESTION, "en"),
        (Screen.QUESTION, "en"),  # the second question
        (Screen.CONSENT, "en"),
    ]
    d.touch(Action.VOICE, "off")
    assert d.of(f.Hush) == [f.Hush()]
    d.touch(Action.AGREE)
    assert d.of(f.Speak)[-1].screen is Screen.CONSENT  # nothing more said


def test_elderly_mode_always_speaks_and_voice_starts_on_with_speak() -> None:
    d = Driver()
    d.touch(Action.ELDERLY, "on")
    assert d.state.speaking and d.of(f.Speak) == [f.Speak(Screen.ATTRACT, "zh-CN")]
    d.touch(Action.VOICE, "off")
    assert d.state.speaking  # elderly mode keeps it on
    flow = f.Flow(lambda: "rid", voice=True)
    state = flow.start().state
    assert state.speaking
    state = flow.handle(state, f.Touched(Action.VOICE, "off")).state
    state = flow.handle(state, f.Touched(Action.START_OVER)).state
    state = flow.handle(state, f.Scanned(QR)).state
    state = flow.handle(state, f.Touched(Action.START_OVER)).state
    assert state.speaking  # the next person starts with the kiosk's setting again


# --- no input lost, whatever comes in whatever order ------------------------------------------

CARDS = [ADULT, NEXT, SENIOR]
CODES = ["DEMO0001", "DEMO0002", "DEMO0003"]


def _event(d: Driver, pick: int, which: int) -> f.Event:
    """One of the things that can happen next, answering whatever call is pending."""
    pending = d.state.pending
    options: list[f.Event] = [
        f.Scanned(CODES[which % 3]),
        f.CardRead(CARDS[which % 3], TODAY),
        f.Touched(Action.NO),
        f.Touched(Action.AGREE),
        f.Touched(Action.DONE),
        f.Touched(Action.ANOTHER),
        f.Printed(),
        f.PrintFailed("paper_out"),
        f.Touched(Action.REPRINT),
        f.Idle(d.state.idle_seq),
    ]
    if pending is not None:
        answer = PRECHECK if pending.kind == "precheck" else TICKET
        options += [f.Answered(pending.id, answer), f.Refused(pending.id, "id_mismatch")]
    return options[pick % len(options)]


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 2)), max_size=60))
def test_every_scan_and_card_is_used_or_held_and_no_seen_ticket_is_cancelled(
    steps: list[tuple[int, int]],
) -> None:
    d = Driver()
    seen_calls: set[int] = set()  # check-ins whose ticket reached the screen
    for pick, which in steps:
        event = _event(d, pick, which)
        before = d.state
        d.send(event)
        s = d.state
        if isinstance(event, f.Scanned) and not (
            before.screen is not Screen.ATTRACT and before.booking_qr == event.text
        ):
            held = [e.text for e in s.queued if isinstance(e, f.Scanned)]
            assert event.text == s.booking_qr or event.text in held, (before.screen, s)
        if isinstance(event, f.CardRead) and not (
            before.screen is not Screen.ATTRACT
            and before.card is not None
            and before.card.id_number == event.card.id_number
        ):
            held_cards = [e.card for e in s.queued if isinstance(e, f.CardRead)]
            assert event.card == s.card or event.card in held_cards, (before.screen, s)
        if s.ticket is not None:
            seen_calls.add(s.calls)
    assert not [a for a in d.of(f.Abandon) if a.call.id in seen_calls]
