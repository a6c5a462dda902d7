"""Keyboard-wedge scanners: the burst detector as a table, and HidScanner fed like Kivy would."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.hid_scanner import BurstDetector, HidScanner, KeyResult
from vaxflow.hardware.interfaces import DeviceState
from vaxflow.hardware.urls import open_device


def burst(text: str, start: float = 0.0, gap: float = 0.005) -> list[tuple[str, float]]:
    """Keys as a wedge scanner sends them, Enter last."""
    keys = [*text, "enter"]
    return [(k, start + i * gap) for i, k in enumerate(keys)]


def typed(text: str, start: float = 0.0, gap: float = 0.15) -> list[tuple[str, float]]:
    return [(k, start + i * gap) for i, k in enumerate(text)]


def run(events: list[tuple[str, float]], **kw: float) -> tuple[list[bool], str, list[str]]:
    """Swallow flags, everything given back to the UI (released + not swallowed), codes."""
    detector = BurstDetector(**kw)  # type: ignore[arg-type]
    flags: list[bool] = []
    ui = ""
    codes: list[str] = []
    for key, t in events:
        result = detector.feed(key, t)
        flags.append(result.swallowed)
        ui += result.released
        if not result.swallowed:
            ui += "⏎" if key == "enter" else ("" if len(key) > 1 else key)
        if result.code is not None:
            codes.append(result.code)
    ui += detector.expire(float("inf"))
    return flags, ui, codes


@pytest.mark.parametrize(
    ("name", "events", "ui", "codes"),
    [
        ("scanner burst", burst("DEMO0001"), "", ["DEMO0001"]),
        ("two bursts", burst("AAAA") + burst("BBBBB", start=1.0), "", ["AAAA", "BBBBB"]),
        ("typing", typed("abc"), "abc", []),
        ("typing then Enter", [*typed("abcde"), ("enter", 0.75)], "abcde⏎", []),
        ("burst too short", burst("abc"), "abc⏎", []),
        ("Enter alone", [("enter", 0.0)], "⏎", []),
        (
            "slow Enter after a burst",
            [*burst("DEMO0001")[:-1], ("enter", 0.5)],
            "DEMO0001⏎",
            [],
        ),
        (
            "typing, then a scan",
            [*typed("ab"), *burst("XK42", start=1.0)],
            "ab",
            ["XK42"],
        ),
        (
            "shift inside a burst (capitals)",
            [
                ("shift", 0.0),
                ("A", 0.002),
                ("shift", 0.004),
                ("b", 0.006),
                ("C", 0.008),
                ("d", 0.010),
                ("enter", 0.012),
            ],
            "",
            ["AbCd"],
        ),
        (
            "backspace breaks a burst",
            [("a", 0.0), ("b", 0.01), ("backspace", 0.02), ("c", 0.03), ("enter", 0.04)],
            "abc⏎",
            [],
        ),
        (
            "burst with a slow middle key",
            [*typed("AB", gap=0.01), *burst("CDEF", start=0.3)],
            "AB",
            ["CDEF"],
        ),
        (
            "CR as Enter",
            [(k.replace("enter", "\r"), t) for k, t in burst("CODE9")],
            "",
            ["CODE9"],
        ),
    ],
)
def test_burst_table(name: str, events: list[tuple[str, float]], ui: str, codes: list[str]) -> None:
    _flags, got_ui, got_codes = run(events)
    assert (got_ui, got_codes) == (ui, codes), name


def test_swallow_flags() -> None:
    flags, _, _ = run(burst("ABCD"))
    assert flags == [True] * 5
    flags, _, _ = run(burst("ABC"))
    assert flags == [True, True, True, False]  # the keys come back with Enter's release


def test_expire_waits_for_the_gap() -> None:
    detector = BurstDetector(max_gap=0.05)
    assert detector.feed("a", 1.0) == KeyResult(swallowed=True)
    assert detector.expire(1.04) == ""
    assert detector.expire(1.06) == "a"
    assert not detector.holding


def test_thresholds_are_options() -> None:
    _, ui, codes = run(burst("ABCD", gap=0.08), max_gap=0.1, min_length=2)
    assert (ui, codes) == ("", ["ABCD"])
    with pytest.raises(ValueError):
        BurstDetector(max_gap=0)


@given(
    text=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=4, max_size=60),
    gap=st.floats(min_value=0.0, max_value=0.049),
)
def test_any_fast_burst_is_one_code(text: str, gap: float) -> None:
    _, ui, codes = run(burst(text, gap=gap))
    assert (ui, codes) == ("", [text])


@given(
    text=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30),
    gaps=st.lists(st.floats(min_value=0.051, max_value=2.0), min_size=30, max_size=30),
)
def test_typing_is_never_lost_nor_reordered(text: str, gaps: list[float]) -> None:
    t = 0.0
    events = []
    for key, gap in zip(text, gaps, strict=False):
        t += gap
        events.append((key, t))
    _, ui, codes = run([*events, ("enter", t + 1)])
    assert (ui, codes) == (text + "⏎", [])


# --- HidScanner, fed like the Kivy shell would --------------------------------------------


async def test_hid_scanner_reads_a_burst() -> None:
    given_back: list[str] = []
    scanner = open_device("scanner", "hid://?max_gap_ms=50&min_length=4")
    assert isinstance(scanner, HidScanner)
    scanner.on_release = given_back.append
    await scanner.open()
    assert (await scanner.health()).state is DeviceState.UNKNOWN
    swallowed = [scanner.feed_key(k, t) for k, t in burst("DEMO0042", start=10.0)]
    assert all(swallowed)
    scan = await scanner.read(1)
    assert scan is not None and (scan.text, scan.source) == (
        "DEMO0042",
        "hid://?max_gap_ms=50&min_length=4",
    )
    assert given_back == []
    assert (await scanner.health()).state is DeviceState.OK
    await scanner.close()


async def test_hid_scanner_gives_typing_back_after_the_gap() -> None:
    given_back: list[str] = []
    released = asyncio.Event()

    def on_release(text: str) -> None:
        given_back.append(text)
        released.set()

    scanner = HidScanner("hid://?max_gap_ms=20", on_release=on_release)
    await scanner.open()
    assert scanner.feed_key("7") is True  # held back: could be the start of a burst
    async with asyncio.timeout(2):
        await released.wait()  # the loop timer releases it ~30 ms later
    assert given_back == ["7"]
    assert await scanner.read(0.01) is None
    await scanner.close()


async def test_hid_scanner_control_keys_and_closed_use() -> None:
    scanner = HidScanner("hid://", clock=time.monotonic)
    assert scanner.feed_key("a") is False  # not open: the UI keeps every key
    with pytest.raises(DeviceUnavailable):
        await scanner.read(0.01)
    await scanner.open()
    # a control character never joins a burst: it breaks it and reaches the UI
    flags = [scanner.feed_key(key, t) for key, t in burst("AB\x7fCDEF")]
    assert flags == [True, True, False, True, True, True, True, True]
    scan = await scanner.read(1)
    assert scan is not None and scan.text == "CDEF"
    await scanner.close()
    assert (await scanner.health()).state is DeviceState.OFFLINE


def test_hid_bad_options() -> None:
    with pytest.raises(ValueError, match="unknown option"):
        HidScanner("hid://?gap=3")
    with pytest.raises(ValueError):
        HidScanner("hid://?min_length=four")
