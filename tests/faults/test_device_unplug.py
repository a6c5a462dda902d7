"""ID-card reader and scanner unplugged, or the reader sending garbage, at a running kiosk.

The real kiosk shell with the real serial drivers: the booking scanner and the ID-card reader
are pseudo-terminals behind symlinks (as udev's /dev/serial/by-id links are), the reader
speaking the real protocol (tests/hardware/idcard_emulator.py). A device is unplugged (its
pty closed, the link removed) or sends garbage; the kiosk keeps going on what still works,
the marshal's device list says what is wrong, and when the device is plugged back in at the
same path the kiosk finds it by itself, without a restart, and the person checks in.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.kit import Site, adult_card, api_get, running_kiosk, site_server, visits_in
from tests.figures import Figures
from tests.hardware.idcard_emulator import IdCardEmulator
from tests.hardware.test_serial_scanner import PtyScanner
from vaxflow.clock import SystemClock
from vaxflow.config import Settings, load_settings
from vaxflow.hardware.idcard_reader import SerialIdCardReader
from vaxflow.hardware.serial_scanner import SerialScanner
from vaxflow.hardware.sim_printer import SimPrinter
from vaxflow.kiosk import flow as f
from vaxflow.kiosk.shell import Devices
from vaxflow.queue.bookings.csv_import import check_csv, to_csv
from vaxflow.queue.client.site import SiteClient, new_request_id
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.demo.demo_data import make_people
from vaxflow.queue.store.bookings import import_bookings
from vaxflow.queue.store.db import database_url
from vaxflow.queue.store.writer import Store
from vaxflow.screens.kiosk.texts import screen_texts
from vaxflow.screens.kiosk.tour import card_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pseudo-terminals"),
]


@dataclass
class BookedSite:
    site: Site
    people: list[Booking]


@pytest.fixture(scope="module")
def booked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BookedSite]:
    """A server with today's bookings imported."""
    folder = tmp_path_factory.mktemp("devices")
    with site_server(folder) as site:
        settings = load_settings(site.config)
        day = engine.site_day(SystemClock().now(), settings.site.timezone)
        # Adults on their first dose: no age review, no earlier doses to match.
        people = [p for p in make_people(settings, day, 40) if p.dose_number == 1]
        people = [p for p in people if p.birth_date and (day - p.birth_date).days < 59 * 365]
        checked = check_csv(to_csv(people, settings.site.timezone).encode(), settings, day)
        assert not checked.problems, checked.problems[:3]
        asyncio.run(_import(site, settings, checked.bookings))
        yield BookedSite(site, people)


async def _import(site: Site, settings: Settings, bookings: list[Booking]) -> None:
    """The day list into the running server's database (as `vaxflow bookings import` does)."""
    store = Store(database_url(str(site.db)), site_id=settings.site.id, clock=SystemClock())
    await store.start()
    try:
        await store.write(lambda tx: import_bookings(tx, bookings), actor="test:import")
    finally:
        await store.stop()


@dataclass
class Serial:
    """The kiosk's two serial devices on pseudo-terminals."""

    scanner_port: PtyScanner
    reader_port: IdCardEmulator
    devices: Devices


@pytest.fixture
async def serial(tmp_path: Path) -> AsyncIterator[Serial]:
    port = PtyScanner(tmp_path / "ttyScanner")
    with IdCardEmulator(tmp_path) as emulator:
        scanner_url = f"serial://{port.link}?baudrate=9600&terminator=cr&reconnect_interval=0.05"
        devices = Devices(
            SerialScanner(scanner_url),
            SerialIdCardReader(emulator.url, command_timeout=0.3, poll_interval=0.02),
            SimPrinter(),
            {"scanner": scanner_url, "idcard": emulator.url},
        )
        try:
            yield Serial(port, emulator, devices)
        finally:
            port.unplug()


async def device_entry(url: str, device_id: str) -> dict[str, Any]:
    devices = await api_get(url, "/api/devices")
    return next((d for d in devices if d["device_id"] == device_id), {})


async def reported(url: str, device_id: str, states: tuple[str, ...], within: float = 10) -> Any:
    """The marshal's entry for the device, once it is in one of `states`."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        entry = await device_entry(url, device_id)
        if entry.get("state") in states:
            return entry
        assert asyncio.get_running_loop().time() < deadline, entry
        await asyncio.sleep(0.1)


async def checked_in(kiosk: Any) -> f.Ticket:
    state: f.State = await kiosk.shell.wait_for(
        lambda s: s.screen is f.Screen.TICKET and s.print_state is f.PrintState.PRINTED,
        within=15,
    )
    assert state.ticket is not None
    return state.ticket


async def test_reader_unplugged_scanner_goes_on_reader_back_at_same_path(
    booked: BookedSite, serial: Serial, figures: Figures
) -> None:
    url, person = booked.site.url, booked.people[0]
    async with running_kiosk(url, serial.devices, device_id="kiosk-d1") as kiosk:
        serial.reader_port.unplug()
        entry = await reported(url, "kiosk-d1-idcard", ("offline", "fault", "unknown"))
        assert entry["reason"] and entry["detail"], entry
        # The scanner path goes on: the booking is taken, the kiosk asks for the ID card.
        serial.scanner_port.write(person.code.encode() + b"\r")
        waiting = await kiosk.shell.wait_screen(f.Screen.WAIT_CARD)
        assert screen_texts(waiting)["title"]
        # Plugged back in at the same path: found again, reported healthy, card read.
        serial.reader_port.replug()
        await reported(url, "kiosk-d1-idcard", ("ok",))
        serial.reader_port.present(card_for(person))
        ticket = await checked_in(kiosk)
    assert ticket.number in {t for _i, t, _s, _p in visits_in(booked.site.db)}
    figures.add("faults injected", 1)
    figures.add("acknowledged check-ins verified", 1)


async def test_reader_sends_garbage_reported_then_reads_again(
    booked: BookedSite, serial: Serial, figures: Figures
) -> None:
    url, person = booked.site.url, booked.people[1]
    async with running_kiosk(url, serial.devices, device_id="kiosk-d2") as kiosk:
        serial.reader_port.corrupt = 10_000  # every answer's checksum is wrong
        serial.reader_port.present(card_for(person))
        await kiosk.shell.wait_for(lambda s: s.notice == "notice.card_again")
        assert screen_texts(kiosk.shell.state)["notice"]  # "place the card again", in words
        entry = await reported(url, "kiosk-d2-idcard", ("fault", "unknown"))
        assert entry["reason"] == "protocol_error", entry
        serial.reader_port.corrupt = 0  # the cable is seated again
        serial.reader_port.remove()
        await reported(url, "kiosk-d2-idcard", ("ok",))
        serial.scanner_port.write(person.code.encode() + b"\r")
        await kiosk.shell.wait_screen(f.Screen.WAIT_CARD)
        serial.reader_port.present(card_for(person))
        ticket = await checked_in(kiosk)
    assert ticket.number in {t for _i, t, _s, _p in visits_in(booked.site.db)}
    figures.add("faults injected", 1)
    figures.add("acknowledged check-ins verified", 1)


async def test_scanner_unplugged_walk_in_goes_on_scanner_back_at_same_path(
    booked: BookedSite, serial: Serial, figures: Figures
) -> None:
    url, person = booked.site.url, booked.people[2]
    async with running_kiosk(url, serial.devices, device_id="kiosk-d3") as kiosk:
        serial.scanner_port.unplug()
        serial.scanner_port.link.unlink()
        entry = await reported(url, "kiosk-d3-scanner", ("offline", "fault", "unknown"))
        assert entry["reason"] and entry["detail"], entry
        # The ID-card path goes on: a walk-in checks in with the scanner gone.
        serial.reader_port.present(adult_card(31))
        await kiosk.shell.wait_screen(f.Screen.WAIT_BOOKING)
        kiosk.shell.touch(f.Action.WALK_IN)
        await kiosk.shell.wait_screen(f.Screen.WALK_IN)
        kiosk.shell.touch(f.Action.AGREE)
        walk_in = await checked_in(kiosk)
        kiosk.shell.touch(f.Action.DONE)
        serial.reader_port.remove()
        # Plugged back in at the same path: a booked person scans and checks in.
        serial.scanner_port.plug()
        await reported(url, "kiosk-d3-scanner", ("ok",))
        serial.scanner_port.write(person.code.encode() + b"\r")
        await kiosk.shell.wait_screen(f.Screen.WAIT_CARD)
        serial.reader_port.present(card_for(person))
        booked_ticket = await checked_in(kiosk)
    tickets = {t for _i, t, _s, _p in visits_in(booked.site.db)}
    assert {walk_in.number, booked_ticket.number} <= tickets
    figures.add("faults injected", 1)
    figures.add("acknowledged check-ins verified", 2)


async def test_a_restarted_kiosk_clears_the_alerts_its_last_run_left(
    booked: BookedSite, serial: Serial
) -> None:
    """The last run died with the reader unplugged; this run finds every device working."""
    url = booked.site.url
    async with SiteClient(url, "demo-kiosk-token", device="kiosk-d4") as last_run:
        for kind in ("idcard", "scanner"):
            body = {"device_id": f"kiosk-d4-{kind}", "kind": kind, "url": "serial:///dev/x",
                    "state": "offline", "reason": "unplugged", "detail": "gone"}  # fmt: skip
            await last_run.post("/api/devices/health", body, request_id=new_request_id())
    dashboard = await api_get(url, "/api/dashboard")
    assert "kiosk-d4-idcard" in str(dashboard["alerts"]["devices"])
    async with running_kiosk(url, serial.devices, device_id="kiosk-d4"):
        for kind in ("idcard", "scanner", "printer"):
            await reported(url, f"kiosk-d4-{kind}", ("ok",))
    dashboard = await api_get(url, "/api/dashboard")
    assert "kiosk-d4" not in str(dashboard["alerts"]["devices"])
