"""The kiosk shell (no GUI) against the real server factory: lost answers, abandoned check-ins.

The network fault is a client whose answer is lost after the server has committed: the
request reached the server, the reply never reached the kiosk. That is the case a retry
with a new key would turn into a second ticket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.hardware.sim_idcard import SimIdCardReader
from vaxflow.hardware.sim_printer import SimFault, SimPrinter
from vaxflow.hardware.sim_scanner import SimScanner
from vaxflow.kiosk import flow as f
from vaxflow.kiosk.shell import Devices, KioskShell, ShellOptions
from vaxflow.kiosk.tour import card_for
from vaxflow.queue.client.site import ServerUnreachable, SiteClient, new_request_id
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.demo.demo_data import make_people, seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.screens.kiosk.texts import ticket_view

AiohttpServer = Callable[[web.Application], Awaitable[TestServer]]
FAST = f.Timing(retry_delays=(0.05,), offline=0.3)


class LossyClient(SiteClient):
    """Sends every request; while `lose` is set, the check-in's answer is lost on the way back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lose = False
        self.keys: list[str | None] = []

    async def post(
        self, path: str, body: dict[str, Any] | None = None, *, request_id: str | None = None
    ) -> Any:
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


async def kiosk(server: TestServer) -> tuple[KioskShell, LossyClient, SimPrinter]:
    client = LossyClient(str(server.make_url("")), "demo-kiosk-token", device="kiosk-t")
    printer = SimPrinter()
    devices = Devices(SimScanner(), SimIdCardReader(), printer)
    shell = KioskShell(
        client,
        devices,
        ticket_view,
        flow=f.Flow(new_request_id, FAST),
        options=ShellOptions(read_poll=0.05, reconnect_delays=(0.05,)),
    )

    def answer(state: f.State) -> None:
        if state.screen is f.Screen.QUESTION:
            shell.touch(f.Action.NO)
        elif state.screen is f.Screen.CONSENT:
            shell.touch(f.Action.AGREE)

    shell.listeners.append(answer)
    await shell.start()
    return shell, client, printer


async def stats(server: TestServer) -> Any:
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
        assert (await stats(server))["tickets_issued"] == 1
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
            if counts["by_state"].get("cancelled"):
                break
            await asyncio.sleep(0.05)
        assert counts["tickets_issued"] == 1 and counts["by_state"]["cancelled"] == 1
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
