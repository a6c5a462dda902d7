"""The serial scanner against a real pseudo-terminal, and the payload handling it relies on.

The driver opens a symlink with pyserial's real POSIX driver; the test writes bytes to the
pty master the way a USB scanner in virtual-COM mode would, "unplugs" it by closing the
master, and "plugs in" a new pty by re-pointing the symlink (as a udev by-id link would).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.hardware.errors import DeviceProtocolError, DeviceUnavailable
from vaxflow.hardware.interfaces import DeviceState
from vaxflow.hardware.scan_text import (
    MAX_SCAN_CHARS,
    TERMINATORS,
    InvalidScan,
    LineFramer,
    Overflow,
    normalize_scan,
    terminator_bytes,
)
from vaxflow.hardware.serial_scanner import SerialScanner
from vaxflow.hardware.urls import open_device

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pseudo-terminals")


class PtyScanner:
    """A pseudo-terminal standing in for a USB scanner; `link` is the path the driver opens."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.plug()

    def plug(self) -> None:
        """A new pty behind the same path (the old one must be unplugged first)."""
        master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)  # the pts node lives as long as the master is open
        tmp = self.link.with_suffix(".new")
        tmp.symlink_to(name)
        tmp.replace(self.link)
        self.master = master

    def write(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def unplug(self) -> None:
        if self.master is not None:
            os.close(self.master)
            self.master = None


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PtyScanner]:
    port = PtyScanner(tmp_path / "ttyScanner")
    yield port
    port.unplug()


async def wait_state(scanner: SerialScanner, state: DeviceState, within: float = 5.0) -> None:
    """Wait (on the real reader thread) until health() reports `state`."""
    async with asyncio.timeout(within):
        while (await scanner.health()).state is not state:  # noqa: ASYNC110 (another thread)
            await asyncio.sleep(0.01)


@pytest.fixture
async def scanner(pty: PtyScanner, request: pytest.FixtureRequest) -> AsyncIterator[SerialScanner]:
    terminator = getattr(request, "param", "cr")
    url = f"serial://{pty.link}?baudrate=9600&terminator={terminator}&reconnect_interval=0.05"
    device = open_device("scanner", url)
    assert isinstance(device, SerialScanner)
    await device.open()
    await wait_state(device, DeviceState.OK)
    yield device
    await device.close()


async def read_text(scanner: SerialScanner, within: float = 2.0) -> str:
    scan = await scanner.read(within)
    assert scan is not None, "no scan within the timeout"
    return scan.text


@pytest.mark.parametrize("scanner", ["cr", "lf", "crlf"], indirect=True)
async def test_each_terminator_and_partial_writes(scanner: SerialScanner, pty: PtyScanner) -> None:
    term = scanner.terminator
    pty.write(b"DEMO0001" + term)
    assert await read_text(scanner) == "DEMO0001"
    # a code split across USB packets, the terminator itself split for CRLF
    pty.write(b"BK-20")
    await asyncio.sleep(0.02)
    pty.write(b"26-11" + term[:1])
    await asyncio.sleep(0.02)
    pty.write(term[1:] + "预约码".encode() + term + b"A" + term)
    assert await read_text(scanner) == "BK-2026-11"
    assert await read_text(scanner) == "预约码"
    assert await read_text(scanner) == "A"
    assert await scanner.read(0.05) is None


async def test_crlf_scanner_configured_as_cr(scanner: SerialScanner, pty: PtyScanner) -> None:
    pty.write(b"ONE\r\nTWO\r\n")
    assert [await read_text(scanner), await read_text(scanner)] == ["ONE", "TWO"]


async def test_garbage_is_reported_then_reading_goes_on(
    scanner: SerialScanner, pty: PtyScanner
) -> None:
    pty.write(b"\xff\xfe\x80\r")
    with pytest.raises(InvalidScan) as err:
        await scanner.read(2)
    assert err.value.reason == "not_utf8"
    pty.write(b"AB\x1bCD\r")
    with pytest.raises(InvalidScan) as err:
        await scanner.read(2)
    assert err.value.reason == "control_character"
    pty.write(b"\r\rGOOD\r")  # bare terminators are skipped silently
    assert await read_text(scanner) == "GOOD"


async def test_runaway_line_is_a_protocol_error(scanner: SerialScanner, pty: PtyScanner) -> None:
    pty.write(b"X" * (4 * MAX_SCAN_CHARS + 100))
    pty.write(b"\rAFTER\r")
    with pytest.raises(DeviceProtocolError, match="without a terminator"):
        await scanner.read(2)
    assert await read_text(scanner) == "AFTER"


async def test_unplug_reports_offline_then_reconnects(
    scanner: SerialScanner, pty: PtyScanner
) -> None:
    pty.write(b"BEFORE\r")
    assert await read_text(scanner) == "BEFORE"
    pty.write(b"HALF-A-CO")  # cut off by the unplug: must not leak into the next scan
    await asyncio.sleep(0.05)
    pty.unplug()
    with pytest.raises(DeviceUnavailable):
        await scanner.read(2)
    health = await scanner.health()
    assert health.state is DeviceState.OFFLINE and health.reason in ("unplugged", "not_found")
    with pytest.raises(DeviceUnavailable):  # still offline at the end of the wait
        await scanner.read(0.1)

    pty.plug()
    await wait_state(scanner, DeviceState.OK)
    pty.write(b"AFTER\r")
    assert await read_text(scanner) == "AFTER"


async def test_missing_port_does_not_fail_open(tmp_path: Path) -> None:
    link = tmp_path / "ttyLater"
    scanner = SerialScanner(f"serial://{link}", reconnect_interval=0.05)
    await scanner.open()
    health = await scanner.health()
    assert (health.state, health.reason) == (DeviceState.OFFLINE, "not_found")
    assert "serial ports present:" in health.detail
    with pytest.raises(DeviceUnavailable):
        await scanner.read(0.1)
    port = PtyScanner(link)  # plugged in later
    try:
        await wait_state(scanner, DeviceState.OK)
        port.write(b"LATE\r")
        assert await read_text(scanner) == "LATE"
    finally:
        await scanner.close()
        port.unplug()


async def test_read_before_open() -> None:
    with pytest.raises(DeviceUnavailable):
        await SerialScanner("serial:///dev/ttyNOPE").read(0.1)


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("serial:///dev/ttyACM0?terminator=tab", {}, "unknown terminator"),
        ("serial:///dev/ttyACM0?baudrate=fast", {}, "invalid literal"),
        ("serial:///dev/ttyACM0?parity=E", {}, "unknown option 'parity'"),
        ("serial://", {}, "no serial port path"),
    ],
)
def test_bad_urls(url: str, options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SerialScanner(url, **options)


def test_url_options() -> None:
    scanner = SerialScanner("serial:///dev/ttyACM0?baudrate=115200&terminator=CRLF")
    assert (scanner.port, scanner.baudrate, scanner.terminator) == ("/dev/ttyACM0", 115200, b"\r\n")
    assert SerialScanner("serial://COM3", terminator="lf").port == "COM3"


# --- payload normalisation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"DEMO0001\r", "DEMO0001"),
        (b"DEMO0001\r\n", "DEMO0001"),
        (b"\nDEMO0001\r", "DEMO0001"),  # the LF a CRLF scanner left when framed on CR
        (b"\xef\xbb\xbfBK1\n", "BK1"),  # a BOM
        (b"BK1\x00\x00", "BK1"),  # NUL padding
        ("张三 预约 12", "张三 预约 12"),
        (b" spaced code ", " spaced code "),  # spaces are content
    ],
)
def test_normalize_table(raw: bytes | str, text: str) -> None:
    assert normalize_scan(raw) == text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\r\n", "empty"),
        (b"\xc3\x28", "not_utf8"),
        (b"\xed\xa0\x80", "not_utf8"),  # an encoded surrogate
        (b"A\tB", "control_character"),
        (b"A\r\nB", "control_character"),
        (b"01\x1d17", "control_character"),  # GS1 separator: not a booking code
        ("A\x85B", "control_character"),  # C1 NEL
        ("A\ud800", "control_character"),  # a lone surrogate from a str source
        (b"9" * (MAX_SCAN_CHARS + 1), "too_long"),
    ],
)
def test_normalize_refuses(raw: bytes | str, reason: str) -> None:
    with pytest.raises(InvalidScan) as err:
        normalize_scan(raw)
    assert err.value.reason == reason


_clean_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=200
).filter(lambda t: t.strip("\r\n\x00") == t and not t.startswith("\ufeff"))


@given(text=_clean_text, term=st.sampled_from(sorted(TERMINATORS)))
def test_normalize_round_trips_clean_text(text: str, term: str) -> None:
    assert normalize_scan(text.encode() + terminator_bytes(term)) == text


@given(raw=st.binary(max_size=300))
def test_normalize_never_returns_controls(raw: bytes) -> None:
    """Any bytes give clean text or InvalidScan, never another exception."""
    try:
        text = normalize_scan(raw)
    except InvalidScan as err:
        assert err.reason in ("empty", "not_utf8", "control_character", "too_long")
    else:
        assert text and all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in text)


# --- line framing ------------------------------------------------------------------------


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _without(line: bytes, sep: bytes) -> bytes:
    while sep in line:
        line = line.replace(sep, b"")
    return line


@given(
    term=st.sampled_from(sorted(TERMINATORS)),
    lines=st.lists(st.binary(max_size=40), max_size=10),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_framing_is_independent_of_chunking(term: str, lines: list[bytes], cuts: list[int]) -> None:
    sep = terminator_bytes(term)
    lines = [_without(line, sep) for line in lines]
    framer = LineFramer(sep)
    out: list[bytes | Overflow] = []
    for chunk in _chunks(b"".join(line + sep for line in lines), cuts):
        out += framer.feed(chunk)
    assert out == lines
    assert framer.pending == 0


@given(
    tail=st.binary(min_size=1, max_size=30).filter(lambda b: b"\r" not in b),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_framing_keeps_a_partial_line(tail: bytes, cuts: list[int]) -> None:
    framer = LineFramer(b"\r")
    out: list[bytes | Overflow] = []
    for chunk in _chunks(b"A\r" + tail, cuts):
        out += framer.feed(chunk)
    assert out == [b"A"] and framer.pending == len(tail)
    framer.reset()
    assert framer.feed(b"B\r") == [b"B"]


@given(size=st.integers(min_value=11, max_value=200), cuts=st.lists(st.integers(0), max_size=8))
def test_framing_drops_runaway_lines(size: int, cuts: list[int]) -> None:
    framer = LineFramer(b"\r\n", max_line=10)
    out: list[bytes | Overflow] = []
    for chunk in _chunks(b"X" * size + b"\r\nOK\r\n", cuts):
        out += framer.feed(chunk)
    assert out == [Overflow(size), b"OK"]


def test_framing_table() -> None:
    framer = LineFramer(b"\r\n")
    assert framer.feed(b"A\rB\r") == []
    assert framer.feed(b"\n") == [b"A\rB"]
    assert framer.feed(b"\r\n\r\n") == [b"", b""]
    with pytest.raises(ValueError):
        LineFramer(b"")
