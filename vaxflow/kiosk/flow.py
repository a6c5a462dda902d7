"""The check-in flow as a pure state machine: (state, event) -> (state, effects, timeout).

Inputs are scans, ID-card reads, touches, inactivity timeouts and server answers; outputs
are the next state (which names the screen to show) and the effects the app shell runs
(server calls, printing, staff alerts, spoken prompts). Nothing here does I/O, reads a
clock or imports Kivy or aiohttp; time arrives inside the events.

Decisions:
- The booking QR and the ID card come in either order; precheck runs once both are there.
- A ticket exists only after POST /api/checkins answered. Inactivity cancels on the server
  only when that call was sent and its answer never arrived (`Abandon`): the person never
  saw a ticket, so the shell replays the call with the same idempotency key and cancels the
  visit it names. A ticket that was on screen is never cancelled: the person has its number.
- Server unreachable: the same call is retried with backoff; a check-in keeps its request id.
- A failed print shows the ticket on screen, tells the server (`ReportPrint`) and staff
  (`AlertStaff`), and offers a reprint.
- A minor (precheck says `guardian_required`): the guardian's ID card is read by the same
  reader, the relation chosen with big buttons, then precheck runs again with the guardian
  (so a guardian the server refuses is known before the questions); the consent screen says
  the guardian agrees for the child. The child's own card offered as the guardian's is
  refused on the spot with a notice.
- The next person is never ignored. A scan or a card on the ticket (printed) or problem
  screen starts their check-in at once: the ticket is on paper. While a ticket is still
  printing, or its print failed (the number is only on screen), and while someone is
  answering questions, their scan and card are held (`State.queued`) and read as soon as
  the kiosk returns to the start, so a card left lying on the reader is never lost. The
  same person's own booking or card again is not a next person and changes nothing.
- A second, different booking scan before the card replaces the first and says so on the
  screen (`notice.booking_replaced` with the new code's last characters).
- No resident ID card: "no ID card?" on the start screen leads to the document choice
  (passport, Hong Kong/Macau permit, Taiwan permit), then the number, the name and the birth
  date typed on the kiosk's keyboard, each checked as it is confirmed with a specific error;
  the typed document then stands for the card. A passport's machine-readable zone (TD3)
  held under the scanner fills all three at once, wherever a card would be taken. A site
  that does not allow typing (`[kiosk] typed_documents = false`) sends the person to the
  information desk instead.
- Answers given in the booking app (precheck's `booked_answers`, covering every question)
  are shown on one screen: "nothing has changed" takes them as given, "something changed"
  asks the questions one by one.
- Spoken words: when the voice is on (the person's choice, or always in elderly mode) every
  new screen, question, notice or language gives one `Speak`; the shell says the words of
  the state it then has. Switching the voice off gives `Hush`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from vaxflow.config.languages import DEFAULT_LANGUAGE, LANGUAGES, Language
from vaxflow.kiosk.mrz import BadMrz, looks_like_td3, parse_td3


class Screen(StrEnum):
    """What the kiosk shows; one Kivy screen each."""

    ATTRACT = "attract"
    WAIT_CARD = "wait_card"  # booking scanned, waiting for the ID card
    WAIT_BOOKING = "wait_booking"  # ID card read first: scan the booking, or walk in
    WALK_IN = "walk_in"  # no booking: offer a walk-in ticket
    CHECKING = "checking"  # precheck in flight
    QUESTION = "question"
    CONSENT = "consent"
    GUARDIAN_CARD = "guardian_card"  # a minor: waiting for the guardian's ID card
    GUARDIAN_RELATION = "guardian_relation"  # how the guardian is related to the child
    ISSUING = "issuing"  # check-in in flight
    OFFLINE = "offline"  # server unreachable, retrying
    PRINTING = "printing"
    TICKET = "ticket"
    PROBLEM = "problem"
    DOCUMENT = "document"  # no resident ID card: choose passport or permit
    TYPING = "typing"  # type the document's number, name, birth date
    CONFIRM_ANSWERS = "confirm_answers"  # the booking's answers: still true?


#: Screens that wait on a server or device call (which has its own deadline).
BUSY_SCREENS = frozenset({Screen.CHECKING, Screen.ISSUING, Screen.PRINTING})
#: Screens where a person is in the middle of checking in.
IN_PROGRESS_SCREENS = frozenset(Screen) - {Screen.ATTRACT, Screen.TICKET, Screen.PROBLEM}


class Desk(StrEnum):
    """Where a refused person is sent; the screens translate the names."""

    INFO = "info"  # information desk: booking, QR, ID card problems
    MEDICAL = "medical"  # doctor's desk: health questions, dose schedule, age review
    WALK_IN = "walk_in"  # registration desk for people without a booking


#: Reason code -> desk. Unknown codes go to the information desk.
DESKS: dict[str, Desk] = {
    **dict.fromkeys(
        (
            "too_young",
            "too_old",
            "product_age_limit",
            "review_age",
            "already_vaccinated_today",
            "series_complete",
            "manufacturer_mismatch",
            "interval_too_short",
            "interval_too_long",
            "prior_dose_unverified",
            "dose_number_mismatch",
            "age_band_closed",
            "booster_too_early",
            "booster_product_not_allowed",
            "booster_limit_reached",
            "deferred_by_screening",
            "screening_review",
            "consent_declined",
        ),
        Desk.MEDICAL,
    ),
    **dict.fromkeys(("walk_in_full", "walk_in_closed"), Desk.WALK_IN),
}


def desk_for(reason: str) -> Desk:
    """Which desk helps with a refusal."""
    return DESKS.get(reason, Desk.INFO)


class Action(StrEnum):
    """Touches on the screens."""

    LANGUAGE = "language"  # value: a language
    ELDERLY = "elderly"  # value: "on" | "off"
    WALK_IN = "walk_in"
    YES = "yes"
    NO = "no"
    BACK = "back"
    AGREE = "agree"
    DECLINE = "decline"
    RETRY_NOW = "retry_now"
    REPRINT = "reprint"
    ANOTHER = "another"  # check in another person (families)
    DONE = "done"
    START_OVER = "start_over"
    RELATION = "relation"  # value: one of RELATIONS
    VOICE = "voice"  # value: "on" | "off"
    NO_ID_CARD = "no_id_card"  # "no ID card? passport / permit"
    DOCUMENT = "document"  # value: one of DOCUMENTS
    KEY = "key"  # value: one character from the on-screen keyboard
    ERASE = "erase"  # the keyboard's backspace
    NEXT = "next"  # confirm the typed field


#: Refusals of the guardian's card at the second precheck: another adult's card may follow,
#: so the kiosk asks for a card again (with the server's words) instead of ending.
GUARDIAN_CARD_REFUSALS = frozenset(
    {
        "guardian_is_minor",
        "guardian_same_person",
        "guardian_bad_id_number",
        "guardian_age_unknown",
        "guardian_birth_date_mismatch",
    }
)

#: How a guardian may be related to the child (the server's closed list), in button order.
RELATIONS: tuple[str, ...] = (
    "parent",
    "legal_guardian",
    "grandparent",
    "adult_sibling",
    "other_relative",
)


#: Documents a person without a resident ID card may type, in button order (server ID types).
DOCUMENTS: tuple[str, ...] = ("passport", "hk_macau_permit", "taiwan_permit")
#: What is typed for each document, in order; none of these numbers carries a birth date.
TYPED_FIELDS: dict[str, tuple[str, ...]] = {
    "passport": ("number", "name", "birth"),
    "hk_macau_permit": ("number", "name", "birth"),
    "taiwan_permit": ("number", "name", "birth"),
}
#: Longest input per field (the number's by document).
MAX_NUMBER = {"passport": 17, "hk_macau_permit": 11, "taiwan_permit": 8}
MAX_NAME = 40
#: Keys each field's keyboard offers; other characters are ignored.
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
KEYS: dict[str, str] = {"number": DIGITS + LETTERS, "name": LETTERS + " -'", "birth": DIGITS}
_EARLIEST_BIRTH = date(1880, 1, 1)


@dataclass(frozen=True)
class Typed:
    """A document typed at the kiosk, field by field."""

    id_type: str
    field: str = "number"
    number: str = ""
    name: str = ""
    birth: str = ""  # YYYYMMDD, digits as typed

    def value(self) -> str:
        return str(getattr(self, self.field))

    def limit(self) -> int:
        return {"number": MAX_NUMBER[self.id_type], "name": MAX_NAME, "birth": 8}[self.field]


def typed_error(typed: Typed, today: date) -> str | None:
    """What is wrong with the field being typed, as a catalogue key; None when it is right."""
    value = typed.value()
    field_ = typed.field
    if field_ == "name":
        letters = value.replace(" ", "").replace("-", "").replace("'", "")
        return None if letters else "typed.error.name_empty"
    if field_ == "birth":
        if len(value) != 8 or not value.isdigit():
            return "typed.error.birth_format"
        try:
            born = date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            return "typed.error.birth_not_a_date"
        if not _EARLIEST_BIRTH <= born <= today:
            return "typed.error.birth_impossible"
        return None
    return number_error(typed.id_type, value)


def number_error(id_type: str, number: str) -> str | None:
    """What is wrong with a typed document number, as a catalogue key; None when it is right.

    The same layouts the server checks (`vaxflow.queue.core.identity`), told apart so the
    person learns which part to fix."""
    if not number:
        return "typed.error.number_empty"
    if id_type == "passport":
        if not (number.isascii() and number.isalnum() and number.upper() == number):
            return "typed.error.passport_chars"
        return None if 5 <= len(number) <= 17 else "typed.error.passport_length"
    if id_type == "hk_macau_permit":
        if number[0] not in "HM":
            return "typed.error.hk_macau_letter"
        digits = number[1:]
        ok = digits.isascii() and digits.isdigit() and len(digits) in (8, 10)
        return None if ok else "typed.error.hk_macau_digits"
    ok = number.isascii() and number.isdigit() and len(number) == 8
    return None if ok else "typed.error.taiwan_digits"


def typed_card(typed: Typed) -> Card:
    """The card a fully typed document stands for."""
    birth = typed.birth
    born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:])) if birth else None
    name = " ".join(typed.name.split())
    return Card(typed.number, name, born, id_type=typed.id_type)


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """What the ID-card reader read."""

    id_number: str
    name: str
    birth_date: date | None = None
    sex: str | None = None
    id_type: str = "cn_resident"

    def body(self) -> dict[str, Any]:
        """The `id_card` body of precheck and check-in."""
        body: dict[str, Any] = {"id_type": self.id_type, "id_number": self.id_number}
        body["name"] = self.name
        if self.birth_date is not None:
            body["birth_date"] = self.birth_date.isoformat()
        if self.sex is not None:
            body["sex"] = self.sex
        return body

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class Question:
    """One health question, in every language the server sent."""

    id: str
    text: Mapping[str, str]


@dataclass(frozen=True)
class Precheck:
    """The server's answer to precheck: who, what dose, what to ask."""

    person_name: str
    product_name: str
    dose_number: int
    walk_in: bool
    questions: tuple[Question, ...]
    consent_version: str | None
    consent_text: Mapping[str, str]
    booking_found_by_id: bool = False  # card only, and the server found today's booking
    guardian_required: bool = False
    booked_answers: tuple[tuple[str, bool], ...] = ()  # every question, answered when booking
    product_names: Mapping[str, str] = field(default_factory=dict)  # per language, if given

    def product_in(self, language: str) -> str:
        """The product's name in `language` (zh-TW falls back to zh-CN), else its one name."""
        names = self.product_names
        found = names.get(language) or (names.get("zh-CN") if language == "zh-TW" else None)
        return found or self.product_name

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Precheck:
        person = data.get("person") or {}
        consent = data.get("consent") or {}
        questions = tuple(
            Question(str(q["id"]), dict(q.get("text") or {})) for q in data.get("questions") or ()
        )
        text = dict(consent.get("text") or {})
        return cls(
            person_name=str(person.get("name", "")),
            product_name=str(data.get("product_name", "")),
            product_names={str(k): str(v) for k, v in (data.get("product_names") or {}).items()},
            dose_number=int(data.get("dose_number", 1)),
            walk_in=bool(data.get("walk_in", False)),
            questions=questions,
            consent_version=str(consent["version"]) if text and consent.get("version") else None,
            consent_text=text,
            booking_found_by_id=bool(data.get("booking_found_by_id", False)),
            guardian_required=bool(data.get("guardian_required", False)),
            booked_answers=_booked_answers(questions, data.get("booked_answers")),
        )


def _booked_answers(questions: tuple[Question, ...], given: object) -> tuple[tuple[str, bool], ...]:
    """The booking's answers in question order, only when every question has a yes or no."""
    if not questions or not isinstance(given, Mapping):
        return ()
    if not all(isinstance(given.get(q.id), bool) for q in questions):
        return ()
    return tuple((q.id, bool(given[q.id])) for q in questions)


@dataclass(frozen=True)
class Ticket:
    """The issued ticket as the server answered it."""

    visit_id: int
    number: str
    lane: str
    lane_name: str
    site_name: str
    qr: str
    estimated_wait_minutes: int | None
    walk_in: bool = False
    zone: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ticket:
        wait = data.get("estimated_wait_minutes")
        return cls(
            visit_id=int(data["visit_id"]),
            number=str(data["ticket"]),
            lane=str(data.get("lane", "")),
            lane_name=str(data.get("lane_name", "")),
            site_name=str(data.get("site_name", "")),
            qr=str(data.get("qr", "")),
            estimated_wait_minutes=int(wait) if wait is not None else None,
            walk_in=bool(data.get("walk_in", False)),
            zone=data.get("zone"),
        )


@dataclass(frozen=True)
class Problem:
    """Why the check-in stopped: a reason code, the server's words (if any), the desk."""

    reason: str
    messages: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)

    @property
    def desk(self) -> Desk:
        return desk_for(self.reason)

    def message(self, language: str) -> str | None:
        """The server's message in `language`, or None (the screens use their catalogue)."""
        return self.messages.get(language) or None


class PrintState(StrEnum):
    NONE = "none"
    PRINTING = "printing"
    PRINTED = "printed"
    FAILED = "failed"


# --- calls, events, effects -----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A server call the flow waits for; `id` ties its answer to it."""

    id: int
    kind: Literal["precheck", "check_in"]
    body: Mapping[str, Any]
    request_id: str | None = None  # the check-in's idempotency key, reused on every retry


@dataclass(frozen=True)
class Scanned:
    text: str
    today: date | None = None  # the site's day (the shell sets it): a passport's zone needs it


@dataclass(frozen=True)
class CardRead:
    card: Card
    today: date


@dataclass(frozen=True)
class CardUnreadable:
    """The reader answered garbage or timed out: ask to place the card again."""

    reason: str


@dataclass(frozen=True)
class Touched:
    action: Action
    value: str = ""
    today: date | None = None  # the site's day (the shell sets it): typed birth dates need it


@dataclass(frozen=True)
class Idle:
    """The inactivity timer armed with `State.idle_seq == seq` ran out."""

    seq: int


@dataclass(frozen=True)
class RetryDue:
    seq: int


@dataclass(frozen=True)
class Answered:
    """A server call succeeded."""

    call: int
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Refused:
    """The server refused: its error body's reason, messages and hints."""

    call: int
    reason: str
    messages: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Unreachable:
    call: int
    detail: str = ""


@dataclass(frozen=True)
class Printed:
    pass


@dataclass(frozen=True)
class PrintFailed:
    reason: str  # paper_out, cover_open, timeout, unavailable, ...


Event = (
    Scanned
    | CardRead
    | CardUnreadable
    | Touched
    | Idle
    | RetryDue
    | Answered
    | Refused
    | Unreachable
    | Printed
    | PrintFailed
)


@dataclass(frozen=True)
class ServerCall:
    """Run this call; answer with Answered/Refused/Unreachable carrying `call.id`."""

    call: Call


@dataclass(frozen=True)
class RetryLater:
    """Send RetryDue(seq) after `seconds`."""

    seconds: float
    seq: int


@dataclass(frozen=True)
class PrintTicket:
    ticket: Ticket
    language: Language
    reprint: bool = False


@dataclass(frozen=True)
class ReportPrint:
    visit_id: int
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class AlertStaff:
    """Tell the marshal (device health report)."""

    kind: str  # printer | idcard | scanner | server
    reason: str


@dataclass(frozen=True)
class Abandon:
    """A check-in was sent but its answer never came: finish it quietly and cancel the visit."""

    call: Call


@dataclass(frozen=True)
class Speak:
    """Say the current screen's words (the shell takes them from the state it has then)."""

    screen: Screen
    language: Language


@dataclass(frozen=True)
class Hush:
    """Stop speaking: the person switched the voice off."""


Effect = ServerCall | RetryLater | PrintTicket | ReportPrint | AlertStaff | Abandon | Speak | Hush


# --- the state and its timing ----------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Inactivity timeouts in seconds (elderly mode multiplies them) and retry backoff."""

    waiting: float = 45.0  # for the ID card, the booking, the walk-in choice
    answering: float = 60.0  # a health question, the consent
    busy: float = 60.0  # safety net over a server or print call (each has its own deadline)
    offline: float = 120.0
    ticket: float = 30.0
    ticket_print_failed: float = 90.0
    problem: float = 40.0
    elderly_factor: float = 2.0
    elderly_age: int = 60
    retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 5.0)


@dataclass(frozen=True)
class State:
    """Everything the screens show and the flow needs to go on."""

    screen: Screen = Screen.ATTRACT
    language: Language = DEFAULT_LANGUAGE
    elderly: bool = False
    elderly_auto: bool = False  # switched on by the ID card's age
    booking_qr: str | None = None
    card: Card | None = None
    guardian: Card | None = None  # a minor's guardian, read by the same reader
    relation: str | None = None  # the guardian's relation to the child, one of RELATIONS
    walk_in: bool = False
    precheck: Precheck | None = None
    answers: tuple[tuple[str, bool], ...] = ()
    question_index: int = 0
    pending: Call | None = None
    retries: int = 0
    ticket: Ticket | None = None
    print_state: PrintState = PrintState.NONE
    print_reason: str = ""
    problem: Problem | None = None
    notice: str = ""  # a short hint on the current screen, by catalogue key
    notice_arg: str = ""  # fills the notice's {tail} (the last characters of a booking code)
    voice: bool = False  # the person asked for spoken words (elderly mode speaks anyway)
    queued: tuple[Scanned | CardRead, ...] = ()  # the next person's scan and card, held
    seq: int = 0  # bumped on every transition; retry timers carry it
    idle_seq: int = 0  # bumped when the person acts or the screen changes; idle timers carry it
    calls: int = 0  # call ids handed out so far
    served: int = 0  # people checked in since start
    typed: Typed | None = None  # a passport or permit being typed
    confirmed: bool = False  # the booking's answers were taken as they are

    @property
    def speaking(self) -> bool:
        """Whether the screens' words are spoken: asked for, or elderly mode."""
        return self.voice or self.elderly

    @property
    def question(self) -> Question | None:
        if self.screen is not Screen.QUESTION or self.precheck is None:
            return None
        return self.precheck.questions[self.question_index]


@dataclass(frozen=True)
class Step:
    """The new state, the effects to run, and the inactivity timer: when `rearm`, arm it for
    `timeout` seconds (None: no timer) and answer Idle(state.idle_seq); else leave it running."""

    state: State
    effects: tuple[Effect, ...] = ()
    timeout: float | None = None
    rearm: bool = False


#: Screens on which the next person's scan or card starts their check-in at once.
NEXT_PERSON_SCREENS = frozenset({Screen.TICKET, Screen.PROBLEM})


class Flow:
    """The check-in flow. `new_request_id` makes idempotency keys (uuid in the app);
    `voice` is whether the words are spoken from the start (`vaxflow kiosk --speak`);
    `typed_documents` whether passports and permits may be typed (the site's `[kiosk]`)."""

    def __init__(
        self,
        new_request_id: Callable[[], str],
        timing: Timing | None = None,
        *,
        voice: bool = False,
        typed_documents: bool = True,
    ) -> None:
        self.new_request_id = new_request_id
        self.timing = timing or Timing()
        self.voice = voice
        self.typed_documents = typed_documents

    def start(self, language: Language = DEFAULT_LANGUAGE) -> Step:
        state = State(language=language, voice=self.voice)
        return self._out(state, state, [])

    def handle(self, state: State, event: Event) -> Step:
        """One transition. Unknown or stale events leave the state as it is."""
        before = state
        effects: list[Effect] = []
        state = self._transition(state, event, effects)
        if state is before:
            return Step(state, (), None)
        person = isinstance(event, Scanned | CardRead | CardUnreadable | Touched)
        return self._out(before, state, effects, person)

    def timeout_for(self, state: State) -> float | None:
        t = self.timing
        table: dict[Screen, float | None] = {
            Screen.ATTRACT: None,
            Screen.WAIT_CARD: t.waiting,
            Screen.WAIT_BOOKING: t.waiting,
            Screen.WALK_IN: t.waiting,
            Screen.CHECKING: t.busy,
            Screen.ISSUING: t.busy,
            Screen.PRINTING: t.busy,
            Screen.QUESTION: t.answering,
            Screen.CONSENT: t.answering,
            Screen.GUARDIAN_CARD: t.waiting,
            Screen.GUARDIAN_RELATION: t.answering,
            Screen.OFFLINE: t.offline,
            Screen.TICKET: t.ticket_print_failed
            if state.print_state is PrintState.FAILED
            else t.ticket,
            Screen.PROBLEM: t.problem,
            Screen.DOCUMENT: t.waiting,
            Screen.TYPING: t.answering,
            Screen.CONFIRM_ANSWERS: t.answering,
        }
        seconds = table[state.screen]
        if seconds is not None and state.elderly:
            seconds *= t.elderly_factor
        return seconds

    # --- internals ----------------------------------------------------------------------

    def _out(self, before: State, state: State, effects: list[Effect], person: bool = True) -> Step:
        """Number the transition; restart the inactivity timer when the person acted or the
        screen changed (server retries and answers on the same screen leave it running)."""
        rearm = person or state.screen is not before.screen
        state = replace(state, seq=before.seq + 1, idle_seq=before.idle_seq + (1 if rearm else 0))
        effects = [
            RetryLater(e.seconds, state.seq) if isinstance(e, RetryLater) else e for e in effects
        ]
        if state.speaking and _new_words(before, state):
            effects.append(Speak(state.screen, state.language))
        elif before.speaking and not state.speaking:
            effects.append(Hush())
        return Step(state, tuple(effects), self.timeout_for(state), rearm)

    def _transition(self, s: State, event: Event, fx: list[Effect]) -> State:
        screen = s.screen
        match event:
            case Touched(Action.LANGUAGE, value) if value in LANGUAGES:
                return replace(s, language=_language(value))
            case Touched(Action.ELDERLY, value):
                return replace(s, elderly=value == "on", elderly_auto=False)
            case Touched(Action.VOICE, value):
                return replace(s, voice=value == "on")
            case Idle(seq) if seq == s.idle_seq:
                return self._idle(s, fx)
            case Idle():
                return s
            case Touched(Action.START_OVER) if screen is not Screen.ATTRACT:
                return self._reset(s, fx, keep_person=False)
            case Scanned(text, today) if (
                looks_like_td3(text)
                and self.typed_documents
                and (screen in (Screen.ATTRACT, Screen.WAIT_CARD, Screen.DOCUMENT, Screen.TYPING))
            ):
                return self._passport_zone(s, text, today or date.max, fx)
            case CardRead(card, today) if screen is Screen.GUARDIAN_CARD:
                return self._guardian_card(s, card, today)
            case Scanned() | CardRead() if _same_person(s, event):
                return s  # their own booking or card again: not a next person
            case Scanned() | CardRead() if screen in NEXT_PERSON_SCREENS and not _ticket_held(s):
                return self._reset(
                    replace(s, queued=_queue(s.queued, event)), fx, keep_person=False
                )
            case CardUnreadable() if screen in NEXT_PERSON_SCREENS and not _ticket_held(s):
                return replace(self._reset(s, fx, keep_person=False), notice="notice.card_again")
            case Scanned(text) if screen is Screen.WAIT_CARD and s.booking_qr not in (None, text):
                tail = "".join(c for c in text if c.isalnum())[-4:]
                return replace(
                    s, booking_qr=text, notice="notice.booking_replaced", notice_arg=tail
                )
            case Scanned(text) if screen in (
                Screen.ATTRACT,
                Screen.WAIT_CARD,
                Screen.WAIT_BOOKING,
                Screen.WALK_IN,
            ):
                return self._have(replace(s, booking_qr=text, walk_in=False, notice=""), fx)
            case CardRead(card, today) if screen in (
                Screen.ATTRACT,
                Screen.WAIT_CARD,
                Screen.WAIT_BOOKING,
            ):
                age = card.age_on(today)
                s = replace(s, card=card, notice="")
                if age is not None and age >= self.timing.elderly_age and not s.elderly:
                    s = replace(s, elderly=True, elderly_auto=True)
                return self._have(s, fx)
            case CardUnreadable() if screen in (
                Screen.ATTRACT,
                Screen.WAIT_CARD,
                Screen.GUARDIAN_CARD,
            ):
                return replace(s, notice="notice.card_again")
            case Touched(Action.RELATION, value) if (
                screen is Screen.GUARDIAN_RELATION and value in RELATIONS
            ):
                return self._call(replace(s, relation=value), "precheck", fx)
            case Touched(Action.BACK) if screen is Screen.GUARDIAN_RELATION:
                return replace(s, screen=Screen.GUARDIAN_CARD, guardian=None, relation=None)
            case Scanned(text) if screen in (Screen.DOCUMENT, Screen.TYPING):
                return replace(s, booking_qr=text, notice="notice.booking_read")
            case CardRead(card, today) if screen in (Screen.DOCUMENT, Screen.TYPING):
                s = replace(s, typed=None, screen=Screen.ATTRACT)  # a card after all
                return self._transition(s, event, fx)
            case Scanned() | CardRead() if screen is not Screen.ATTRACT:
                return replace(s, queued=_queue(s.queued, event))  # the next person's: held
            case Touched(Action.NO_ID_CARD) if screen in (
                Screen.ATTRACT,
                Screen.WAIT_CARD,
            ):
                if not self.typed_documents:
                    return replace(s, screen=Screen.PROBLEM, problem=Problem("document_at_desk"))
                return replace(s, screen=Screen.DOCUMENT, notice="")
            case Touched(Action.DOCUMENT, value) if screen is Screen.DOCUMENT and (
                value in DOCUMENTS
            ):
                return replace(s, screen=Screen.TYPING, typed=Typed(value), notice="")
            case Touched(Action.BACK) if screen is Screen.DOCUMENT:
                back = Screen.WAIT_CARD if s.booking_qr is not None else Screen.ATTRACT
                return replace(s, screen=back, notice="")
            case Touched(Action.KEY | Action.ERASE | Action.NEXT | Action.BACK) if (
                screen is Screen.TYPING and s.typed is not None
            ):
                assert isinstance(event, Touched)
                return self._typing(s, s.typed, event, fx)
            case Touched(Action.YES) if screen is Screen.CONFIRM_ANSWERS and s.precheck:
                s = replace(s, answers=s.precheck.booked_answers, confirmed=True)
                return self._after_questions(s, fx)
            case Touched(Action.NO) if screen is Screen.CONFIRM_ANSWERS:
                return replace(s, screen=Screen.QUESTION, question_index=0, confirmed=False)
            case Touched(Action.WALK_IN) if screen is Screen.WAIT_BOOKING:
                return replace(s, screen=Screen.WALK_IN)
            case Touched(Action.AGREE) if screen is Screen.WALK_IN and s.card is not None:
                return self._call(replace(s, walk_in=True, booking_qr=None), "precheck", fx)
            case Touched(Action.BACK) if screen is Screen.WALK_IN:
                return replace(s, screen=Screen.WAIT_BOOKING)
            case Answered(call, data) if s.pending is not None and call == s.pending.id:
                return self._answered(s, data, fx)
            case Refused(call, reason, messages, hints) if (
                s.pending is not None
                and call == s.pending.id
                and s.guardian is not None
                and reason in GUARDIAN_CARD_REFUSALS
            ):
                problem = Problem(reason, dict(messages), dict(hints))
                return replace(
                    s,
                    screen=Screen.GUARDIAN_CARD,
                    pending=None,
                    guardian=None,
                    relation=None,
                    problem=problem,  # shown on the card screen until the next card
                )
            case Refused(call, reason, messages, hints) if (
                s.pending is not None and call == s.pending.id
            ):
                problem = Problem(reason, dict(messages), dict(hints))
                return replace(s, screen=Screen.PROBLEM, pending=None, problem=problem)
            case Unreachable(call) if s.pending is not None and call == s.pending.id:
                delays = self.timing.retry_delays
                delay = delays[min(s.retries, len(delays) - 1)]
                fx.append(RetryLater(delay, 0))  # seq filled in by _out
                return replace(s, screen=Screen.OFFLINE, retries=s.retries + 1)
            case RetryDue(seq) if seq == s.seq and screen is Screen.OFFLINE and s.pending:
                fx.append(ServerCall(s.pending))
                return replace(s, notice="notice.retrying")
            case Touched(Action.RETRY_NOW) if screen is Screen.OFFLINE and s.pending:
                fx.append(ServerCall(s.pending))
                return replace(s, notice="notice.retrying")
            case Touched(Action.YES | Action.NO as action) if screen is Screen.QUESTION:
                return self._answer(s, action is Action.YES, fx)
            case Touched(Action.BACK) if screen is Screen.QUESTION and s.question_index > 0:
                return replace(s, question_index=s.question_index - 1)
            case Touched(Action.BACK) if screen is Screen.CONSENT and s.confirmed:
                return replace(s, screen=Screen.CONFIRM_ANSWERS)
            case Touched(Action.BACK) if screen is Screen.CONSENT and s.answers:
                return replace(s, screen=Screen.QUESTION, question_index=len(s.answers) - 1)
            case Touched(Action.AGREE) if screen is Screen.CONSENT:
                return self._issue(s, fx)
            case Touched(Action.DECLINE) if screen is Screen.CONSENT:
                return replace(s, screen=Screen.PROBLEM, problem=Problem("consent_declined"))
            case Printed() if s.print_state is PrintState.PRINTING and s.ticket:
                fx.append(ReportPrint(s.ticket.visit_id, True))
                s = replace(s, screen=Screen.TICKET, print_state=PrintState.PRINTED)
                if s.queued:  # the ticket is on paper: the next person goes on at once
                    return self._reset(s, fx, keep_person=False)
                return s
            case PrintFailed(reason) if s.print_state is PrintState.PRINTING and s.ticket:
                fx.append(ReportPrint(s.ticket.visit_id, False, reason))
                fx.append(AlertStaff("printer", reason))
                return replace(
                    s, screen=Screen.TICKET, print_state=PrintState.FAILED, print_reason=reason
                )
            case Touched(Action.REPRINT) if screen is Screen.TICKET and s.ticket:
                fx.append(PrintTicket(s.ticket, s.language, reprint=True))
                return replace(s, print_state=PrintState.PRINTING)
            case Touched(Action.ANOTHER) if screen in (Screen.TICKET, Screen.PROBLEM):
                return self._reset(s, fx, keep_person=True)
            case Touched(Action.DONE) if screen in (Screen.TICKET, Screen.PROBLEM):
                return self._reset(s, fx, keep_person=False)
        return s

    def _have(self, s: State, fx: list[Effect]) -> State:
        """After a scan or a card: precheck when both are there, else wait for the other."""
        if s.booking_qr is not None and s.card is not None:
            return self._call(s, "precheck", fx)
        if s.booking_qr is not None:
            return replace(s, screen=Screen.WAIT_CARD)
        return replace(s, screen=Screen.WAIT_BOOKING)

    def _body(self, s: State) -> dict[str, Any]:
        assert s.card is not None
        if s.walk_in:
            body: dict[str, Any] = {"walk_in": s.card.body()}
        else:
            body = {"booking_qr": s.booking_qr, "id_card": s.card.body()}
        if s.guardian is not None and s.relation is not None:
            body["guardian"] = {**s.guardian.body(), "relation": s.relation}
        return body

    def _typing(self, s: State, typed: Typed, event: Touched, fx: list[Effect]) -> State:
        """A key on the on-screen keyboard: type, erase, confirm the field or go back."""
        value = typed.value()
        if event.action is Action.KEY:
            char = event.value.upper()
            if len(char) != 1 or char not in KEYS[typed.field]:
                return s
            if len(value) >= typed.limit():
                return replace(s, notice="typed.error.too_long")
            if char == " " and (not value or value.endswith(" ")):
                return s
            return replace(s, typed=replace(typed, **{typed.field: value + char}), notice="")
        if event.action is Action.ERASE:
            return replace(s, typed=replace(typed, **{typed.field: value[:-1]}), notice="")
        fields = TYPED_FIELDS[typed.id_type]
        at = fields.index(typed.field)
        if event.action is Action.BACK:
            if at == 0:
                return replace(s, screen=Screen.DOCUMENT, typed=None, notice="")
            return replace(s, typed=replace(typed, field=fields[at - 1]), notice="")
        error = typed_error(typed, self._today(event))
        if error is not None:
            return replace(s, notice=error)
        if at + 1 < len(fields):
            return replace(s, typed=replace(typed, field=fields[at + 1]), notice="")
        card = typed_card(typed)
        s = replace(s, card=card, typed=None, notice="")
        age = card.age_on(self._today(event))
        if age is not None and age >= self.timing.elderly_age and not s.elderly:
            s = replace(s, elderly=True, elderly_auto=True)
        return self._have(s, fx)

    def _passport_zone(self, s: State, text: str, today: date, fx: list[Effect]) -> State:
        """A passport's zone under the scanner: its number, name and birth date, checked."""
        try:
            zone = parse_td3(text, today)
        except BadMrz:
            return replace(s, notice="typed.error.mrz")
        card = Card(zone.number, zone.name, zone.birth_date, id_type="passport")
        sex = zone.sex if zone.sex != "unknown" else None
        card = replace(card, sex=sex)
        s = replace(s, card=card, typed=None, notice="")
        age = card.age_on(today)
        if age is not None and age >= self.timing.elderly_age and not s.elderly:
            s = replace(s, elderly=True, elderly_auto=True)
        return self._have(s, fx)

    def _today(self, event: Touched) -> date:
        """The site's day the touch came on (no later bound when the shell gave none)."""
        return event.today or date.max

    def _guardian_card(self, s: State, card: Card, today: date) -> State:
        """The guardian's card; the child's own card again is refused here, at once."""
        assert s.card is not None
        if _same_number(card.id_number, s.card.id_number):
            return replace(s, notice="notice.guardian_same_card")
        age = card.age_on(today)
        if age is not None and age >= self.timing.elderly_age and not s.elderly:
            s = replace(s, elderly=True, elderly_auto=True)  # the guardian works the kiosk
        return replace(
            s,
            guardian=card,
            relation=None,
            screen=Screen.GUARDIAN_RELATION,
            notice="",
            problem=None,
        )

    def _call(self, s: State, kind: Literal["precheck", "check_in"], fx: list[Effect]) -> State:
        body = self._body(s)
        request_id = None
        if kind == "check_in":
            body["answers"] = dict(s.answers)
            if s.precheck is not None and s.precheck.consent_version is not None:
                body["consent_version"] = s.precheck.consent_version
                if "guardian" in body:  # the guardian agreed on the consent screen
                    body["guardian"]["consent_version"] = s.precheck.consent_version
            request_id = self.new_request_id()
        call = Call(s.calls + 1, kind, body, request_id)
        fx.append(ServerCall(call))
        screen = Screen.CHECKING if kind == "precheck" else Screen.ISSUING
        return replace(s, screen=screen, pending=call, calls=call.id, retries=0, notice="")

    def _answered(self, s: State, data: Mapping[str, Any], fx: list[Effect]) -> State:
        pending = s.pending
        assert pending is not None
        s = replace(s, retries=0, notice="")
        if pending.kind == "precheck":
            pre = Precheck.from_json(data)
            s = replace(s, pending=None, precheck=pre, answers=(), question_index=0)
            if pre.guardian_required and (s.guardian is None or s.relation is None):
                return replace(s, screen=Screen.GUARDIAN_CARD)
            if pre.booked_answers:
                return replace(s, screen=Screen.CONFIRM_ANSWERS, confirmed=False)
            if pre.questions:
                return replace(s, screen=Screen.QUESTION)
            return self._after_questions(s, fx)
        ticket = Ticket.from_json(data)
        fx.append(PrintTicket(ticket, s.language))
        return replace(
            s,
            pending=None,
            ticket=ticket,
            screen=Screen.PRINTING,
            print_state=PrintState.PRINTING,
            served=s.served + 1,
        )

    def _answer(self, s: State, yes: bool, fx: list[Effect]) -> State:
        question, precheck = s.question, s.precheck
        assert question is not None and precheck is not None
        answers = dict(s.answers[: s.question_index])
        answers[question.id] = yes
        s = replace(s, answers=tuple(answers.items()))
        if s.question_index + 1 < len(precheck.questions):
            return replace(s, question_index=s.question_index + 1)
        return self._after_questions(s, fx)

    def _after_questions(self, s: State, fx: list[Effect]) -> State:
        assert s.precheck is not None
        if s.precheck.consent_version is not None:
            return replace(s, screen=Screen.CONSENT)
        return self._issue(s, fx)

    def _issue(self, s: State, fx: list[Effect]) -> State:
        return self._call(s, "check_in", fx)

    def _idle(self, s: State, fx: list[Effect]) -> State:
        if s.screen is Screen.ATTRACT:
            return s
        if s.screen is Screen.PRINTING and s.ticket is not None:
            # The printer never answered within the safety net: treat as a failed print.
            fx.append(ReportPrint(s.ticket.visit_id, False, "timeout"))
            fx.append(AlertStaff("printer", "timeout"))
            return replace(
                s, screen=Screen.TICKET, print_state=PrintState.FAILED, print_reason="timeout"
            )
        return self._reset(s, fx, keep_person=False)

    def _reset(self, s: State, fx: list[Effect], *, keep_person: bool) -> State:
        """Back to the attract screen; a check-in sent but never answered is abandoned."""
        if s.pending is not None and s.pending.kind == "check_in":
            fx.append(Abandon(s.pending))
        fresh = State(calls=s.calls, served=s.served, voice=self.voice)
        if keep_person:  # a family member: same language, elderly and voice choice
            fresh = replace(
                fresh,
                language=s.language,
                elderly=s.elderly and not s.elderly_auto,
                voice=s.voice,
            )
        for held in s.queued:  # the next person's scan and card, in the order they came
            fresh = self._transition(fresh, held, fx)
        return fresh


def _same_number(a: str, b: str) -> bool:
    """Two reads of one ID number, whatever the spacing or the case of a final X."""

    def norm(x: str) -> str:
        return "".join(x.split()).upper()

    return norm(a) == norm(b)


def _same_person(s: State, event: Scanned | CardRead) -> bool:
    """The booking or card of the person the kiosk is serving (or showing a ticket to)."""
    if s.screen is Screen.ATTRACT:
        return False
    if isinstance(event, Scanned):
        return event.text == s.booking_qr
    return s.card is not None and event.card.id_number == s.card.id_number


def _ticket_held(s: State) -> bool:
    """A ticket whose print is not done yet (printing, or failed: only on screen)."""
    return s.ticket is not None and s.print_state in (PrintState.PRINTING, PrintState.FAILED)


def _queue(
    queued: tuple[Scanned | CardRead, ...], event: Scanned | CardRead
) -> tuple[Scanned | CardRead, ...]:
    """Hold the next person's input: the latest scan and the latest card."""
    return (*(e for e in queued if type(e) is not type(event)), event)


def _new_words(before: State, after: State) -> bool:
    """Whether there is something new to say: a screen, a question, a notice, a language."""
    return (
        not before.speaking
        or after.screen is not before.screen
        or after.question_index != before.question_index
        or after.language != before.language
        or (after.notice != before.notice and bool(after.notice))
        or after.print_state is not before.print_state
    )


def _language(value: str) -> Language:
    for language in LANGUAGES:
        if language == value:
            return language
    return DEFAULT_LANGUAGE
