"""The check-in flow for a minor: the guardian's card, the relation, the consent, the ticket."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from vaxflow.kiosk import flow as f
from vaxflow.kiosk.flow import Action, Screen
from vaxflow.screens.kiosk import i18n, texts

from .test_flow import PRECHECK, QR, TICKET, TODAY, Driver

CHILD = f.Card("110101201605010018", "李小明", date(2016, 5, 1), "male")
PARENT = f.Card("110101198604020023", "李大明", date(1986, 4, 2), "female")
GRANDPA = f.Card("11010119580315002X", "李老", date(1958, 3, 15), "male")
MINOR = {**PRECHECK, "person": {"name": "李*明", "age": 10}, "minor": True}
NEEDS_GUARDIAN = {**MINOR, "guardian_required": True}


def to_guardian_card(d: Driver, walk_in: bool = False) -> None:
    if walk_in:
        d.send(f.CardRead(CHILD, TODAY))
        d.touch(Action.WALK_IN)
        d.touch(Action.AGREE)
    else:
        d.send(f.Scanned(QR))
        d.send(f.CardRead(CHILD, TODAY))
    d.answer(NEEDS_GUARDIAN)
    assert d.state.screen is Screen.GUARDIAN_CARD


@pytest.mark.parametrize("walk_in", [False, True])
def test_a_minor_brings_a_guardian_through_to_the_ticket(walk_in: bool) -> None:
    d = Driver()
    to_guardian_card(d, walk_in)
    assert d.state.question is None  # the questions wait for the guardian
    d.send(f.CardRead(PARENT, TODAY))
    assert d.state.screen is Screen.GUARDIAN_RELATION and d.state.guardian == PARENT
    d.touch(Action.RELATION, "parent")
    assert d.state.screen is Screen.CHECKING
    again = d.calls()[-1]
    assert again.kind == "precheck"
    assert again.body["guardian"] == {**PARENT.body(), "relation": "parent"}
    d.answer({**NEEDS_GUARDIAN, "guardian": {"name": "李*明", "relation": "parent"}})
    assert d.state.screen is Screen.QUESTION
    d.touch(Action.NO)
    d.touch(Action.NO)
    assert d.state.screen is Screen.CONSENT
    words = texts.screen_texts(replace(d.state, language="en"))
    assert words["guardian"] == "The guardian 李*明 reads and agrees for the child."
    d.touch(Action.AGREE)
    check_in = d.calls()[-1]
    assert check_in.kind == "check_in"
    assert check_in.body["guardian"] == {
        **PARENT.body(),
        "relation": "parent",
        "consent_version": "2021-03",
    }
    assert check_in.body["consent_version"] == "2021-03"
    person = check_in.body["walk_in" if walk_in else "id_card"]
    assert person["id_number"] == CHILD.id_number  # the child is the one checked in
    d.answer(TICKET)
    d.send(f.Printed())
    assert d.state.screen is Screen.TICKET


@pytest.mark.parametrize(
    "same",
    [CHILD, replace(CHILD, id_number=f" {CHILD.id_number} "), replace(CHILD, name="另一个名字")],
)
def test_the_childs_card_twice_is_refused_on_the_spot(same: f.Card) -> None:
    d = Driver()
    to_guardian_card(d)
    calls = len(d.calls())
    d.send(f.CardRead(same, TODAY))
    assert d.state.screen is Screen.GUARDIAN_CARD and d.state.guardian is None
    assert d.state.notice == "notice.guardian_same_card"
    assert len(d.calls()) == calls  # nothing sent
    for language in ("zh-CN", "zh-TW", "en"):
        shown = texts.screen_texts(replace(d.state, language=language))["notice"]
        assert shown and shown != "notice.guardian_same_card"
    d.send(f.CardRead(PARENT, TODAY))
    assert d.state.screen is Screen.GUARDIAN_RELATION and d.state.notice == ""


def test_guardian_screens_back_unreadable_stray_and_timeout() -> None:
    d = Driver()
    to_guardian_card(d)
    d.send(f.CardUnreadable("garbled"))
    assert d.state.notice == "notice.card_again"
    d.send(f.Scanned("DEMO0002"))  # a scan here is the next person's: held, not used here
    assert d.state.screen is Screen.GUARDIAN_CARD
    d.send(f.CardRead(PARENT, TODAY))
    d.touch(Action.RELATION, "neighbour")  # not a button: nothing happens
    assert d.state.screen is Screen.GUARDIAN_RELATION and d.state.relation is None
    d.touch(Action.BACK)
    assert d.state.screen is Screen.GUARDIAN_CARD and d.state.guardian is None
    d.send(f.CardRead(PARENT, TODAY))
    assert d.timeout == d.flow.timing.answering
    d.send(f.Idle(d.state.idle_seq))
    # the timeout ends this check-in; the held scan starts the next person's at once
    assert d.state.guardian is None and d.state.card is None
    assert (d.state.screen, d.state.booking_qr) == (Screen.WAIT_CARD, "DEMO0002")


def test_an_elderly_guardian_turns_on_elderly_mode() -> None:
    d = Driver()
    to_guardian_card(d)
    assert not d.state.elderly
    d.send(f.CardRead(GRANDPA, TODAY))
    assert d.state.elderly and d.state.elderly_auto
    assert any(isinstance(e, f.Speak) and e.screen is Screen.GUARDIAN_RELATION for e in d.effects)


@pytest.mark.parametrize("reason", sorted(f.GUARDIAN_CARD_REFUSALS))
def test_a_guardian_card_the_server_refuses_asks_for_another(reason: str) -> None:
    d = Driver()
    to_guardian_card(d)
    d.send(f.CardRead(PARENT, TODAY))
    d.touch(Action.RELATION, "grandparent")
    said = {"en": "The guardian must be at least 18.", "zh-CN": "监护人须年满 18 周岁。"}
    d.send(f.Refused(d.pending_call().id, reason, said))
    assert d.state.screen is Screen.GUARDIAN_CARD
    assert (d.state.guardian, d.state.relation, d.state.pending) == (None, None, None)
    words = texts.screen_texts(replace(d.state, language="en"))
    assert words["notice"] == "The guardian must be at least 18."
    d.send(f.CardRead(GRANDPA, TODAY))  # another adult's card
    assert d.state.screen is Screen.GUARDIAN_RELATION and d.state.problem is None
    d.touch(Action.RELATION, "grandparent")
    assert d.calls()[-1].body["guardian"]["id_number"] == GRANDPA.id_number


@pytest.mark.parametrize("reason", ["walk_in_full", "guardian_relation_required", "too_young"])
def test_other_refusals_with_a_guardian_end_on_the_problem_screen(reason: str) -> None:
    d = Driver()
    to_guardian_card(d)
    d.send(f.CardRead(PARENT, TODAY))
    d.touch(Action.RELATION, "parent")
    d.send(f.Refused(d.pending_call().id, reason))
    assert d.state.screen is Screen.PROBLEM
    assert d.state.problem is not None and d.state.problem.reason == reason


def test_an_adult_goes_straight_to_the_questions() -> None:
    d = Driver()
    d.send(f.Scanned(QR))
    d.send(f.CardRead(PARENT, TODAY))
    d.answer({**PRECHECK, "minor": False, "guardian_required": False})
    assert d.state.screen is Screen.QUESTION


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW", "en"])
@pytest.mark.parametrize("screen", [Screen.GUARDIAN_CARD, Screen.GUARDIAN_RELATION])
def test_guardian_screens_are_worded(screen: Screen, language: str) -> None:
    state = f.State(
        screen=screen,
        language=language,  # type: ignore[arg-type]
        card=CHILD,
        guardian=PARENT,
        precheck=f.Precheck.from_json(NEEDS_GUARDIAN),
    )
    words = texts.screen_texts(state)
    assert words["title"] and words["sub"]
    assert all("{" not in value for value in words.values())
    assert "李大明" not in str(words)  # masked names only
    if screen is Screen.GUARDIAN_RELATION:
        assert all(words[f"r_{code}"] for code in f.RELATIONS)
        assert words["r_parent"] == i18n.text("relation.parent", language)
