"""The station console's ID-card reader against the real app: the simulated reader and the
serial driver on a pty emulator. A card read while someone is called is verified; an absent,
silent or garbling reader shows plain words and never holds the console up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

from tests.hardware.idcard_emulator import IdCardEmulator
from vaxflow.hardware.idcard_reader import SerialIdCardReader
from vaxflow.hardware.interfaces import IdCard
from vaxflow.hardware.sim_idcard import SimIdCardReader
from vaxflow.kiosk.station_reader import ReaderOptions, StationIdReader, warning_text
from vaxflow.queue.client.site import SiteClient
from vaxflow.queue.client.station_console import StationConsole

from .conftest import Site, booking_codes

FAST = ReaderOptions(device_timeout=1.0, read_poll=0.2, idle_poll=0.05, reconnect_delays=(0.1, 0.2))


def card_of(site: Site, code: str) -> IdCard:
    person = site.person(code)
    return IdCard(
        name=person.person_name,
        sex=person.sex if person.sex in ("male", "female") else "unknown",
        nation="汉",
        birth_date=person.birth_date or date(1990, 1, 1),
        address="测试地址 1 号",
        id_number=person.id_number,
        issuer="测试公安局",
        valid_from=date(2020, 1, 1),
        valid_until=None,
    )


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "not within the deadline"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def console_with_reader(
    site: Site, device: object, url: str
) -> AsyncIterator[tuple[StationConsole, StationIdReader]]:
    base = str(site.client.make_url("")).rstrip("/")
    async with SiteClient(base, "demo-station-token") as client:
        console = StationConsole(client, "S01", "Nurse Li")
        reader = StationIdReader(console, url, device=device, options=FAST)
        task = asyncio.create_task(reader.run())
        try:
            yield console, reader
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _device_state(site: Site) -> str | None:
    devices = await site.get("marshal", "/api/devices")
    return next((d["state"] for d in devices if d["device_id"] == "station-S01-idcard"), None)


async def _device_becomes(site: Site, state: str, within: float = 5.0) -> None:
    """The console reports its reader in the background: wait for the report to land."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (seen := await _device_state(site)) != state:
        assert loop.time() < deadline, f"reader reported {seen!r}, not {state!r}"
        await asyncio.sleep(0.05)


async def test_a_card_on_the_reader_verifies_the_called_person(site: Site) -> None:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    first = await site.check_in(codes[0])
    second = await site.check_in(codes[1])
    sim = SimIdCardReader("sim://")
    async with console_with_reader(site, sim, "sim://") as (console, reader):
        view = console.view
        await console.refresh()
        await console.open("CORONAVAC", "LOT-1")
        sim.present(card_of(site, codes[1]))  # placed before the call: read once called
        await asyncio.sleep(0.3)
        assert reader.reads == 0
        await console.call_next()
        assert view.called is not None and view.called.ticket == first["ticket"]
        await until(lambda: view.mismatch is not None)
        assert view.message is not None and "不一致" in view.message[1]
        assert second["ticket"] in view.message[1] and view.person is None
        sim.present(card_of(site, codes[0]))
        await until(lambda: view.person is not None)
        assert view.person is not None and view.person.ticket == first["ticket"]
        assert view.message is not None and "核验一致" in view.message[1]
        assert view.person.state == "in_service" and view.device_warning == ""
        assert reader.reads == 2
        await _device_becomes(site, "ok")


async def test_an_unplugged_reader_is_said_in_words_and_the_console_goes_on(site: Site) -> None:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    await site.check_in(codes[0])
    sim = SimIdCardReader("sim://?fault=unplugged")
    async with console_with_reader(site, sim, "sim://?fault=unplugged") as (console, _reader):
        view = console.view
        await until(lambda: view.device_warning == warning_text("unplugged", "zh-CN"), within=3)
        assert "未连接" in view.device_warning  # in the console's language (zh-CN here)
        assert "not connected" in warning_text("unplugged", "en")
        await console.refresh()
        await console.open("CORONAVAC", "LOT-1")
        await console.call_next()  # the console works while the reader is away
        assert view.called is not None
        await _device_becomes(site, "offline")
        sim.inject("none")
        sim.present(card_of(site, codes[0]))
        await until(lambda: view.person is not None, within=5)
        assert view.device_warning == ""
        await _device_becomes(site, "ok")

        await console.record_dose()
        await site.check_in(codes[1])
        await console.call_next()
        sim.inject("garbled")
        sim.present(card_of(site, codes[1]))
        await until(
            lambda: (
                view.device_warning
                in (warning_text("unreadable", "zh-CN"), warning_text("faulty", "zh-CN"))
            )
        )
        await until(lambda: view.device_warning == warning_text("faulty", "zh-CN"), within=5)
        await _device_becomes(site, "fault")
        await console.verify(site.card(codes[1])["id_number"], by="typed")  # typing still works
        assert view.person is not None


async def test_a_silent_serial_reader_times_out_in_words(site: Site, tmp_path: Path) -> None:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    ticket = await site.check_in(codes[0])
    with IdCardEmulator(tmp_path) as emulator:
        emulator.silent = True
        driver = SerialIdCardReader(emulator.url, command_timeout=0.3, poll_interval=0.02)
        async with console_with_reader(site, driver, emulator.url) as (console, _reader):
            view = console.view
            await console.refresh()
            await console.open("CORONAVAC", "LOT-1")
            await console.call_next()
            loop = asyncio.get_running_loop()
            started = loop.time()
            await until(lambda: view.device_warning == warning_text("no_answer", "zh-CN"), within=5)
            assert loop.time() - started < FAST.read_poll + FAST.device_timeout + 1.5
            await console.recall()  # not held up by the reader
            assert view.called is not None and view.called.call_count == 2
            emulator.silent = False
            emulator.present(card_of(site, codes[0]))
            await until(lambda: view.person is not None, within=8)
            assert view.person is not None and view.person.ticket == ticket["ticket"]
            assert view.device_warning == ""

        emulator.unplug()
        driver = SerialIdCardReader(emulator.url, command_timeout=0.3, poll_interval=0.02)
        async with console_with_reader(site, driver, emulator.url) as (console, _reader):
            await until(
                lambda: console.view.device_warning == warning_text("unplugged", "zh-CN"), within=3
            )
