"""The kiosk's words: every key in all three catalogues, every screen worded, masked names."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from vaxflow.kiosk import flow as f
from vaxflow.screens.kiosk import i18n, texts

LANGS = ("zh-CN", "zh-TW", "en")
TICKET = f.Ticket(7, "A023", "A", "Booked", "Demo Stadium", "VXF1:x:2026-11-21:A023", 12)


@pytest.mark.parametrize("language", LANGS)
def test_every_key_is_translated(language: str) -> None:
    missing = [key for key in i18n.message_ids() if not i18n.has(key, language)]
    assert not missing


def test_keys_the_flow_and_screens_use_exist() -> None:
    keys = set(i18n.message_ids())
    used = {f"desk.{desk.value}" for desk in f.Desk}
    used |= {f"button.{name}" for name in texts.BUTTONS}
    used |= {"notice.card_again", "notice.retrying", "reason.consent_declined"}
    used |= {"notice.booking_replaced", "notice.next_held", "voice.on", "voice.off"}
    used |= {"speak.ticket", "prompt.consent", "prompt.answer", "prompt.scan_or_walk_in"}
    used |= {"notice.booking_read", "reason.document_at_desk", "prompt.confirm"}
    used |= {f"document.{code}" for code in f.DOCUMENTS}
    for fields in f.TYPED_FIELDS.values():
        used |= {f"typed.title.{name}" for name in fields}
    used |= {f"typed.help.{name}" for name in (*f.DOCUMENTS, "name", "birth")}
    assert used <= keys


def test_placeholders_are_filled() -> None:
    assert i18n.text("ticket.wait", "zh-CN", n=12) == "预计等候 12 分钟"
    assert i18n.text("ticket.wait", "en") == "Estimated wait {n} min"  # left visible
    assert i18n.text("no.such.key", "zh-TW") == "no.such.key"


def state_on(screen: f.Screen = f.Screen.ATTRACT, **changes: object) -> f.State:
    precheck = f.Precheck(
        "张*明",
        "CoronaVac",
        1,
        False,
        (f.Question("fever", {"zh-CN": "发热？", "en": "Fever?"}),),
        "v1",
        {"zh-CN": "同意", "en": "I agree"},
        booked_answers=(("fever", False),),
    )
    base = f.State(
        screen=screen,
        card=f.Card("450103199001011238", "张小明", date(1990, 1, 1)),
        precheck=precheck,
        ticket=TICKET,
        print_state=f.PrintState.PRINTED,
        problem=f.Problem("id_mismatch", {"en": "Not your card."}),
        typed=f.Typed("passport"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize("screen", list(f.Screen))
def test_every_screen_has_a_title_or_a_question(screen: f.Screen, language: str) -> None:
    words = texts.screen_texts(state_on(screen, language=language))
    assert words.get("title") or words.get("question")
    assert all("{" not in value for value in words.values()), words


def test_screens_show_masked_names_only() -> None:
    words = texts.screen_texts(state_on(f.Screen.WAIT_BOOKING, language="en"))
    assert "张*明" in words["sub"] and "张小明" not in str(words)


def test_problem_uses_the_servers_words_then_the_catalogue() -> None:
    words = texts.screen_texts(state_on(f.Screen.PROBLEM, language="en"))
    assert words["body"] == "Not your card."
    assert words["go_to"] == "Please go to the information desk"
    declined = state_on(f.Screen.PROBLEM, problem=f.Problem("consent_declined"))
    assert "知情同意" in texts.screen_texts(declined)["body"]
    unknown = state_on(f.Screen.PROBLEM, problem=f.Problem("brand_new_reason"), language="en")
    assert texts.screen_texts(unknown)["body"] == i18n.text("reason.unknown", "en")


def test_ticket_screen_and_printed_ticket_in_the_persons_language() -> None:
    words = texts.screen_texts(state_on(f.Screen.TICKET))
    assert words["number"] == "A023" and words["lane"] == "通道：预约通道"
    failed = texts.screen_texts(state_on(f.Screen.TICKET, print_state=f.PrintState.FAILED))
    assert failed["print_failed"] and "小票没有打印出来" in failed["status"]
    view = texts.ticket_view(TICKET, "zh-TW", datetime(2026, 11, 21, 9, 30))
    assert (view.number, view.lane_name, view.label_title) == ("A023", "預約通道", "排隊號")
    assert view.issued_at == "2026-11-21 09:30" and view.qr_payload == TICKET.qr


@pytest.mark.parametrize("language", LANGS)
def test_a_booking_found_by_the_card_is_said_on_the_question_screen(language: str) -> None:
    state = state_on(f.Screen.QUESTION, language=language)
    assert state.precheck is not None
    found = replace(state, precheck=replace(state.precheck, booking_found_by_id=True))
    said = texts.screen_texts(found)["person"]
    assert i18n.text("question.booking_found", language) in said
    assert "\n" not in texts.screen_texts(state)["person"]


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize("screen", list(f.Screen))
def test_every_screen_has_words_to_say_in_the_persons_language(
    screen: f.Screen, language: str
) -> None:
    said = texts.spoken_words(state_on(screen, language=language))
    assert said and "{" not in said and "\n" not in said
    shown = texts.screen_texts(state_on(screen, language=language))
    if screen is f.Screen.QUESTION:
        assert shown["question"] in said
    if screen is f.Screen.TICKET:
        assert "A 0 2 3" in said and shown["lane"] in said and shown["go_to"] in said
    if screen is f.Screen.PROBLEM:
        assert shown["body"] in said and shown["go_to"] in said


def test_the_screens_name_the_booking_now_in_use_and_the_voice_switch() -> None:
    state = state_on(f.Screen.WAIT_CARD, notice="notice.booking_replaced", notice_arg="4711")
    assert "4711" in texts.screen_texts(state)["notice"]
    assert "4711" in texts.spoken_words(state)
    assert texts.screen_texts(state_on(f.Screen.ATTRACT, language="en"))["voice"].endswith("off")
    on = state_on(f.Screen.ATTRACT, language="en", elderly=True)
    assert texts.screen_texts(on)["voice"].endswith("on")
    assert texts.screen_texts(on)["elderly"].startswith("✓")


@pytest.mark.parametrize(
    ("language", "shown"),
    [("zh-CN", "克尔来福"), ("zh-TW", "克爾來福"), ("en", "CoronaVac")],
)
def test_the_product_is_named_in_the_persons_language(language: str, shown: str) -> None:
    """A site file that names the product per language: the question screen says it so."""
    state = state_on(f.Screen.QUESTION, language=language, question_index=0)
    assert state.precheck is not None
    named = replace(
        state.precheck,
        product_names={"en": "CoronaVac", "zh-CN": "克尔来福", "zh-TW": "克爾來福"},
    )
    words = texts.screen_texts(replace(state, precheck=named))
    assert shown in words["person"], words["person"]


def test_every_typing_error_the_flow_gives_has_words() -> None:
    flow = Path(f.__file__).read_text("utf-8")
    errors = set(re.findall(r'"(typed\.error\.[a-z_]+)"', flow))
    assert len(errors) >= 10
    assert errors <= set(i18n.message_ids())


@pytest.mark.parametrize("language", LANGS)
def test_typing_and_confirm_screens(language: str) -> None:
    typed = f.Typed("passport", field="birth", birth="19800")
    words = texts.screen_texts(state_on(f.Screen.TYPING, language=language, typed=typed))
    assert words["value"] == "1980-0_-__"
    assert words["keys"] == f.DIGITS
    shown = texts.screen_texts(state_on(f.Screen.CONFIRM_ANSWERS, language=language))
    no = i18n.text("confirm.no", language)
    assert shown["body"].startswith(no) and ("Fever?" in shown["body"] or "发热" in shown["body"])
    english = i18n.text("attract.no_id_card", "en")
    attract = texts.screen_texts(state_on(f.Screen.ATTRACT, language=language))
    assert english in attract["no_id_card"]  # English always, under the chosen language


STAFF = {"zh-CN": "工作人员", "zh-TW": "工作人員", "en": "staff"}
JARGON: tuple[str, ...] = ("server", "token", "device", "request")
JARGON += ("服务器", "伺服器", "设备", "設備", "请求", "請求")


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize("reason", sorted(texts.FAULTS))
def test_every_fault_is_said_plainly_with_what_to_do(reason: str, language: str) -> None:
    """The machine's faults in the kiosk's own words (never the server's, written for staff):
    no jargon, and always "ask a member of staff"."""
    problem = f.Problem(reason, {language: "Sign in first: this device has no valid token."})
    shown = texts.screen_texts(state_on(f.Screen.PROBLEM, language=language, problem=problem))
    assert "token" not in shown["body"]
    assert STAFF[language] in shown["body"]
    assert shown["title"] == i18n.text("fault.title", language)


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize(
    "state",
    [
        {"screen": f.Screen.OFFLINE},
        {"screen": f.Screen.TICKET, "print_state": f.PrintState.FAILED},
        {"screen": f.Screen.PROBLEM, "problem": f.Problem("never_heard_of")},
    ],
    ids=["offline", "print_failed", "unknown"],
)
def test_the_kiosks_fault_screens_use_plain_words(language: str, state: dict[str, Any]) -> None:
    shown = texts.screen_texts(state_on(language=language, **state))
    words = " ".join(shown.values()).lower()
    assert not [w for w in JARGON if w in words], words
    assert STAFF[language] in words


def test_no_kiosk_string_speaks_jargon() -> None:
    for language in LANGS:
        for key in i18n.message_ids():
            said = i18n.text(key, language).lower()
            assert not [w for w in JARGON if w in said], (language, key, said)


def test_a_typed_passport_is_not_called_an_id_card() -> None:
    card = f.Card("E12345678", "SMITH JANE", date(1985, 6, 15), id_type="passport")
    shown = texts.screen_texts(state_on(f.Screen.WAIT_BOOKING, language="en", card=card))
    assert shown["sub"].startswith("Document read")
