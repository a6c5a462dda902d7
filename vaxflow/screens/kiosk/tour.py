"""Drive the real kiosk through its screens with simulated devices: the tour and test scripts.

The tour visits every screen in each language and saves one PNG per screen. The scripts
(`booked`, `walk_in`, `id_mismatch`, `paper_out`, `server_restart`) are what the GUI tests
run; they print `SCREEN <name>` on every change and one `RESULT <json>` line at the end.
`server_restart` stops at `CHECKPOINT <name>` lines until a line arrives on stdin.
No Kivy here: screenshots come in as a callable.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from stdnum.cn import ric

from vaxflow.config import Settings
from vaxflow.config.languages import LANGUAGES
from vaxflow.hardware.interfaces import DeviceHealth, IdCard
from vaxflow.hardware.sim_idcard import SimIdCardReader
from vaxflow.hardware.sim_printer import SimFault, SimPrinter
from vaxflow.hardware.sim_scanner import SimScanner
from vaxflow.kiosk.flow import Action, PrintState, Screen, State
from vaxflow.kiosk.shell import KioskShell
from vaxflow.queue.client.site import ServerUnreachable, SiteClient
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.demo.demo_data import make_people
from vaxflow.queue.demo.demo_day import make_day

Snap = Callable[[Path], Awaitable[Path]]
#: The specimen zone of ICAO Doc 9303 part 4 (a passport's two machine-readable lines), as a
#: line-based scanner sends it: 88 characters in one line.
PASSPORT_ZONE = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
)


class GatedClient(SiteClient):
    """A site client the tour can hold (to photograph "checking") or cut off ("offline")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()
        self.gate.set()
        self.down = False

    async def post(
        self, path: str, body: dict[str, Any] | None = None, *, request_id: str | None = None
    ) -> Any:
        await self.gate.wait()
        if self.down and path.startswith("/api/checkins"):
            raise ServerUnreachable(f"POST {path}: cut off by the tour")
        return await super().post(path, body, request_id=request_id)


class GatedPrinter:
    """A printer wrapper the tour can hold, to photograph the printing screen."""

    def __init__(self, printer: SimPrinter) -> None:
        self.printer = printer
        self.gate = asyncio.Event()
        self.gate.set()

    async def open(self) -> None:
        await self.printer.open()

    async def print_bytes(self, data: bytes, timeout: float) -> None:  # noqa: ASYNC109
        await self.gate.wait()
        await self.printer.print_bytes(data, timeout)

    async def health(self) -> DeviceHealth:
        return await self.printer.health()

    async def close(self) -> None:
        await self.printer.close()


def card_for(person: Booking) -> IdCard:
    """The ID card a booked demo person would place on the reader."""
    assert person.birth_date is not None
    return IdCard(
        name=person.person_name,
        sex=person.sex or "unknown",
        nation="汉",
        birth_date=person.birth_date,
        address="",
        id_number=person.id_number,
        issuer="",
        valid_from=date(2020, 1, 1),
        valid_until=None,
    )


@dataclass
class Kit:
    """The running kiosk with its simulated devices and the demo day's people."""

    shell: KioskShell
    scanner: SimScanner
    reader: SimIdCardReader
    printer: SimPrinter
    people: list[Booking]
    walk_ins: list[Booking] = field(default_factory=list)
    screens: list[str] = field(default_factory=list)
    used: int = 0
    walk_ins_used: int = 0
    taps: int = 0

    @classmethod
    def of(cls, shell: KioskShell, settings: Settings, today: date) -> Kit:
        scanner, reader = shell.devices.scanner, shell.devices.idcard
        printer: Any = shell.devices.printer
        printer = printer.printer if isinstance(printer, GatedPrinter) else printer
        if not isinstance(scanner, SimScanner) or not isinstance(reader, SimIdCardReader):
            raise SystemExit("the tour and test scripts need simulated devices (--devices sim)")
        if not isinstance(printer, SimPrinter):
            raise SystemExit("the tour and test scripts need a simulated printer")
        listed = {p.booking.code: p.booking.id_number for p in make_day(settings, today, 600)}
        # the demo's day list makes some of these people someone else (a child): not them
        people = [p for p in make_people(settings, today, 600) if listed[p.code] == p.id_number]
        walk_ins = make_people(settings, today, 20, seed=23)
        kit = cls(shell, scanner, reader, printer, people, walk_ins)
        shell.listeners.append(kit._seen)
        return kit

    def _seen(self, state: State) -> None:
        if not self.screens or self.screens[-1] != state.screen.value:
            self.screens.append(state.screen.value)
            print(f"SCREEN {state.screen.value}", flush=True)

    def person(self, *, elderly: bool | None = None, answered: bool = False) -> Booking:
        """The next booked demo person (optionally well over 60, or well under); `answered`:
        one who answered the health questions in the booking app (else one who did not)."""
        today = date.today()
        while True:
            person = self.people[self.used]
            self.used += 1
            assert person.birth_date is not None
            age = today.year - person.birth_date.year
            if bool(person.answers) != answered:
                continue
            if elderly is None or (elderly and age >= 62) or (not elderly and age < 58):
                return person

    def tap(self, action: Action, value: str = "") -> None:
        """A person's touch on the screen, counted."""
        self.taps += 1
        self.shell.touch(action, value)

    def child_card(self, today: date, years: int = 10) -> IdCard:
        """A child's own resident ID card, on no booking list."""
        born = date(today.year - years, today.month, min(today.day, 28))
        body = f"110101{born:%Y%m%d}{self.walk_ins_used % 1000:03d}"
        person = Booking(
            code="",
            person_name="李小明",
            id_type="cn_resident",
            id_number=body + ric.calc_check_digit(body + "0"),
            site_id="",
            visit_date=today,
            product="",
            dose_number=1,
            birth_date=born,
            sex="male",
        )
        return card_for(person)

    def walk_in_card(self) -> IdCard:
        """A person on no booking list (the demo's walk-ins)."""
        self.walk_ins_used += 1
        return card_for(self.walk_ins[self.walk_ins_used - 1])

    async def booked_to_questions(self, person: Booking) -> State:
        self.scanner.push(person.code)
        await self.shell.wait_screen(Screen.WAIT_CARD)
        self.reader.present(card_for(person))
        return await self.shell.wait_for(
            lambda s: s.screen in (Screen.QUESTION, Screen.CONSENT, Screen.PROBLEM)
        )

    async def answer_all(self, *, agree: bool = True) -> None:
        while self.shell.state.screen is Screen.QUESTION:
            self.shell.touch(Action.NO)
        await self.shell.wait_screen(Screen.CONSENT)
        if agree:
            self.shell.touch(Action.AGREE)

    async def ticket(self, within: float = 15.0) -> State:
        return await self.shell.wait_for(
            lambda s: s.screen is Screen.TICKET and s.print_state is not PrintState.PRINTING,
            within,
        )


# --- the scripts the GUI tests run ------------------------------------------------------------


async def script_booked(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    person = kit.person(elderly=False)
    await kit.booked_to_questions(person)
    await snap(out / "question.png")
    await kit.answer_all()
    state = await kit.ticket()
    await snap(out / "ticket.png")
    assert state.ticket is not None
    return {"ticket": state.ticket.number, "print": state.print_state.value}


async def script_walk_in(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    kit.reader.present(kit.walk_in_card())
    await kit.shell.wait_screen(Screen.WAIT_BOOKING)
    kit.shell.touch(Action.WALK_IN)
    await kit.shell.wait_screen(Screen.WALK_IN)
    await snap(out / "walk_in.png")
    kit.shell.touch(Action.AGREE)
    await kit.shell.wait_for(lambda s: s.screen in (Screen.QUESTION, Screen.PROBLEM))
    await kit.answer_all()
    state = await kit.ticket()
    assert state.ticket is not None
    return {"ticket": state.ticket.number, "walk_in": state.ticket.walk_in}


async def script_id_mismatch(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    kit.shell.touch(Action.LANGUAGE, "en")
    person = kit.person()
    kit.scanner.push(person.code)
    await kit.shell.wait_screen(Screen.WAIT_CARD)
    kit.reader.present(card_for(kit.person()))  # somebody else's card
    state = await kit.shell.wait_screen(Screen.PROBLEM)
    await snap(out / "problem.png")
    assert state.problem is not None
    from vaxflow.screens.kiosk.texts import screen_texts

    texts = screen_texts(state)
    return {"reason": state.problem.reason, "message": texts["body"], "go_to": texts["go_to"]}


async def script_paper_out(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    kit.printer.set_fault(SimFault.PAPER_OUT)
    person = kit.person(elderly=False)
    await kit.booked_to_questions(person)
    await kit.answer_all()
    state = await kit.ticket()
    await snap(out / "ticket_print_failed.png")
    first = state.print_state.value
    kit.printer.clear_faults()
    kit.shell.touch(Action.REPRINT)
    state = await kit.ticket()
    assert state.ticket is not None
    await asyncio.sleep(0.5)  # let the print-status and health reports reach the server
    return {"ticket": state.ticket.number, "first": first, "reprint": state.print_state.value}


async def checkpoint(name: str) -> None:
    print(f"CHECKPOINT {name}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)


async def script_server_restart(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    person = kit.person(elderly=False)
    await kit.booked_to_questions(person)
    await kit.answer_all(agree=False)
    await checkpoint("consent")  # the test stops the server here
    kit.shell.touch(Action.AGREE)
    await kit.shell.wait_screen(Screen.OFFLINE, 20.0)
    await snap(out / "offline.png")
    await checkpoint("offline")  # the test starts the server again here
    state = await kit.ticket(within=40.0)
    assert state.ticket is not None
    return {"ticket": state.ticket.number, "print": state.print_state.value}


async def script_startup(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    """The app is up and shows the attract screen: report memory (benchmark)."""
    import resource

    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"screen": kit.shell.state.screen.value, "max_rss_mib": round(rss_kib / 1024, 1)}


LATENCY_PEOPLE = 40


async def script_latency(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    """Scan (card already on the reader) to ticket bytes at the printer, answering at once."""
    loop = asyncio.get_running_loop()
    shell = kit.shell

    marks: list[tuple[str, float]] = []
    trace: list[str] = []

    def answer(state: State) -> None:  # a person who touches instantly
        marks.append((state.screen.value, loop.time()))
        if state.screen is Screen.QUESTION:
            loop.call_soon(shell.touch, Action.NO)
        elif state.screen is Screen.CONFIRM_ANSWERS:  # the booking's answers: unchanged
            loop.call_soon(shell.touch, Action.YES)
        elif state.screen is Screen.CONSENT:
            loop.call_soon(shell.touch, Action.AGREE)

    shell.listeners.append(answer)
    to_bytes: list[float] = []
    to_paper: list[float] = []
    for _ in range(LATENCY_PEOPLE):
        person = kit.person()
        kit.reader.present(card_for(person))
        await shell.wait_screen(Screen.WAIT_BOOKING)
        printed = len(shell.printed)
        marks.clear()
        started = loop.time()
        kit.scanner.push(person.code)
        state = await shell.wait_for(lambda s: s.screen in (Screen.TICKET, Screen.PROBLEM))
        if state.screen is Screen.TICKET and len(shell.printed) > printed:
            _number, handed, done = shell.printed[-1]
            to_bytes.append(round((handed - started) * 1000, 1))
            to_paper.append(round((done - started) * 1000, 1))
            trace.append(" ".join(f"{k}:{(t - started) * 1000:.0f}" for k, t in marks))
        shell.touch(Action.DONE)
        await shell.wait_screen(Screen.ATTRACT)
    return {"scan_to_bytes_ms": to_bytes, "scan_to_printed_ms": to_paper, "trace": trace[:5]}


async def script_guardian(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    """A 10-year-old walks in with a parent; the child's card offered twice on the way."""
    shell = kit.shell
    child = kit.child_card(shell.today())
    kit.reader.present(child)
    await shell.wait_screen(Screen.WAIT_BOOKING)
    shell.touch(Action.WALK_IN)
    await shell.wait_screen(Screen.WALK_IN)
    shell.touch(Action.AGREE)
    state = await shell.wait_for(lambda s: s.screen in (Screen.GUARDIAN_CARD, Screen.PROBLEM))
    if state.problem is not None:
        return {"problem": state.problem.reason}
    kit.reader.present(child)
    await shell.wait_for(lambda s: s.notice == "notice.guardian_same_card")
    await snap(out / "guardian_same_card.png")
    guardian = kit.walk_in_card()
    kit.reader.present(guardian)
    await shell.wait_screen(Screen.GUARDIAN_RELATION)
    await snap(out / "guardian_relation.png")
    shell.touch(Action.RELATION, "parent")
    await shell.wait_for(lambda s: s.screen in (Screen.QUESTION, Screen.PROBLEM))
    await kit.answer_all()
    state = await kit.ticket()
    assert state.ticket is not None
    return {
        "ticket": state.ticket.number,
        "print": state.print_state.value,
        "child": child.id_number,
        "guardian": guardian.id_number,
    }


async def type_document(
    kit: Kit, snap: Snap | None, out: Path, document: str = "passport", number: str = "E12345678"
) -> None:
    """From the start screen, type a passport or permit as a person would, one key at a time;
    a too-short number first (photographed with its error when `snap` is given)."""
    shell = kit.shell
    shell.touch(Action.NO_ID_CARD)
    await shell.wait_screen(Screen.DOCUMENT)
    if snap is not None:
        await snap(out / "document.png")
    shell.touch(Action.DOCUMENT, document)
    await shell.wait_screen(Screen.TYPING)
    for char in number[:3]:
        shell.touch(Action.KEY, char)
    shell.touch(Action.NEXT)
    if snap is not None:
        await shell.wait_for(lambda s: s.notice.startswith("typed.error."))
        await snap(out / "typing_error.png")
    for char in number[3:]:
        shell.touch(Action.KEY, char)
    shell.touch(Action.NEXT)
    for char in "SMITH JANE":
        shell.touch(Action.KEY, char)
    shell.touch(Action.NEXT)
    for char in "1985061":
        shell.touch(Action.KEY, char)
    if snap is not None:
        await asyncio.sleep(0)
        await snap(out / "typing_birth.png")
    shell.touch(Action.KEY, "5")
    shell.touch(Action.NEXT)


async def booked_confirmed(kit: Kit, snap: Snap | None, out: Path) -> tuple[State, int]:
    """A booked person who answered in the booking app: QR, card, then only taps, counted
    from the first screen to the start screen again; the confirm screen photographed."""
    shell = kit.shell
    person = kit.person(elderly=False, answered=True)
    kit.taps = 0
    kit.scanner.push(person.code)
    await shell.wait_screen(Screen.WAIT_CARD)
    kit.reader.present(card_for(person))
    reached = await shell.wait_for(lambda s: s.screen in (Screen.CONFIRM_ANSWERS, Screen.PROBLEM))
    if reached.problem is not None:
        raise RuntimeError(f"booked person {person.code} refused: {reached.problem.reason}")
    if snap is not None:
        await snap(out / "confirm_answers.png")
    kit.tap(Action.YES)  # nothing has changed
    await shell.wait_screen(Screen.CONSENT)
    kit.tap(Action.AGREE)
    state = await kit.ticket()
    if snap is not None:
        await snap(out / "ticket_after_confirm.png")
    kit.tap(Action.DONE)
    await shell.wait_screen(Screen.ATTRACT)
    return state, kit.taps


async def script_booked_confirmed(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    """A booked person with pre-answered questions: at most three taps to a ticket and done."""
    state, taps = await booked_confirmed(kit, snap, out)
    assert state.ticket is not None
    print(f"TAPS {taps}", flush=True)
    return {
        "ticket": state.ticket.number,
        "print": state.print_state.value,
        "taps": taps,
        "answers": dict(state.answers),
    }


async def script_passport(kit: Kit, snap: Snap, out: Path) -> dict[str, Any]:
    """A walk-in with a passport typed on the kiosk's keyboard, to a printed ticket."""
    shell = kit.shell
    shell.touch(Action.LANGUAGE, "en")
    number = f"E{kit.used:08d}"
    await type_document(kit, snap, out, "passport", number)
    await shell.wait_screen(Screen.WAIT_BOOKING)
    shell.touch(Action.WALK_IN)
    await shell.wait_screen(Screen.WALK_IN)
    shell.touch(Action.AGREE)
    reached = await shell.wait_for(lambda s: s.screen in (Screen.QUESTION, Screen.PROBLEM))
    if reached.problem is not None:
        return {"problem": reached.problem.reason}
    await kit.answer_all()
    state = await kit.ticket()
    assert state.ticket is not None and state.card is not None
    return {
        "ticket": state.ticket.number,
        "print": state.print_state.value,
        "id_type": state.card.id_type,
        "number": state.card.id_number,
    }


SCRIPTS: dict[str, Callable[[Kit, Snap, Path], Awaitable[dict[str, Any]]]] = {
    "booked": script_booked,
    "walk_in": script_walk_in,
    "id_mismatch": script_id_mismatch,
    "paper_out": script_paper_out,
    "server_restart": script_server_restart,
    "startup": script_startup,
    "latency": script_latency,
    "guardian": script_guardian,
    "passport": script_passport,
    "booked_confirmed": script_booked_confirmed,
}


def run_script(
    name: str, settings: Settings, out: Path
) -> Callable[[KioskShell, Snap], Awaitable[int]]:
    """A driver for `run_app` that runs one test script and prints its RESULT line."""

    async def driver(shell: KioskShell, snap: Snap) -> int:
        print("READY", flush=True)  # the attract screen is up (cold start, benchmark)
        kit = Kit.of(shell, settings, site_today(settings))
        kit.used = 40 * list(SCRIPTS).index(name)  # scripts may share one server
        if name not in ("startup", "latency"):
            await snap(out / "attract.png")
        result = await SCRIPTS[name](kit, snap, out)
        result["screens"] = kit.screens
        print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
        return 0

    return driver


def site_today(settings: Settings) -> date:
    from vaxflow.clock import SystemClock

    return engine.site_day(SystemClock().now(), settings.site.timezone, settings.site.day_turns_at)


# --- the tour --------------------------------------------------------------------------------


def tour(
    settings: Settings, out: Path, languages: tuple[str, ...] = LANGUAGES, *, elderly: bool = False
) -> Callable[[KioskShell, Snap], Awaitable[int]]:
    """A driver that photographs every screen in each language: DIR/<lang>/<screen>.png;
    with `elderly`, every screen in elderly mode (large text): DIR/<lang>-elderly/."""

    async def driver(shell: KioskShell, snap: Snap) -> int:
        kit = Kit.of(shell, settings, site_today(settings))
        client = shell.client
        printer: Any = shell.devices.printer
        if not isinstance(client, GatedClient) or not isinstance(printer, GatedPrinter):
            raise SystemExit("the tour needs its gated client and printer")
        taken: list[Path] = []

        async def counted(path: Path) -> Path:
            taken.append(await snap(path))
            return path

        for language in languages:
            folder = out / (f"{language}-elderly" if elderly else language)
            await _tour_language(kit, client, printer, counted, folder, language, elderly)
        print(f"tour: {len(taken)} screenshots in {out}", flush=True)
        return 0

    return driver


async def _tour_language(
    kit: Kit,
    client: GatedClient,
    printer: GatedPrinter,
    snap: Snap,
    out: Path,
    language: str,
    elderly: bool = False,
) -> None:
    shell = kit.shell

    def lang() -> None:
        shell.touch(Action.LANGUAGE, language)
        if elderly and not shell.state.elderly:  # the elderly tour: large text on every screen
            shell.touch(Action.ELDERLY, "on")

    lang()
    await snap(out / "01-attract.png")
    person = kit.person(elderly=False)
    kit.scanner.push(person.code)
    await shell.wait_screen(Screen.WAIT_CARD)
    await snap(out / "02-wait_card.png")
    client.gate.clear()
    kit.reader.present(card_for(person))
    await shell.wait_screen(Screen.CHECKING)
    await snap(out / "03-checking.png")
    client.gate.set()
    await shell.wait_screen(Screen.QUESTION)
    await snap(out / "04-question.png")
    while shell.state.screen is Screen.QUESTION:
        shell.touch(Action.NO)
    await shell.wait_screen(Screen.CONSENT)
    await snap(out / "05-consent.png")
    client.gate.clear()
    printer.gate.clear()
    shell.touch(Action.AGREE)
    await shell.wait_screen(Screen.ISSUING)
    await snap(out / "06-issuing.png")
    client.gate.set()
    await shell.wait_screen(Screen.PRINTING)
    await snap(out / "07-printing.png")
    printer.gate.set()
    await kit.ticket()
    await snap(out / "08-ticket.png")
    shell.touch(Action.ANOTHER)
    # the walk-in path, with the printer out of paper
    kit.reader.present(kit.walk_in_card())
    await shell.wait_screen(Screen.WAIT_BOOKING)
    await snap(out / "09-wait_booking.png")
    shell.touch(Action.WALK_IN)
    await shell.wait_screen(Screen.WALK_IN)
    await snap(out / "10-walk_in.png")
    kit.printer.set_fault(SimFault.PAPER_OUT)
    shell.touch(Action.AGREE)
    reached = await shell.wait_for(lambda s: s.screen in (Screen.QUESTION, Screen.PROBLEM))
    if reached.screen is Screen.QUESTION:
        await kit.answer_all()
        await kit.ticket()
        await snap(out / "11-ticket_print_failed.png")
    else:
        await snap(out / "11-walk_in_refused.png")
    kit.printer.clear_faults()
    shell.touch(Action.DONE)
    # a refusal: somebody else's card for a booking
    lang()
    other = kit.person()
    kit.scanner.push(other.code)
    await shell.wait_screen(Screen.WAIT_CARD)
    kit.reader.present(card_for(kit.person()))
    await shell.wait_screen(Screen.PROBLEM)
    await snap(out / "12-problem.png")
    shell.touch(Action.DONE)
    # an elderly person while the server is away
    lang()
    senior = kit.person(elderly=True)
    client.down = True
    kit.scanner.push(senior.code)
    await shell.wait_screen(Screen.WAIT_CARD)
    kit.reader.present(card_for(senior))
    await shell.wait_screen(Screen.OFFLINE)
    await snap(out / "13-offline.png")
    client.down = False
    shell.touch(Action.RETRY_NOW)
    await shell.wait_screen(Screen.QUESTION)
    await snap(out / "14-question_elderly.png")
    # elderly, printer out of paper: the on-screen QR is at least as large as in normal mode
    kit.printer.set_fault(SimFault.PAPER_OUT)
    await kit.answer_all()
    await kit.ticket()
    await snap(out / "15-ticket_elderly_print_failed.png")
    kit.printer.clear_faults()
    shell.touch(Action.DONE)
    # a second, different booking scanned before the card: the screen names the one in use
    lang()
    first, second = kit.person(), kit.person()
    kit.scanner.push(first.code)
    await shell.wait_screen(Screen.WAIT_CARD)
    kit.scanner.push(second.code)
    await shell.wait_for(lambda s: s.notice == "notice.booking_replaced")
    await snap(out / "16-wait_card_booking_replaced.png")
    shell.touch(Action.START_OVER)
    await shell.wait_screen(Screen.ATTRACT)
    await _tour_guardian(kit, snap, out, lang, elderly)
    await _tour_new_ways(kit, snap, out, lang, elderly)


async def _tour_new_ways(
    kit: Kit, snap: Snap, out: Path, lang: Callable[[], None], elderly: bool = False
) -> None:
    """The passport path and the booked person's one-screen confirm, with its tap count."""
    shell = kit.shell
    lang()
    if shell.state.elderly and not elderly:
        shell.touch(Action.ELDERLY, "off")
    await type_document(kit, _numbered(snap, out, "21"), out, "passport", f"E{kit.used:08d}")
    await shell.wait_screen(Screen.WAIT_BOOKING)
    await snap(out / "22-passport_wait_booking.png")
    shell.touch(Action.START_OVER)
    await shell.wait_screen(Screen.ATTRACT)
    lang()
    _state, taps = await booked_confirmed(kit, _numbered(snap, out, "23"), out)
    print(f"tour {out.name}: booked with answers from the app: {taps} taps", flush=True)
    lang()
    kit.scanner.push(PASSPORT_ZONE)  # a passport's zone under the scanner: no typing
    await shell.wait_screen(Screen.WAIT_BOOKING)
    await snap(out / "25-passport_zone_read.png")
    shell.touch(Action.START_OVER)
    await shell.wait_screen(Screen.ATTRACT)
    lang()
    shell.touch(Action.ELDERLY, "on")
    shell.touch(Action.NO_ID_CARD)
    await shell.wait_screen(Screen.DOCUMENT)
    shell.touch(Action.DOCUMENT, "hk_macau_permit")
    await shell.wait_screen(Screen.TYPING)
    await snap(out / "24-typing_elderly.png")
    shell.touch(Action.START_OVER)
    if not elderly:
        shell.touch(Action.ELDERLY, "off")
    await shell.wait_screen(Screen.ATTRACT)


def _numbered(snap: Snap, out: Path, prefix: str) -> Snap:
    """`snap` with the tour's number in front of each file name."""

    async def numbered(path: Path) -> Path:
        return await snap(out / f"{prefix}-{path.name}")

    return numbered


async def _tour_guardian(
    kit: Kit, snap: Snap, out: Path, lang: Callable[[], None], elderly: bool = False
) -> None:
    """A child with a guardian: where the site's age rules admit children (else the refusal)."""
    shell = kit.shell
    lang()
    if shell.state.elderly and not elderly:
        shell.touch(Action.ELDERLY, "off")
    child = kit.child_card(shell.today())
    kit.reader.present(child)
    await shell.wait_screen(Screen.WAIT_BOOKING)
    shell.touch(Action.WALK_IN)
    await shell.wait_screen(Screen.WALK_IN)
    shell.touch(Action.AGREE)
    reached = await shell.wait_for(lambda s: s.screen in (Screen.GUARDIAN_CARD, Screen.PROBLEM))
    if reached.screen is Screen.PROBLEM:
        await snap(out / "17-child_refused.png")
        shell.touch(Action.DONE)
        await shell.wait_screen(Screen.ATTRACT)
        return
    await snap(out / "17-guardian_card.png")
    kit.reader.present(child)  # the child's own card again
    await shell.wait_for(lambda s: s.notice == "notice.guardian_same_card")
    await snap(out / "18-guardian_same_card.png")
    kit.reader.present(kit.walk_in_card())  # an adult on no list: the guardian
    await shell.wait_screen(Screen.GUARDIAN_RELATION)
    await snap(out / "19-guardian_relation.png")
    shell.touch(Action.RELATION, "parent")
    await shell.wait_for(lambda s: s.screen in (Screen.QUESTION, Screen.PROBLEM))
    while shell.state.screen is Screen.QUESTION:
        shell.touch(Action.NO)
    reached = await shell.wait_for(lambda s: s.screen in (Screen.CONSENT, Screen.PROBLEM))
    await snap(
        out / ("20-consent_guardian.png" if reached.screen is Screen.CONSENT else "20-x.png")
    )
    shell.touch(Action.START_OVER)
    await shell.wait_screen(Screen.ATTRACT)
