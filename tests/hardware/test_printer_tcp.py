"""EscposPrinter against a local TCP printer emulator that answers status queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxflow.hardware.errors import (
    DeviceProtocolError,
    DeviceTimeout,
    DeviceUnavailable,
    PrinterNotReady,
)
from vaxflow.hardware.escpos_render import PrinterProfile, parse_escpos, render_escpos
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState
from vaxflow.hardware.layout import QrCode, ticket_layout
from vaxflow.hardware.printer import EscposPrinter, PrinterTarget, parse_printer_url
from vaxflow.hardware.printer_status import (
    PrinterStatus,
    health_json,
    parse_status,
    status_health,
)
from vaxflow.hardware.urls import device_class

from .printer_emulator import PrinterEmulator
from .test_layout import TICKET_ZH

TICKET = render_escpos(ticket_layout(TICKET_ZH), PrinterProfile(qr="native"))
FAST = {"status_timeout": 0.2, "connect_timeout": 2.0, "health_timeout": 2.0}
QUERIES = [b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x04"]


@pytest.fixture
async def emulator() -> PrinterEmulator:  # type: ignore[misc]
    async with PrinterEmulator() as emu:
        yield emu


@pytest.fixture
async def printer(emulator: PrinterEmulator) -> EscposPrinter:  # type: ignore[misc]
    device = EscposPrinter(emulator.url(), **FAST)
    yield device
    await device.close()


async def test_prints_ticket_bytes_between_two_status_checks(
    emulator: PrinterEmulator, printer: EscposPrinter
) -> None:
    await printer.print_bytes(TICKET, timeout=5)
    assert bytes(emulator.received) == TICKET
    assert emulator.queries == QUERIES * 2
    assert QrCode(TICKET_ZH.qr_payload) in parse_escpos(bytes(emulator.received))
    assert await printer.health() == DeviceHealth("printer", emulator.url(), DeviceState.OK)
    await printer.print_bytes(TICKET, timeout=5)  # the connection is reused
    assert emulator.connections == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("paper_out", "paper_out"),
        ("cover_open", "cover_open"),
        ("offline", "offline"),
        ("error", "error"),
    ],
)
async def test_fault_refuses_before_sending_then_recovers(
    emulator: PrinterEmulator, printer: EscposPrinter, fault: str, reason: str
) -> None:
    setattr(emulator, fault, True)
    with pytest.raises(PrinterNotReady) as info:
        await printer.print_bytes(TICKET, timeout=5)
    assert info.value.reason == reason
    assert emulator.received == b""
    health = await printer.health()
    assert (health.state, health.reason) == (DeviceState.FAULT, reason)
    setattr(emulator, fault, False)
    await printer.print_bytes(TICKET, timeout=5)
    assert bytes(emulator.received) == TICKET


async def test_paper_running_out_during_the_job_is_reported(
    emulator: PrinterEmulator, printer: EscposPrinter
) -> None:
    emulator.run_out_after_job = True
    with pytest.raises(PrinterNotReady, match="after printing") as info:
        await printer.print_bytes(TICKET, timeout=5)
    assert info.value.reason == "paper_out"


async def test_paper_near_end_prints_with_a_warning(
    emulator: PrinterEmulator, printer: EscposPrinter
) -> None:
    emulator.paper_near_end = True
    await printer.print_bytes(TICKET, timeout=5)
    health = await printer.health()
    assert (health.state, health.reason) == (DeviceState.WARNING, "paper_near_end")


async def test_silent_printer_is_unknown_and_prints_blind(
    emulator: PrinterEmulator, printer: EscposPrinter
) -> None:
    emulator.no_reply = True
    health = await printer.health()
    assert (health.state, health.reason) == (DeviceState.UNKNOWN, "no_status_reply")
    await printer.print_bytes(TICKET, timeout=5)
    assert await emulator.wait_received(len(TICKET)) == TICKET
    await printer.print_bytes(TICKET, timeout=5)
    assert await emulator.wait_received(2 * len(TICKET)) == TICKET * 2
    assert emulator.queries == QUERIES[:1]  # asked once, by the health check


async def test_printer_that_stops_answering_times_out(
    emulator: PrinterEmulator, printer: EscposPrinter
) -> None:
    await printer.print_bytes(TICKET, timeout=5)
    emulator.no_reply = True
    with pytest.raises(DeviceTimeout, match="stopped answering"):
        await printer.print_bytes(TICKET, timeout=5)


async def test_overall_deadline_is_a_device_timeout(emulator: PrinterEmulator) -> None:
    emulator.no_reply = True
    device = EscposPrinter(emulator.url(), status_timeout=5.0)
    try:
        with pytest.raises(DeviceTimeout, match=r"within 0\.3 s"):
            await device.print_bytes(TICKET, timeout=0.3)
    finally:
        await device.close()


async def test_garbled_status_is_a_protocol_error(
    emulator: PrinterEmulator, printer: EscposPrinter
) -> None:
    emulator.garble = True
    with pytest.raises(DeviceProtocolError, match="0xff is not a reply to DLE EOT 1"):
        await printer.print_bytes(TICKET, timeout=5)
    health = await printer.health()
    assert (health.state, health.reason) == (DeviceState.UNKNOWN, "garbled")


async def test_switched_off_printer_is_unavailable_then_reconnects(
    emulator: PrinterEmulator, printer: EscposPrinter
) -> None:
    await printer.print_bytes(TICKET, timeout=5)
    await emulator.drop_connections()
    with pytest.raises(DeviceUnavailable):
        await printer.print_bytes(TICKET, timeout=5)
    await printer.print_bytes(TICKET, timeout=5)  # a fresh connection
    assert emulator.connections == 2


async def test_unreachable_printer() -> None:
    async with PrinterEmulator() as emu:
        url = emu.url()
    device = EscposPrinter(url, **FAST)
    with pytest.raises(DeviceUnavailable):
        await device.open()
    health = await device.health()
    assert (health.state, health.reason) == (DeviceState.OFFLINE, "unreachable")
    await device.close()


async def test_file_transport_writes_bytes_and_cannot_read_status(tmp_path: Path) -> None:
    out = tmp_path / "lp0"
    device = EscposPrinter(f"file://{out}")
    await device.print_bytes(TICKET, timeout=5)
    health = await device.health()
    await device.close()
    assert out.read_bytes() == TICKET
    assert (health.state, health.reason) == (DeviceState.UNKNOWN, "no_status")


async def test_missing_device_file_is_unavailable(tmp_path: Path) -> None:
    device = EscposPrinter(f"file://{tmp_path}/no/such/dir/lp0")
    with pytest.raises(DeviceUnavailable):
        await device.print_bytes(TICKET, timeout=5)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("tcp://10.0.0.5:9100", PrinterTarget("tcp", host="10.0.0.5", port=9100)),
        ("tcp://printer.local?chinese=raster", PrinterTarget("tcp", host="printer.local")),
        ("usb://0x0416:0x5011", PrinterTarget("usb", vendor_id=0x0416, product_id=0x5011)),
        (
            "usb://04b8:0e15?profile=TM-T88V",
            PrinterTarget("usb", vendor_id=0x04B8, product_id=0x0E15),
        ),
        (
            "serial:///dev/ttyUSB0?baudrate=115200",
            PrinterTarget("serial", path="/dev/ttyUSB0", baudrate=115200),
        ),
        ("file:///dev/usb/lp0", PrinterTarget("file", path="/dev/usb/lp0")),
        (
            "serial:///dev/ttyS1?flow=rtscts",
            PrinterTarget("serial", path="/dev/ttyS1", flow="rtscts"),
        ),
    ],
)
def test_parse_printer_url(url: str, target: PrinterTarget) -> None:
    assert parse_printer_url(url) == target
    assert device_class("printer", url) is EscposPrinter


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tcp://", "give a host"),
        ("tcp://host:abc", "port must be a number"),
        ("usb://0416", "VID:PID in hex"),
        ("usb://zz:01", "VID:PID in hex"),
        ("serial://", "give a device path"),
        ("serial:///dev/ttyS0?baudrate=fast", "baudrate must be a number"),
        ("serial:///dev/ttyS0?flow=dtr", "flow must be rtscts or xonxoff"),
        ("lp://x", "not a printer URL"),
    ],
)
def test_parse_printer_url_rejects(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_printer_url(url)


@pytest.mark.parametrize(
    ("replies", "status"),
    [
        ({1: 0x12, 2: 0x12, 4: 0x12}, PrinterStatus(answered=True)),
        ({1: 0x1A, 2: 0x16, 4: 0x12}, PrinterStatus(True, offline=True, cover_open=True)),
        (
            {1: 0x1A, 2: 0x32, 4: 0x7E},
            PrinterStatus(True, True, paper_out=True, paper_near_end=True),
        ),
        ({1: 0x12, 2: 0x12, 4: 0x1E}, PrinterStatus(True, paper_near_end=True)),
        ({1: 0x1A, 2: 0x52, 4: 0x12}, PrinterStatus(True, offline=True, error=True)),
        ({1: 0x12, 2: None, 4: 0x12}, PrinterStatus(answered=False)),
        ({}, PrinterStatus(answered=False)),
    ],
)
def test_parse_status(replies: dict[int, int | None], status: PrinterStatus) -> None:
    assert parse_status(replies) == status


@pytest.mark.parametrize("bad", [0x00, 0xFF, 0x13, 0x92])
def test_parse_status_rejects_non_status_bytes(bad: int) -> None:
    with pytest.raises(ValueError, match="is not a reply"):
        parse_status({1: 0x12, 2: bad, 4: 0x12})


@pytest.mark.parametrize(
    ("status", "state", "reason"),
    [
        (PrinterStatus(False), DeviceState.UNKNOWN, "no_status_reply"),
        (PrinterStatus(True), DeviceState.OK, ""),
        (
            PrinterStatus(True, offline=True, cover_open=True, paper_out=True),
            DeviceState.FAULT,
            "cover_open",
        ),
        (PrinterStatus(True, offline=True, paper_out=True), DeviceState.FAULT, "paper_out"),
        (PrinterStatus(True, offline=True), DeviceState.FAULT, "offline"),
        (PrinterStatus(True, paper_near_end=True), DeviceState.WARNING, "paper_near_end"),
    ],
)
def test_status_health(status: PrinterStatus, state: DeviceState, reason: str) -> None:
    health = status_health("printer", "tcp://p:9100", status)
    assert (health.state, health.reason) == (state, reason)


def test_health_json_matches_the_server_body() -> None:
    health = DeviceHealth("printer", "tcp://p:9100", DeviceState.FAULT, "paper_out", "load paper")
    assert health_json(health, "kiosk-03") == {
        "device_id": "kiosk-03",
        "kind": "printer",
        "url": "tcp://p:9100",
        "state": "fault",
        "reason": "paper_out",
        "detail": "load paper",
    }


async def test_serial_printer_on_a_pseudo_terminal(emulator: PrinterEmulator) -> None:
    async with emulator.serial_port() as path:
        device = EscposPrinter(f"serial://{path}?baudrate=115200", **FAST)
        try:
            await device.print_bytes(TICKET, timeout=5)
            assert await emulator.wait_received(len(TICKET)) == TICKET
            emulator.cover_open = True
            health = await device.health()
            assert (health.state, health.reason) == (DeviceState.FAULT, "cover_open")
            with pytest.raises(PrinterNotReady):
                await device.print_bytes(TICKET, timeout=5)
        finally:
            await device.close()
    assert emulator.queries == QUERIES * 4  # print: before+after, health, refused print
