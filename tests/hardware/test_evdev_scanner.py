"""The wedge scanner read as a device: recorded `struct input_event` streams through a pipe.

The recordings are what a scanner's event device gives for a code: per key an EV_MSC scan
code, the EV_KEY press, a SYN_REPORT, the release and another SYN_REPORT, 2 ms a key, Shift
pressed around capitals. They go through a real pipe into `EvdevScanner` (`hid:///dev/fd/N`),
which reads it as it reads /dev/input/eventN (a pipe cannot be grabbed: that is tested where
a real input device exists).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxflow.hardware import evdev_keys as k
from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.evdev_keys import EvdevDecoder, InputEvent, parse_events
from vaxflow.hardware.evdev_scanner import EvdevScanner, describe_keyboards, keyboard_devices
from vaxflow.hardware.interfaces import DeviceState
from vaxflow.hardware.key_burst import Code, Fragment, FragmentReason
from vaxflow.hardware.scan_text import InvalidScan
from vaxflow.hardware.urls import open_device

EV_MSC, MSC_SCAN = 4, 4

#: US layout: character -> (key code, shift).
US_KEYS: dict[str, tuple[int, bool]] = {}
for _code, (_plain, _shifted) in k.LAYOUTS["us"].items():
    US_KEYS.setdefault(_plain, (_code, False))
    US_KEYS.setdefault(_shifted, (_code, True))


def ev(t: float, type_: int, code: int, value: int) -> InputEvent:
    sec = int(t)
    return InputEvent(sec, round((t - sec) * 1_000_000), type_, code, value)


def key_events(code: int, t: float, *, repeat: bool = False) -> list[InputEvent]:
    """One key as the kernel reports it: scan code, press, SYN, (repeat,) release, SYN."""
    out = [ev(t, EV_MSC, MSC_SCAN, 0x70000 + code), ev(t, k.EV_KEY, code, 1), ev(t, 0, 0, 0)]
    if repeat:
        out += [ev(t + 0.0005, k.EV_KEY, code, 2), ev(t + 0.0005, 0, 0, 0)]
    out += [ev(t + 0.001, k.EV_KEY, code, 0), ev(t + 0.001, 0, 0, 0)]
    return out


def scan_events(
    text: str, start: float, per_key: float = 0.002, enter: bool = True
) -> list[InputEvent]:
    """A scanner typing `text` (US layout) and Enter, a key every `per_key` seconds."""
    out: list[InputEvent] = []
    t = start
    for char in text:
        code, shift = US_KEYS[char]
        if shift:
            out += [ev(t, k.EV_KEY, k.KEY_LEFTSHIFT, 1), ev(t, 0, 0, 0)]
        out += key_events(code, t, repeat=char == "0")
        if shift:
            out += [ev(t + 0.0015, k.EV_KEY, k.KEY_LEFTSHIFT, 0), ev(t + 0.0015, 0, 0, 0)]
        t += per_key
    if enter:
        out += key_events(k.KEY_ENTER, t)
    return out


def record(events: list[InputEvent]) -> bytes:
    return b"".join(e.pack() for e in events)


def decode(events: list[InputEvent], **options: Any) -> list[Code | Fragment]:
    decoder = EvdevDecoder(**options)
    out: list[Code | Fragment] = []
    for event in events:
        out += decoder.feed(event)
    return out + decoder.flush()


CODES = ["BK0001", "DEMO0001", "https://book.example/c?code=BK0001", "VXB1.k1.QUJD-_x.c2ln"]


def test_the_record_is_the_native_struct_input_event() -> None:
    assert k.EVENT.size == (24 if os.sysconf("SC_LONG_BIT") == 64 else 16)
    data = record([ev(12.000345, k.EV_KEY, 30, 1)])
    events, rest = parse_events(data + data[:5])
    assert events == [InputEvent(12, 345, k.EV_KEY, 30, 1)] and rest == data[:5]


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("per_key", [0.002, 0.02])
def test_recorded_scans_decode_whole_with_shift(code: str, per_key: float) -> None:
    assert decode(scan_events(code, 100.0, per_key)) == [Code(code)]


@pytest.mark.parametrize(
    ("layout", "keys", "text"),
    [
        ("de", [(k.KEY_LEFTSHIFT, 1), (21, 1), (21, 0), (k.KEY_LEFTSHIFT, 0), (44, 1)], "Zy"),
        ("de", [(k.KEY_RIGHTALT, 1), (16, 1), (16, 0), (k.KEY_RIGHTALT, 0), (12, 1)], "@ß"),
        ("us", [(k.KEY_CAPSLOCK, 1), (30, 1), (k.KEY_LEFTSHIFT, 1), (30, 1)], "Aa"),
        ("us", [(79, 1), (83, 1), (80, 1)], "1.2"),  # the keypad
    ],
)
def test_layouts(layout: str, keys: list[tuple[int, int]], text: str) -> None:
    events = [ev(1 + i * 0.002, k.EV_KEY, code, value) for i, (code, value) in enumerate(keys)]
    events += key_events(k.KEY_KPENTER, events[-1].time + 0.002)
    assert decode(events, layout=layout, min_length=1) == [Code(text)]


@pytest.mark.parametrize(
    ("name", "events", "expected"),
    [
        (
            "a scanner pause mid-code",
            [*scan_events("BK00", 1.0, enter=False), *scan_events("01", 1.3)],
            [Fragment("BK00", FragmentReason.NO_ENTER), Fragment("01", FragmentReason.START_LOST)],
        ),
        (
            "joined mid-code: a release never pressed",
            [ev(1.0, k.EV_KEY, 35, 0), *scan_events("K0001", 1.002)],
            [Fragment("K0001", FragmentReason.START_LOST)],
        ),
        (
            "the kernel dropped events",
            [*scan_events("BK", 1.0, enter=False), ev(1.01, 0, k.SYN_DROPPED, 0),
             *scan_events("0001", 1.012)],
            [Fragment("BK0001", FragmentReason.BROKEN)],
        ),
        (
            "Ctrl inside a code",
            [ev(1.0, k.EV_KEY, k.KEY_LEFTCTRL, 1), *scan_events("BK0001", 1.002)],
            [Fragment("BK0001", FragmentReason.BROKEN)],
        ),
        (
            "no Enter",
            scan_events("BK0001", 1.0, enter=False),
            [Fragment("BK0001", FragmentReason.NO_ENTER)],
        ),
        ("too short", scan_events("B1", 1.0), [Fragment("B1", FragmentReason.TOO_SHORT)]),
        (
            "after an idle second, a whole code again",
            [*scan_events("BK00", 1.0, enter=False), *scan_events("BK0002", 5.0)],
            [Fragment("BK00", FragmentReason.NO_ENTER), Code("BK0002")],
        ),
    ],
)  # fmt: skip
def test_fragments_table(
    name: str, events: list[InputEvent], expected: list[Code | Fragment]
) -> None:
    assert decode(events) == expected, name


def test_joined_right_after_open_is_start_lost() -> None:
    decoder = EvdevDecoder()
    decoder.reset(opened_at=99.999)
    out = [o for e in scan_events("K0001", 100.0) for o in decoder.feed(e)]
    assert out == [Fragment("K0001", FragmentReason.START_LOST)]


# --- hypothesis: arbitrary streams never crash and never yield a fragment as a code ---------

_event = st.builds(
    InputEvent,
    st.integers(0, 2**31),
    st.integers(0, 999_999),
    st.sampled_from([0, 1, 1, 1, 4, 17]),
    st.integers(0, 300),
    st.integers(-1, 3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_event, max_size=60), st.binary(max_size=200))
def test_arbitrary_events_never_crash(events: list[InputEvent], junk: bytes) -> None:
    decoder = EvdevDecoder()
    parsed, _ = parse_events(junk)
    for event in [*events, *parsed]:
        for outcome in decoder.feed(event):
            assert isinstance(outcome, Code | Fragment)
    decoder.flush()


_text = st.text(st.sampled_from(sorted(US_KEYS)), min_size=4, max_size=60)
_segment = st.one_of(
    st.tuples(st.just("scan"), _text),
    st.tuples(st.just("cut"), _text),
    st.tuples(st.just("joined"), _text),
    st.tuples(st.just("junk"), st.lists(_event, max_size=10).map(tuple)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_segment, max_size=8), st.floats(0.001, 0.03))
def test_whole_scans_come_out_exactly_and_nothing_else(
    segments: list[tuple[str, object]], per_key: float
) -> None:
    events: list[InputEvent] = []
    wanted: list[str] = []
    t = 10.0
    for kind, payload in segments:
        if kind == "junk":
            # Random key events, then the scanner idles long enough to be clean again.
            assert isinstance(payload, tuple)
            # No Enter in it (a code made of random keys and Enter would be a code), no Caps
            # Lock (it stays toggled, and the next scan rightly comes out in the other case),
            # and every key pressed is released in the end, as physical keys are.
            junk = [e for e in payload if e.code not in {*k.ENTER_KEYS, k.KEY_CAPSLOCK}]
            events += [ev(t + 0.001 * i, e.type, e.code, e.value) for i, e in enumerate(junk)]
            pressed = sorted({e.code for e in junk if e.type == k.EV_KEY})
            events += [ev(t + 0.05, k.EV_KEY, code, 0) for code in pressed]
            events += [ev(t + 0.05, 0, 0, 0)]
        else:
            assert isinstance(payload, str)
            if kind == "scan":
                events += scan_events(payload, t, per_key)
                wanted.append(payload)
            elif kind == "cut":
                half = len(payload) // 2
                events += scan_events(payload[:half], t, per_key, enter=False)
                events += scan_events(payload[half:], t + half * per_key + 0.3, per_key)
            else:  # the reader joined after the first key's press
                events += scan_events(payload, t, per_key)[3:]
        t = events[-1].time + 2.0
    got = [o.text for o in decode(events) if isinstance(o, Code)]
    assert got == wanted


# --- EvdevScanner through a real pipe -------------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest.fixture
async def scanner(pipe: tuple[int, int]) -> AsyncIterator[EvdevScanner]:
    device = open_device("scanner", f"hid:///dev/fd/{pipe[0]}?pause_ms=200")
    assert isinstance(device, EvdevScanner)
    await device.open()
    yield device
    await device.close()


async def test_scans_through_a_pipe(scanner: EvdevScanner, pipe: tuple[int, int]) -> None:
    assert not scanner.grabbed  # a pipe is no input device
    health = await scanner.health()
    assert (health.state, health.reason) == (DeviceState.WARNING, "not_grabbed")
    data = record([e for i, code in enumerate(CODES) for e in scan_events(code, 100.0 + i)])
    for i in range(0, len(data), 7):  # the bytes in odd pieces: records split across reads
        os.write(pipe[1], data[i : i + 7])
    got = []
    for _ in CODES:
        scan = await scanner.read(2)
        assert scan is not None
        got.append(scan.text)
    assert got == CODES
    assert await scanner.read(0.05) is None


async def test_fragments_are_rejected_counted_and_reported(
    scanner: EvdevScanner, pipe: tuple[int, int]
) -> None:
    cut = [*scan_events("BK00", 1.0, enter=False), *scan_events("01", 1.15)]
    os.write(
        pipe[1],
        record([*cut, *scan_events("DEMO0001", 5.0), *scan_events("BK00", 9.0, enter=False)]),
    )
    with pytest.raises(InvalidScan, match="partial scan"):
        await scanner.read(2)
    with pytest.raises(InvalidScan):
        await scanner.read(2)
    scan = await scanner.read(2)
    assert scan is not None and scan.text == "DEMO0001"
    with pytest.raises(InvalidScan):  # no Enter: flushed after the pause
        await scanner.read(2)
    health = await scanner.health()
    assert (health.state, health.reason) == (DeviceState.WARNING, "partial_scans")
    assert health.detail.startswith("3 partial scans rejected")


@pytest.mark.slow  # > 2 s (./dev test --fast leaves it out)
async def test_unplugged_then_reopened(scanner: EvdevScanner, pipe: tuple[int, int]) -> None:
    os.close(pipe[1])  # the writer gone: end of stream, as a device that went away
    with pytest.raises(DeviceUnavailable):
        await scanner.read(2)
    health = await scanner.health()
    assert (health.state, health.reason) == (DeviceState.OFFLINE, "unplugged")
    with pytest.raises(DeviceUnavailable):
        await scanner.read(0.01)


async def test_a_missing_device_names_the_keyboards_there_are(tmp_path: Path) -> None:
    device = EvdevScanner(f"hid://{tmp_path}/usb-gone-event-kbd")
    with pytest.raises(DeviceUnavailable, match="keyboards present"):
        await device.open()
    health = await device.health()
    assert (health.state, health.reason) == (DeviceState.OFFLINE, "not_found")
    assert "keyboards present" in health.detail


def test_url_routing_and_options() -> None:
    from vaxflow.hardware.hid_scanner import HidScanner

    assert isinstance(open_device("scanner", "hid://"), HidScanner)
    assert isinstance(open_device("scanner", "hid:///dev/input/event3"), EvdevScanner)
    with pytest.raises(ValueError, match="layout"):
        EvdevScanner("hid:///dev/input/event3?layout=xx")
    with pytest.raises(ValueError, match="unknown option"):
        EvdevScanner("hid:///dev/input/event3?speed=1")


def test_keyboard_listing(tmp_path: Path) -> None:
    assert keyboard_devices(tmp_path / "by-id") == []
    assert "no " in describe_keyboards([], tmp_path / "absent")
    (tmp_path / "by-id").mkdir()
    assert "plugged in" in describe_keyboards([], tmp_path)


# --- the exclusive grab, on a real input device -------------------------------------------


def _real_keyboard() -> str:
    if not Path("/dev/input").is_dir():
        pytest.skip("no /dev/input on this machine (a container): the grab cannot be tested")
    found = keyboard_devices()
    if not found:
        pytest.skip("no keyboard device in /dev/input/by-id to grab")
    if not os.access(found[0].path, os.R_OK):
        pytest.skip(f"{found[0].path} is not readable by this user")
    return found[0].path


async def test_the_grab_is_exclusive() -> None:
    path = _real_keyboard()
    first, second = EvdevScanner(f"hid://{path}"), EvdevScanner(f"hid://{path}")
    await first.open()
    try:
        assert first.grabbed
        await second.open()
        assert not second.grabbed  # EBUSY: the first holds it
        assert (await second.health()).reason == "not_grabbed"
        await second.close()
    finally:
        await first.close()
    await second.open()
    assert second.grabbed  # released on close
    await second.close()


async def test_unplugged_pipe_scanner_reads_again_after_reopen(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    device = EvdevScanner(f"hid:///dev/fd/{read_end}")
    await device.open()
    await device.close()
    await device.open()  # the kiosk's device loop: close, then open again
    os.write(write_end, record(scan_events("BK0009", 50.0)))
    scan = await device.read(2)
    assert scan is not None and scan.text == "BK0009"
    await device.close()
    os.close(read_end)
    os.close(write_end)
    await asyncio.sleep(0)
