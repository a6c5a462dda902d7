"""The serial ID-card driver against a pty that speaks the real protocol, and the simulator."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.hardware.idcard_emulator import IdCardEmulator, make_card
from vaxflow.hardware.errors import DeviceProtocolError, DeviceTimeout, DeviceUnavailable
from vaxflow.hardware.idcard_protocol import Command, IdCardStatusError
from vaxflow.hardware.idcard_reader import SerialIdCardReader
from vaxflow.hardware.interfaces import DeviceState, IdCardReader
from vaxflow.hardware.sim_idcard import DEMO_CARDS, SimFault, SimIdCardReader
from vaxflow.hardware.urls import open_device

CARD = make_card()
OTHER = make_card("钱二", sex="female", valid_until=None)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[IdCardEmulator]:
    with IdCardEmulator(tmp_path) as emu:
        yield emu


@pytest.fixture
async def reader(emulator: IdCardEmulator) -> AsyncIterator[SerialIdCardReader]:
    device = SerialIdCardReader(emulator.url, command_timeout=0.3, poll_interval=0.02)
    await device.open()
    yield device
    await device.close()


# --- reading ----------------------------------------------------------------------------


async def test_reads_a_card(emulator: IdCardEmulator, reader: SerialIdCardReader) -> None:
    emulator.present(CARD)
    assert await reader.read_card(1.0) == CARD
    assert emulator.requests == [Command.FIND_CARD, Command.SELECT_CARD, Command.READ_BASIC_INFO]


async def test_no_card_within_timeout(emulator: IdCardEmulator, reader: SerialIdCardReader) -> None:
    started = time.monotonic()
    assert await reader.read_card(0.15) is None
    assert time.monotonic() - started < 0.6
    assert emulator.count(Command.FIND_CARD) >= 2  # it polled
    assert emulator.count(Command.SELECT_CARD) == 0


async def test_card_placed_while_polling(
    emulator: IdCardEmulator, reader: SerialIdCardReader
) -> None:
    task = asyncio.create_task(reader.read_card(5.0))
    await asyncio.to_thread(emulator.wait_for, Command.FIND_CARD, 3)
    emulator.present(OTHER)
    assert await task == OTHER


@pytest.mark.parametrize("quirk", [False, True], ids=["find-sees-card", "find-quirk"])
async def test_a_card_left_on_the_reader_is_reported_once(
    emulator: IdCardEmulator, reader: SerialIdCardReader, quirk: bool
) -> None:
    emulator.activated_quirk = quirk
    emulator.present(CARD)
    assert await reader.read_card(1.0) == CARD
    assert await reader.read_card(0.1) is None  # still on the reader
    assert emulator.count(Command.READ_BASIC_INFO) == 1
    emulator.remove()
    assert await reader.read_card(0.1) is None  # lifted
    emulator.present(CARD)
    assert await reader.read_card(1.0) == CARD  # placed again
    assert emulator.count(Command.READ_BASIC_INFO) == 2


async def test_card_lifted_during_read_is_retried(
    emulator: IdCardEmulator, reader: SerialIdCardReader
) -> None:
    emulator.statuses[Command.READ_BASIC_INFO] = 0x41
    emulator.present(CARD)
    assert await reader.read_card(0.2) is None
    assert emulator.count(Command.READ_BASIC_INFO) >= 2
    del emulator.statuses[Command.READ_BASIC_INFO]
    assert await reader.read_card(1.0) == CARD


async def test_photo_bytes_that_look_like_frames_are_data(
    emulator: IdCardEmulator, reader: SerialIdCardReader
) -> None:
    card = dataclasses.replace(CARD, photo=(b"\xaa\xaa\xaa\x96\x69\x00\x04\x00\x00\x80\x84") * 93)
    emulator.present(card)
    assert await reader.read_card(1.0) == card


async def test_a_cancelled_read_does_not_disturb_the_next(
    emulator: IdCardEmulator, reader: SerialIdCardReader
) -> None:
    emulator.silent = True
    task = asyncio.create_task(reader.read_card(5.0))
    await asyncio.to_thread(emulator.wait_for, Command.FIND_CARD, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    emulator.silent = False
    emulator.present(CARD)
    assert await reader.read_card(1.0) == CARD  # waits for the abandoned command first


# --- line faults ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"garbage": b"\x00\xff\x13junk\xaa\xaa\xaa\x96"},
        {"garbage": b"\xaa\xaa\xaa\x96\x69\x00"},  # a false frame start before the real one
        {"chunk_size": 7},
        {"chunk_size": 3, "garbage": b"\xaa\x00\xaa\xaa"},
    ],
    ids=["garbage", "false-preamble", "split", "split-garbage"],
)
async def test_recovers_from_garbage_and_split_frames(
    emulator: IdCardEmulator, reader: SerialIdCardReader, fault: dict[str, object]
) -> None:
    for name, value in fault.items():
        setattr(emulator, name, value)
    reader.command_timeout = 2.0  # a byte-at-a-time 1.3 kB answer takes a while
    emulator.present(CARD)
    assert await reader.read_card(2.0) == CARD


async def test_silence_is_a_timeout_then_recovers(
    emulator: IdCardEmulator, reader: SerialIdCardReader
) -> None:
    emulator.silent = True
    with pytest.raises(DeviceTimeout):
        await reader.read_card(1.0)
    emulator.silent = False
    emulator.present(CARD)
    assert await reader.read_card(1.0) == CARD


@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
async def test_garbled_answer_is_a_protocol_error_then_recovers(
    emulator: IdCardEmulator, reader: SerialIdCardReader, fault: str
) -> None:
    setattr(emulator, fault, 1)
    with pytest.raises(DeviceProtocolError, match="garbled"):
        await reader.read_card(1.0)
    emulator.present(CARD)
    assert await reader.read_card(1.0) == CARD


async def test_failure_status_is_translated(
    emulator: IdCardEmulator, reader: SerialIdCardReader
) -> None:
    emulator.statuses[Command.FIND_CARD] = 0x60
    with pytest.raises(IdCardStatusError, match="self-test") as info:
        await reader.read_card(1.0)
    assert info.value.status.reason == "sam_self_test_failed"


# --- unplug and replug ------------------------------------------------------------------


async def test_unplug_then_replug(emulator: IdCardEmulator, reader: SerialIdCardReader) -> None:
    emulator.present(CARD)
    assert await reader.read_card(1.0) == CARD
    emulator.unplug()
    with pytest.raises(DeviceUnavailable):
        await reader.read_card(0.5)
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        await reader.read_card(0.5)
    assert (await reader.health()).state is DeviceState.OFFLINE
    emulator.replug()
    # A reopened port forgets the last card: the replugged reader reports it again.
    assert await reader.read_card(1.0) == CARD
    assert (await reader.health()).state is DeviceState.OK


async def test_starts_unplugged_and_recovers(tmp_path: Path) -> None:
    with IdCardEmulator(tmp_path, CARD) as emulator:
        emulator.unplug()
        device = SerialIdCardReader(emulator.url, command_timeout=0.3)
        try:
            with pytest.raises(DeviceUnavailable):
                await device.open()
            emulator.replug()
            assert await device.read_card(1.0) == CARD
        finally:
            await device.close()


# --- health and construction ------------------------------------------------------------


async def test_health(emulator: IdCardEmulator, reader: SerialIdCardReader) -> None:
    health = await reader.health()
    assert (health.kind, health.state, health.url) == ("idcard", DeviceState.OK, emulator.url)
    assert health.detail == "SAM 05.01-20101010-0012345678-1234567890"
    emulator.silent = True
    assert (await reader.health()).reason == "no_answer"
    emulator.silent = False
    emulator.statuses[Command.READ_SAM_ID] = 0x66
    health = await reader.health()
    assert (health.state, health.reason) == (DeviceState.FAULT, "sam_not_authorised")


@pytest.mark.parametrize(
    ("url", "path", "baudrate", "timeout"),
    [
        ("serial:///dev/ttyUSB0", "/dev/ttyUSB0", 115200, 1.0),
        ("serial:///dev/ttyS1?baudrate=9600&timeout=2.5", "/dev/ttyS1", 9600, 2.5),
    ],
)
def test_url(url: str, path: str, baudrate: int, timeout: float) -> None:
    device = open_device("idcard", url)
    assert isinstance(device, SerialIdCardReader)
    assert (device.path, device.baudrate, device.command_timeout) == (path, baudrate, timeout)


@pytest.mark.parametrize("url", ["serial://", "sim://"])
def test_bad_url(url: str) -> None:
    with pytest.raises(ValueError, match="serial device URL"):
        SerialIdCardReader(url)


def test_both_implement_the_protocol() -> None:
    devices: list[IdCardReader] = [SerialIdCardReader("serial:///dev/x"), SimIdCardReader()]
    assert len(devices) == 2


# --- the simulator ----------------------------------------------------------------------


async def test_sim_reports_a_presented_card_once() -> None:
    sim = open_device("idcard", "sim://")
    assert isinstance(sim, SimIdCardReader)
    await sim.open()
    assert await sim.read_card(0.01) is None
    waiting = asyncio.create_task(sim.read_card(5.0))
    await asyncio.sleep(0)
    sim.present(OTHER)
    assert await waiting == OTHER
    assert await sim.read_card(0.01) is None
    sim.remove()
    sim.present(OTHER)
    assert await sim.read_card(0.01) == OTHER
    await sim.close()


async def test_sim_url_queues_demo_cards() -> None:
    sim = SimIdCardReader("sim://?card=zhang,li")
    assert await sim.read_card(0.01) == DEMO_CARDS["zhang"]
    assert await sim.read_card(0.01) == DEMO_CARDS["li"]
    assert await sim.read_card(0.01) is None  # the last one stays on the reader
    assert DEMO_CARDS["li"].valid_until is None


@pytest.mark.parametrize(
    ("fault", "error", "state"),
    [
        (SimFault.UNPLUGGED, DeviceUnavailable, DeviceState.OFFLINE),
        (SimFault.TIMEOUT, DeviceTimeout, DeviceState.UNKNOWN),
        (SimFault.GARBLED, DeviceProtocolError, DeviceState.FAULT),
    ],
)
async def test_sim_faults(fault: SimFault, error: type[Exception], state: DeviceState) -> None:
    sim = SimIdCardReader("sim://?card=zhang", command_timeout=0.01)
    sim.inject(fault)
    with pytest.raises(error):
        await sim.read_card(1.0)
    assert (await sim.health()).state is state
    sim.inject(SimFault.NONE)
    assert (await sim.health()).state is DeviceState.OK
    assert await sim.read_card(0.01) == DEMO_CARDS["zhang"]  # not lost to the fault


def test_sim_url_fault_and_bad_card() -> None:
    assert SimIdCardReader("sim://?fault=unplugged").fault is SimFault.UNPLUGGED
    with pytest.raises(ValueError, match="unknown demo card"):
        SimIdCardReader("sim://?card=nobody")


async def test_sim_garbled_card_is_reported_after_fault_clears() -> None:
    sim = SimIdCardReader()
    card = dataclasses.replace(CARD, name="孙三")
    sim.present(card)
    sim.inject("garbled")
    with pytest.raises(DeviceProtocolError):
        await sim.read_card(0.01)
    sim.inject("none")
    assert await sim.read_card(0.01) == card
