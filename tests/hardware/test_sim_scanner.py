"""The simulated scanner: codes from the URL and push(), and its injected faults."""

from __future__ import annotations

import asyncio

import pytest

from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.interfaces import DeviceState, Scanner
from vaxflow.hardware.scan_text import InvalidScan
from vaxflow.hardware.sim_scanner import SimFault, SimScanner
from vaxflow.hardware.urls import open_device


async def test_codes_from_url_then_pushed() -> None:
    scanner = open_device("scanner", "sim://?codes=A1,B2")
    assert isinstance(scanner, SimScanner)
    await scanner.open()
    assert (await scanner.read(1)) is not None
    scanner.push("C3\r\n")
    texts = [(await scanner.read(1)) for _ in range(2)]
    assert [s.text for s in texts if s] == ["B2", "C3"]
    assert (await scanner.read(0.01)) is None
    await scanner.close()


async def test_is_a_scanner() -> None:
    scanner: Scanner = SimScanner("sim://")
    await scanner.open()
    assert (await scanner.health()).state is DeviceState.OK
    await scanner.close()
    assert (await scanner.health()).state is DeviceState.OFFLINE


async def test_read_wakes_on_push() -> None:
    scanner = SimScanner("sim://")
    await scanner.open()
    waiting = asyncio.create_task(scanner.read(5))
    await asyncio.sleep(0)
    scanner.push("LATE")
    scan = await waiting
    assert scan is not None and scan.text == "LATE" and scan.source == "sim://"
    await scanner.close()


async def test_unplugged_then_back() -> None:
    scanner = SimScanner("sim://?codes=X&fault=unplugged")
    await scanner.open()
    with pytest.raises(DeviceUnavailable):
        await scanner.read(0.1)
    health = await scanner.health()
    assert (health.state, health.reason) == (DeviceState.OFFLINE, "unplugged")
    scanner.inject(None)
    scan = await scanner.read(0.1)
    assert scan is not None and scan.text == "X"


async def test_unplug_interrupts_a_waiting_read() -> None:
    scanner = SimScanner("sim://")
    await scanner.open()
    waiting = asyncio.create_task(scanner.read(5))
    await asyncio.sleep(0)
    scanner.inject(SimFault.UNPLUGGED)
    with pytest.raises(DeviceUnavailable):
        await waiting


async def test_garbled_is_one_shot() -> None:
    scanner = SimScanner("sim://", codes=["DEMO0001", "DEMO0002"], fault="garbled")
    await scanner.open()
    with pytest.raises(InvalidScan) as err:
        await scanner.read(0.1)
    assert err.value.reason == "not_utf8"
    scan = await scanner.read(0.1)
    assert scan is not None and scan.text == "DEMO0002"


async def test_timeout_keeps_codes() -> None:
    scanner = SimScanner("sim://?codes=KEEP&fault=timeout")
    await scanner.open()
    assert (await scanner.read(0.05)) is None
    assert (await scanner.health()).state is DeviceState.UNKNOWN
    scanner.inject(None)
    scan = await scanner.read(0.05)
    assert scan is not None and scan.text == "KEEP"


async def test_raw_garbage_pushed() -> None:
    scanner = SimScanner("sim://")
    await scanner.open()
    scanner.push(b"AB\x07CD")
    with pytest.raises(InvalidScan) as err:
        await scanner.read(0.1)
    assert err.value.reason == "control_character"


def test_unknown_fault_and_option() -> None:
    with pytest.raises(ValueError):
        SimScanner("sim://?fault=on_fire")
    with pytest.raises(TypeError):
        SimScanner("sim://", colour="red")


async def test_read_before_open_is_unavailable() -> None:
    with pytest.raises(DeviceUnavailable):
        await SimScanner("sim://?codes=A").read(0.1)
