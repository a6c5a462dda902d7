"""The ticket printer fails in the middle of a ticket: out of paper, cover opened, switched off.

The real kiosk shell prints through the real ESC/POS driver (`tcp://`) to the network printer
emulator of tests/hardware, which fails the way a printer does while the ticket's bytes come
in: the paper ends, the cover is opened, or it is switched off. Each time: the check-in is
kept (one visit, its `print_failed` flag set through /api/visits/{id}/print-status), the
person sees their number on screen with words saying the print failed, the marshal's device
list says what is wrong in words; once the printer is fixed the kiosk (never restarted)
reports it healthy by itself, a reprint prints the same number, the flag clears, and no
second ticket number is issued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.kit import Site, adult_card, api_get, running_kiosk, site_server, visits_in
from tests.figures import Figures
from tests.hardware.printer_emulator import PrinterEmulator
from vaxflow.hardware.printer import EscposPrinter
from vaxflow.hardware.sim_idcard import SimIdCardReader
from vaxflow.hardware.sim_scanner import SimScanner
from vaxflow.kiosk import flow as f
from vaxflow.kiosk.shell import Devices
from vaxflow.screens.kiosk.texts import screen_texts

pytestmark = pytest.mark.slow


class FailingPrinter(PrinterEmulator):
    """The emulator, failing as soon as the bytes of a ticket arrive (`fail_mid_job`)."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_mid_job = ""  # paper_out | cover_open | switched_off
        self.switched_off = False

    def feed(self, pending: bytes, data: bytes) -> tuple[bytes, bytes]:
        if self.switched_off:
            return b"", b""
        size = len(self.received)
        reply, pending = super().feed(pending, data)
        if len(self.received) > size and self.fail_mid_job:
            fault, self.fail_mid_job = self.fail_mid_job, ""
            if fault == "switched_off":
                self.switched_off = True
                asyncio.get_running_loop().create_task(self.drop_connections())
                return b"", b""
            setattr(self, fault, True)
        return reply, pending

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.switched_off:  # nobody home: the connection goes as soon as it comes
            writer.close()
            return
        await super()._accept(reader, writer)

    def fix(self) -> None:
        self.switched_off = self.paper_out = self.cover_open = False


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site_server(tmp_path_factory.mktemp("printer")) as running:
        yield running


async def printer_entry(url: str, device_id: str) -> dict[str, Any]:
    devices = await api_get(url, "/api/devices")
    return next((d for d in devices if d["device_id"] == device_id), {})


async def eventually(check: Any, within: float = 8.0) -> Any:
    """Poll `check()` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("fault", "person", "reason", "words"),
    [
        ("paper_out", 11, "paper_out", "out of paper"),
        ("cover_open", 12, "cover_open", "cover is open"),
        ("switched_off", 13, "unreachable", "switched on"),
    ],
)
async def test_printer_fails_mid_ticket_visit_kept_staff_told_reprint_same_number(
    site: Site, figures: Figures, fault: str, person: int, reason: str, words: str
) -> None:
    before = (await api_get(site.url, "/api/stats"))["tickets_issued"]
    device_id = f"kiosk-p{person}"
    async with FailingPrinter() as emulator:
        printer = EscposPrinter(emulator.url(), connect_timeout=1.0, health_timeout=2.0)
        devices = Devices(SimScanner(), SimIdCardReader(), printer, {"printer": emulator.url()})
        async with running_kiosk(site.url, devices, device_id=device_id) as kiosk:
            await eventually(lambda: printer_entry(site.url, f"{device_id}-printer"))
            emulator.fail_mid_job = fault
            await kiosk.walk_in(adult_card(person))
            failed = await kiosk.shell.wait_for(
                lambda s: s.screen is f.Screen.TICKET and s.print_state is f.PrintState.FAILED,
                within=15,
            )
            ticket = failed.ticket
            assert ticket is not None and ticket.number.encode() in bytes(emulator.received)
            screen = screen_texts(failed)
            assert screen["number"] == ticket.number and screen["print_failed"] == "1"
            assert screen["status"] and screen["b_reprint"], screen  # words, and a way out

            # The server keeps the visit, flagged; the marshal reads what is wrong, in words.
            async def flagged() -> Any:
                visit = await api_get(site.url, f"/api/tickets/{ticket.number}")
                return visit if visit["print_failed"] else None

            visit = await eventually(flagged)
            assert visit["visit_id"] == ticket.visit_id and visit["state"] == "checked_in"

            async def told() -> Any:
                entry = await printer_entry(site.url, f"{device_id}-printer")
                return entry if entry.get("reason") == reason else None

            entry = await eventually(told)
            assert entry["state"] in ("fault", "offline") and words in entry["detail"], entry

            # Fixed: the kiosk notices by itself, a reprint gives the same number on paper.
            emulator.fix()

            async def healthy() -> Any:
                entry = await printer_entry(site.url, f"{device_id}-printer")
                return entry if entry.get("state") == "ok" else None

            await eventually(healthy)
            printed_before = len(emulator.received)
            kiosk.shell.touch(f.Action.REPRINT)
            reprinted = await kiosk.shell.wait_for(
                lambda s: s.print_state is f.PrintState.PRINTED, within=10
            )
            assert reprinted.ticket == ticket
            assert ticket.number.encode() in bytes(emulator.received[printed_before:])

            async def cleared() -> Any:
                visit = await api_get(site.url, f"/api/tickets/{ticket.number}")
                return visit if not visit["print_failed"] else None

            await eventually(cleared)
    stats = await api_get(site.url, "/api/stats")
    assert stats["tickets_issued"] - before == 1  # one check-in, one number, printed twice
    visits = visits_in(site.db)
    assert len({ticket for _id, ticket, _s, _p in visits}) == len(visits) == before + 1
    figures.add("faults injected", 1)
    figures.add("acknowledged check-ins verified", 1)
    figures.add("anything lost", 0)
