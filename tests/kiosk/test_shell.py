"""The kiosk shell (no GUI) against the real server factory: lost answers, abandoned check-ins.

The network fault is a client whose answer is lost after the server has committed: the
request reached the server, the reply never reached the kiosk. That is the case a retry
with a new key would turn into a second ticket.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.hardware.interfaces import DeviceHealth, TicketPrinter
from vaxflow.hardware.sim_idcard import SimIdCardReader
from vaxflow.hardware.sim_printer import SimFault, SimPrinter
from vaxflow.hardware.sim_scanner import SimScanner
from vaxflow.kiosk import flow as f
from vaxflow.kiosk.shell import Devices, KioskShell, ShellOptions
from vaxflow.queue.api.models import StatsResponse
from vaxflow.queue.client.site import ServerUnreachable, SiteClient, new_request_id
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.demo.demo_data import make_people, seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.screens.kiosk import i18n
from vaxflow.screens.kiosk.texts import screen_texts, spoken_words, ticket_view
from vaxflow.screens.kiosk.tour import card_for

AiohttpServer = Callable[[web.Application], Awaitable[TestServer]]
FAST = f.Timing(retry_delays=(0.05,), offline=0.3)


class LossyClient(SiteClient):
    """Sends every request; while `lose` is set, the check-in's answer is lost on the way back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lose = False
        self.keys: list[str | None] = []
        self.posts: list[tuple[str, Any]] = []  # every request sent (path, body)

    async def post(
        self, path: str, body: dict[str, Any] | None = None, *, request_id: str | None = None
    ) -> Any:
        self.posts.append((path, body))
        answer = await super().post(path, body, request_id=request_id)
        if path == "/api/checkins":
            self.keys.append(request_id)
            if self.lose:
                raise ServerUnreachable("POST /api/checkins: connection reset (test)")
        return answer


@pytest.fixture
async def site(
    aiohttp_server: AiohttpServer, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> tuple[TestServer, list[Booking]]:
    app = create_app(settings, db=str(tmp_path / "site.sqlite"), clock=clock)
    server = await aiohttp_server(app)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, settings, day, 50), actor="test")
    return server, make_people(settings, day, 50)


async def kiosk(
    server: TestServer,
    printer: TicketPrinter | None = None,
    *,
    voice: bool = False,
    options: ShellOptions | None = None,
    think: float = 0.0,
) -> tuple[KioskShell, LossyClient, SimPrinter]:
    client = LossyClient(str(server.make_url("")), "demo-kiosk-token", device="kiosk-t")
    sim = SimPrinter()
    devices = Devices(SimScanner(), SimIdCardReader(), printer or sim)
    shell = KioskShell(
        client,
        devices,
        ticket_view,
        flow=f.Flow(new_request_id, FAST, voice=voice),
        options=options or ShellOptions(read_poll=0.05, reconnect_delays=(0.05,)),
        spoken_words=spoken_words,
    )

    def touch(seq: int, action: f.Action) -> None:
        if shell.state.seq == seq:  # still the screen this answer is for
            shell.touch(action)

    def answer(state: f.State) -> None:
        """Answers "no" and agrees, after `think` seconds (a person reads the screen)."""
        if state.screen is f.Screen.QUESTION:
            action = f.Action.NO
        elif state.screen is f.Screen.CONFIRM_ANSWERS:  # the booking's answers: unchanged
            action = f.Action.YES
        elif state.screen is f.Screen.CONSENT:
            action = f.Action.AGREE
        else:
            return
        if think:
            asyncio.get_running_loop().call_later(think, touch, state.seq, action)
        else:
            shell.touch(action)

    shell.listeners.append(answer)
    await shell.start()
    return shell, client, sim


async def stats(server: TestServer) -> StatsResponse:
    async with SiteClient(str(server.make_url("")), "demo-marshal-token") as marshal:
        return await marshal.stats()


def arrive(shell: KioskShell, person: Booking) -> None:
    assert isinstance(shell.devices.idcard, SimIdCardReader)
    assert isinstance(shell.devices.scanner, SimScanner)
    shell.devices.idcard.present(card_for(person))
    shell.devices.scanner.push(person.code)


async def test_lost_answer_is_retried_with_the_same_key_one_ticket(
    site: tuple[TestServer, list[Booking]],
) -> None:
    server, people = site
    shell, client, printer = await kiosk(server)
    try:
        client.lose = True
        arrive(shell, people[0])
        await shell.wait_screen(f.Screen.OFFLINE)
        client.lose = False
        state = await shell.wait_screen(f.Screen.TICKET)
        assert state.ticket is not None and len(printer.jobs) == 1
        assert state.ticket.number.encode() in printer.jobs[0]
        assert len(client.keys) >= 2 and len(set(client.keys)) == 1
        assert (await stats(server)).tickets_issued == 1
    finally:
        await shell.stop()


async def test_person_who_leaves_before_the_answer_gets_the_ticket_cancelled(
    site: tuple[TestServer, list[Booking]],
) -> None:
    server, people = site
    shell, client, _printer = await kiosk(server)
    try:
        client.lose = True
        arrive(shell, people[1])
        await shell.wait_screen(f.Screen.OFFLINE)
        await shell.wait_screen(f.Screen.ATTRACT, within=5)  # nobody touched: timed out
        client.lose = False
        for _ in range(100):  # the abandoned check-in is replayed and its ticket cancelled
            counts = await stats(server)
            if counts.by_state.get("cancelled"):
                break
            await asyncio.sleep(0.05)
        assert counts.tickets_issued == 1 and counts.by_state["cancelled"] == 1
        assert shell.state.ticket is None
    finally:
        await shell.stop()


async def test_printer_out_of_paper_then_reprint_reports_to_the_server(
    site: tuple[TestServer, list[Booking]],
) -> None:
    server, people = site
    shell, _client, printer = await kiosk(server)
    try:
        printer.set_fault(SimFault.PAPER_OUT)
        arrive(shell, people[2])
        state = await shell.wait_for(
            lambda s: s.screen is f.Screen.TICKET and s.print_state is f.PrintState.FAILED
        )
        assert state.ticket is not None and not printer.jobs
        printer.clear_faults()
        shell.touch(f.Action.REPRINT)
        await shell.wait_for(lambda s: s.print_state is f.PrintState.PRINTED)
        assert len(printer.jobs) == 1
    finally:
        await shell.stop()


# --- the next person ----------------------------------------------------------------------


class GatedPrinter:
    """A printer that prints when the test lets it (a slow printer, or a long ticket)."""

    def __init__(self) -> None:
        self.inner = SimPrinter()
        self.gate = asyncio.Semaphore(0)
        self.waiting = 0

    async def open(self) -> None:
        await self.inner.open()

    async def print_bytes(self, data: bytes, timeout: float) -> None:  # noqa: ASYNC109
        self.waiting += 1
        await self.gate.acquire()
        await self.inner.print_bytes(data, timeout)

    async def health(self) -> DeviceHealth:
        return await self.inner.health()

    async def close(self) -> None:
        await self.inner.close()


async def issued(server: TestServer) -> int:
    return (await stats(server)).tickets_issued


async def test_three_people_back_to_back_each_arriving_on_the_previous_ticket(
    site: tuple[TestServer, list[Booking]],
) -> None:
    """Each person scans and places the card while the previous ticket is on screen."""
    server, people = site
    shell, _client, printer = await kiosk(server)
    try:
        numbers: list[str] = []
        for person in people[3:6]:
            if numbers:
                assert shell.state.screen is f.Screen.TICKET  # the previous ticket, shown
                assert shell.state.print_state is f.PrintState.PRINTED
            arrive(shell, person)
            state = await shell.wait_for(
                lambda s: (
                    s.screen is f.Screen.TICKET
                    and s.ticket is not None
                    and s.ticket.number not in numbers
                    and s.print_state is f.PrintState.PRINTED
                )
            )
            assert state.ticket is not None
            numbers.append(state.ticket.number)
        assert len(set(numbers)) == 3 and len(printer.jobs) == 3
        for number, job in zip(numbers, printer.jobs, strict=True):
            assert number.encode() in job
        assert await issued(server) == 3 and shell.state.served == 3
    finally:
        await shell.stop()


async def test_people_arriving_while_the_ticket_prints_wait_for_the_paper_then_go_on(
    site: tuple[TestServer, list[Booking]],
) -> None:
    server, people = site
    printer = GatedPrinter()
    shell, _client, _sim = await kiosk(server, printer)
    try:
        numbers: list[str] = []
        for person in people[6:9]:
            arrive(shell, person)  # during the previous ticket's printing (but the first)
            if numbers:
                await shell.wait_for(lambda s: len(s.queued) == 2)
                assert shell.state.screen is f.Screen.PRINTING  # the ticket is still shown
                assert shell.state.ticket and shell.state.ticket.number == numbers[-1]
                printer.gate.release()  # the previous ticket comes out
            state = await shell.wait_for(
                lambda s: (
                    s.screen is f.Screen.PRINTING
                    and s.ticket is not None
                    and s.ticket.number not in numbers
                )
            )
            assert state.ticket is not None
            numbers.append(state.ticket.number)
        printer.gate.release()
        await shell.wait_for(lambda s: s.print_state is f.PrintState.PRINTED)
        assert len(printer.inner.jobs) == 3 and len(set(numbers)) == 3
        assert await issued(server) == 3
        assert (await stats(server)).by_state.get("cancelled", 0) == 0
    finally:
        await shell.stop()


async def test_a_second_booking_scan_is_named_and_used(
    site: tuple[TestServer, list[Booking]],
) -> None:
    server, people = site
    shell, _client, _printer = await kiosk(server)
    try:
        first, second = people[9], people[10]
        assert isinstance(shell.devices.scanner, SimScanner)
        shell.devices.scanner.push(first.code)
        await shell.wait_screen(f.Screen.WAIT_CARD)
        shell.devices.scanner.push(second.code)
        state = await shell.wait_for(lambda s: s.notice == "notice.booking_replaced")
        shown = screen_texts(state)["notice"]
        assert second.code[-4:] in shown and "{" not in shown
        assert isinstance(shell.devices.idcard, SimIdCardReader)
        shell.devices.idcard.present(card_for(second))
        state = await shell.wait_for(lambda s: s.print_state is f.PrintState.PRINTED)
        assert state.booking_qr == second.code
    finally:
        await shell.stop()


# --- the voice ------------------------------------------------------------------------------

PLAYER = """#!/bin/sh
echo "$1|$2" >> "$(dirname "$0")/said.log"
"""


def fake_player(folder: Path) -> tuple[str, ...]:
    script = folder / "fake-espeak"
    script.write_text(PLAYER)
    script.chmod(0o755)
    return (str(script), "{voice}", "{text}")


@pytest.mark.slow  # real player processes, ~4 s each
@pytest.mark.parametrize("language", ["zh-CN", "zh-TW", "en"])
async def test_each_screen_says_its_own_words_in_the_persons_language(
    site: tuple[TestServer, list[Booking]], tmp_path: Path, language: str
) -> None:
    server, people = site
    env = {**os.environ, "PULSE_SERVER": "unix:/fake/pulse"}
    options = ShellOptions(
        read_poll=0.05,
        reconnect_delays=(0.05,),
        speech_command=fake_player(tmp_path),
        speech_env=env,
    )
    shell, _client, _printer = await kiosk(server, voice=True, options=options, think=0.4)
    seen: list[f.State] = []
    shell.listeners.append(seen.append)
    try:
        shell.touch(f.Action.LANGUAGE, language)
        person = people[11 + ("zh-CN", "zh-TW", "en").index(language)]
        arrive(shell, person)
        state = await shell.wait_for(lambda s: s.print_state is f.PrintState.PRINTED)
        ticket = state.ticket
        assert ticket is not None
        await asyncio.sleep(0.4)  # the person hears the number
        shell.touch(f.Action.DONE)
        shell.touch(f.Action.LANGUAGE, language)  # the next person chooses theirs too
        shell.devices.scanner.push(people[20].code)  # type: ignore[attr-defined]
        shell.devices.idcard.present(card_for(people[21]))  # type: ignore[attr-defined]
        await shell.wait_screen(f.Screen.PROBLEM)  # not this person's booking
        await asyncio.sleep(0.5)
    finally:
        await shell.stop()
    voice = {"zh-CN": "cmn", "zh-TW": "cmn", "en": "en"}[language]
    lines = (tmp_path / "said.log").read_text("utf-8").splitlines()
    # Between two people the kiosk is back on its attract screen in the default language,
    # and may say it before the next person's language touch arrives: nothing else.
    attract = "cmn|" + spoken_words(f.State())
    assert [line for line in lines if not line.startswith(voice + "|") and line != attract] == []
    heard = "\n".join(line.split("|", 1)[1] for line in lines)

    def t(key: str, **params: object) -> str:
        return i18n.text(key, language, **params)

    precheck = next(s.precheck for s in seen if s.precheck is not None)
    for question in precheck.questions:  # the questions themselves, as the server worded them
        assert question.text[language] in heard
    if precheck.consent_version:
        assert t("prompt.consent") in heard  # the consent in short
    assert t("speak.ticket", number=" ".join(ticket.number)) in heard
    words = screen_texts(replace(state, screen=f.Screen.TICKET))
    assert words["lane"] in heard and words["go_to"] in heard
    assert t("problem.go_to", desk=t("desk.info")) in heard


async def test_no_sound_device_is_one_report_to_the_marshal_and_no_hang(
    site: tuple[TestServer, list[Booking]], tmp_path: Path
) -> None:
    server, people = site
    options = ShellOptions(
        read_poll=0.05,
        reconnect_delays=(0.05,),
        speech_command=fake_player(tmp_path),
        speech_env={},  # no sound server named
    )
    if await asyncio.to_thread(Path("/dev/snd").is_dir):
        pytest.skip("this machine has a sound card")
    shell, client, _printer = await kiosk(server, voice=True, options=options)
    try:
        arrive(shell, people[14])
        await shell.wait_for(lambda s: s.print_state is f.PrintState.PRINTED, within=10)
        async with SiteClient(str(server.make_url("")), "demo-marshal-token") as marshal:
            for _ in range(50):
                devices = await marshal.get("/api/devices")
                voice = [d for d in devices if d["device_id"] == "kiosk-1-voice"]
                if voice:
                    break
                await asyncio.sleep(0.05)
    finally:
        await shell.stop()
    assert voice and voice[0]["state"] == "offline" and voice[0]["reason"] == "no_sound_device"
    assert not (tmp_path / "said.log").exists()  # the player was never started
    sent = [b for p, b in client.posts if p == "/api/devices/health" and b["kind"] == "voice"]
    assert len(sent) == 1  # five screens were to be spoken: one report


async def test_the_site_zone_comes_from_the_server_when_the_kiosk_has_none(
    site: tuple[TestServer, list[Booking]], settings: Settings
) -> None:
    server, _people = site
    shell, _client, _printer = await kiosk(server)
    try:
        assert shell.site_zone is None or shell.site_zone == settings.site.timezone
        for _ in range(100):
            if shell.site_zone:
                break
            await asyncio.sleep(0.02)
        assert shell.site_zone == settings.site.timezone
        assert (
            shell.site_now().utcoffset()
            == shell.now().astimezone(ZoneInfo(settings.site.timezone)).utcoffset()
        )
    finally:
        await shell.stop()
