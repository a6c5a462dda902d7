"""What each kiosk screen says, from the flow's state: pure functions over the catalogues.

The screens bind to the dict `screen_texts` returns; the printed ticket's labels come from
`ticket_view`, in the person's language; what the kiosk says aloud comes from
`spoken_words`, from the same catalogues (the question, the consent in short, the ticket
number, lane and place, the desk), so the voice never says what the screen does not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from vaxflow.config.languages import LANGUAGE_NAMES
from vaxflow.hardware.layout import TicketView
from vaxflow.kiosk.flow import (
    DOCUMENTS,
    KEYS,
    RELATIONS,
    TYPED_FIELDS,
    PrintState,
    Screen,
    State,
    Ticket,
    Typed,
)
from vaxflow.queue.core.privacy import mask_name
from vaxflow.screens.kiosk.i18n import has, text

BUTTONS = (
    "walk_in",
    "get_walk_in",
    "back",
    "yes",
    "no",
    "agree",
    "decline",
    "retry_now",
    "reprint",
    "another",
    "done",
    "start_over",
    "next",
    "erase",
    "space",
    "unchanged",
    "changed",
)


#: Faults of the machine, not refusals of the person: the kiosk's own plain words, never the
#: server's (which are written for staff), and "ask a member of staff" in each.
FAULTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "unauthorized",
            "forbidden",
            "invalid_body",
            "http_error",
            "internal_error",
            "store_unavailable",
            "not_found",
            "method_not_allowed",
            "bad_request",
            "body_too_large",
        ),
        "machine",
    ),
    **dict.fromkeys(("rate_limited", "body_timeout", "feed_full"), "busy"),
    "booking_service_unavailable": "bookings",
}


def screen_texts(state: State) -> dict[str, str]:
    """Every string the current screen shows, translated; missing ones are ""."""
    lang = state.language

    def t(key: str, **params: object) -> str:
        return text(key, lang, **params)

    out: dict[str, str] = {f"b_{name}": t(f"button.{name}") for name in BUTTONS}
    out.update({f"lang_{code}": name for code, name in LANGUAGE_NAMES.items()})
    out["elderly"] = t("attract.elderly_on" if state.elderly else "attract.elderly")
    out["voice"] = t("voice.on" if state.speaking else "voice.off")
    out["notice"] = t(state.notice, tail=state.notice_arg) if state.notice else ""
    # for people who read neither Chinese nor the chosen language: English always under it
    no_card = t("attract.no_id_card")
    english = text("attract.no_id_card", "en")
    out["no_id_card"] = no_card if no_card == english else f"{no_card}\n{english}"
    screen = state.screen
    if screen is Screen.ATTRACT:
        out.update(
            title=t("attract.title"),
            body=t("attract.scan"),
            sub=t("attract.scan_help"),
            card=t("attract.card"),
        )
    elif screen is Screen.WAIT_CARD:
        out.update(title=t("wait_card.title"), sub=t("wait_card.got_booking"))
    elif screen is Screen.WAIT_BOOKING:
        name = mask_name(state.card.name) if state.card else ""
        out.update(
            title=t("wait_booking.title"),
            sub=t(
                "wait_booking.got_card"
                if state.card is None or state.card.id_type == "cn_resident"
                else "wait_booking.got_document",
                name=name,
            ),
            body=t("wait_booking.no_booking"),
        )
    elif screen is Screen.WALK_IN:
        out.update(title=t("walk_in.title"), body=t("walk_in.body"))
    elif screen is Screen.CHECKING:
        out.update(title=t("checking.title"))
    elif screen is Screen.ISSUING:
        out.update(title=t("issuing.title"))
    elif screen is Screen.QUESTION and state.question is not None and state.precheck:
        pre = state.precheck
        question = state.question
        out.update(
            progress=t("question.progress", n=state.question_index + 1, total=len(pre.questions)),
            person=t(
                "question.person",
                name=pre.person_name,
                product=pre.product_in(lang),
                dose=pre.dose_number,
            )
            + ("\n" + t("question.booking_found") if pre.booking_found_by_id else ""),
            question=question.text.get(lang) or question.text.get("en") or question.id,
        )
    elif screen is Screen.CONSENT and state.precheck is not None:
        consent = state.precheck.consent_text
        out.update(title=t("consent.title"), body=consent.get(lang) or consent.get("en", ""))
        if state.guardian is not None:
            out["guardian"] = t("consent.guardian", name=mask_name(state.guardian.name))
    elif screen is Screen.GUARDIAN_CARD:
        child = state.precheck.person_name if state.precheck else ""
        out.update(
            title=t("guardian_card.title"),
            sub=t("guardian_card.sub", name=child),
            body=t("guardian_card.body"),
        )
        if state.problem is not None:  # the server refused the last guardian's card
            said = state.problem.message(lang)
            key = f"reason.{state.problem.reason}"
            out["notice"] = said or (t(key) if _known(key, lang) else t("reason.unknown"))
    elif screen is Screen.GUARDIAN_RELATION:
        name = mask_name(state.guardian.name) if state.guardian else ""
        out.update(title=t("guardian_relation.title"), sub=t("guardian_relation.sub", name=name))
        out.update({f"r_{code}": t(f"relation.{code}") for code in RELATIONS})
    elif screen is Screen.DOCUMENT:
        out.update(title=t("document.title"), sub=t("document.sub"))
        out.update({f"d_{code}": t(f"document.{code}") for code in DOCUMENTS})
    elif screen is Screen.TYPING and state.typed is not None:
        out.update(_typing_texts(state.typed, t))
    elif screen is Screen.CONFIRM_ANSWERS and state.precheck is not None:
        pre = state.precheck
        asked = {q.id: q for q in pre.questions}
        lines = []
        for qid, yes in pre.booked_answers:
            q = asked[qid].text
            words = q.get(lang) or q.get("en") or qid
            answer = t("confirm.yes" if yes else "confirm.no")
            lines.append(t("confirm.line", question=words, answer=answer))
        out.update(
            title=t("confirm.title"),
            sub=t("confirm.sub"),
            person=t(
                "question.person",
                name=pre.person_name,
                product=pre.product_in(lang),
                dose=pre.dose_number,
            ),
            body="\n".join(lines),
        )
    elif screen is Screen.OFFLINE:
        out.update(title=t("offline.title"), body=t("offline.body"))
    elif screen in (Screen.PRINTING, Screen.TICKET) and state.ticket is not None:
        out.update(_ticket_texts(state, state.ticket))
    elif screen is Screen.PROBLEM and state.problem is not None:
        problem = state.problem
        fault = FAULTS.get(problem.reason)
        message = t(f"fault.{fault}") if fault else problem.message(lang)
        if message is None:
            key = f"reason.{problem.reason}"
            message = t(key) if _known(key, lang) else t("reason.unknown")
        out.update(
            title=t("fault.title") if fault else t("problem.title"),
            body=message,
            go_to=t("problem.go_to", desk=t(f"desk.{problem.desk.value}")),
        )
    return out


def _typing_texts(typed: Typed, t: Callable[..., str]) -> dict[str, str]:
    """The typing screen: which field, how it is written, what is typed so far, the keys."""
    fields = TYPED_FIELDS[typed.id_type]
    value = typed.value()
    if typed.field == "birth":  # 19800102 shown as 1980-01-02, blanks as _
        digits = value.ljust(8, "_")
        value = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    help_key = "typed.help." + (typed.id_type if typed.field == "number" else typed.field)
    return {
        "title": t(f"typed.title.{typed.field}"),
        "document": t(f"document.{typed.id_type}"),
        "step": t("typed.step", n=fields.index(typed.field) + 1, total=len(fields)),
        "help": t(help_key),
        "value": value,
        "keys": KEYS[typed.field],
    }


def _known(key: str, language: str) -> bool:
    return text(key, language) != key


def _ticket_texts(state: State, ticket: Ticket) -> dict[str, str]:
    lang = state.language

    def t(key: str, **params: object) -> str:
        return text(key, lang, **params)

    if ticket.estimated_wait_minutes is None:
        wait = t("ticket.wait_unknown")
    else:
        wait = t("ticket.wait", n=ticket.estimated_wait_minutes)
    status = {
        PrintState.PRINTED: t("ticket.printed"),
        PrintState.FAILED: t("ticket.print_failed"),
        PrintState.PRINTING: t("ticket.reprinting") if state.screen is Screen.TICKET else "",
        PrintState.NONE: "",
    }[state.print_state]
    if state.queued:  # the next person's scan or card is read and waits for this ticket
        status = "\n".join(x for x in (status, t("notice.next_held")) if x)
    title = t("printing.title") if state.screen is Screen.PRINTING else t("ticket.title")
    return {
        "title": title,
        "number": ticket.number,
        "lane": t("ticket.lane", lane=lane_name(ticket, lang)),
        "go_to": t("ticket.go_to", place=ticket.zone or t("ticket.waiting_area")),
        "wait": wait,
        "status": status,
        "print_failed": "1" if state.print_state is PrintState.FAILED else "",
    }


def spoken_words(state: State) -> str:
    """What the kiosk says for the current screen, in the person's language."""
    lang = state.language
    shown = screen_texts(state)

    def t(key: str, **params: object) -> str:
        return text(key, lang, **params)

    screen = state.screen
    said: list[str] = [shown["notice"]]
    if screen is Screen.ATTRACT:
        said += [shown["title"], shown["body"], shown["card"]]
    elif screen is Screen.WAIT_CARD:
        said += [shown["title"]]
    elif screen is Screen.DOCUMENT:
        said += [shown["title"], *(shown[f"d_{code}"] for code in DOCUMENTS)]
    elif screen is Screen.TYPING:
        said += [shown.get("title", ""), shown.get("help", "")]
    elif screen is Screen.CONFIRM_ANSWERS:
        said += [shown.get("title", ""), shown.get("sub", ""), shown.get("body", "")]
        said += [t("prompt.confirm")]
    elif screen is Screen.WAIT_BOOKING:
        said += [t("prompt.scan_or_walk_in")]
    elif screen in (Screen.WALK_IN, Screen.OFFLINE):
        said += [shown["title"], shown["body"]]
    elif screen in (Screen.CHECKING, Screen.ISSUING):
        said += [shown["title"]]
    elif screen is Screen.QUESTION:
        said += [shown.get("progress", ""), shown.get("question", ""), t("prompt.answer")]
    elif screen is Screen.CONSENT:
        said += [shown.get("guardian", ""), t("prompt.consent")]
    elif screen in (Screen.GUARDIAN_CARD, Screen.GUARDIAN_RELATION):
        said += [shown.get("title", ""), shown.get("sub", ""), shown.get("body", "")]
    elif screen in (Screen.PRINTING, Screen.TICKET) and state.ticket is not None:
        ticket = state.ticket
        said += [
            t("speak.ticket", number=" ".join(ticket.number)),
            shown["lane"],
            shown["go_to"],
            shown["status"],
        ]
    elif screen is Screen.PROBLEM:
        said += [shown.get("title", ""), shown.get("body", ""), shown.get("go_to", "")]
    return " ".join(" ".join(part.split()) for part in said if part.strip())


def lane_name(ticket: Ticket, language: str) -> str:
    """The site's lane name, translated when the catalogue knows it."""
    name = ticket.lane_name or ticket.lane
    key = f"lane.{name}"
    return text(key, language) if has(key, language) else name


def ticket_view(ticket: Ticket, language: str, issued_at: datetime) -> TicketView:
    """The printed ticket in the person's language."""

    def t(key: str) -> str:
        return text(key, language)

    return TicketView(
        site_name=ticket.site_name,
        number=ticket.number,
        lane_name=lane_name(ticket, language),
        go_to=ticket.zone or t("print.waiting_area"),
        estimated_wait_minutes=ticket.estimated_wait_minutes,
        issued_at=issued_at.strftime("%Y-%m-%d %H:%M"),
        qr_payload=ticket.qr,
        label_title=t("print.title"),
        label_lane=t("print.lane"),
        label_go_to=t("print.go_to"),
        label_wait=t("print.wait"),
        label_minutes=t("print.minutes"),
        label_wait_unknown=t("print.wait_unknown"),
        label_issued=t("print.issued"),
        label_footer=t("print.footer"),
    )
