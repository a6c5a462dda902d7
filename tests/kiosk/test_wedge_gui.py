"""A keyboard-wedge scanner driven as the hardware drives it: real X key events under Xvfb.

`xdotool type` sends real key events (Shift around capitals, ':' and '?' shifted) through the
X server into a real Kivy window capped at 30 fps, as a USB wedge scanner's keys reach the
kiosk with `scanner = "hid://"`. The 200 timed scans go to a minimal Kivy app wired by the
kiosk's own `bind_window_scanner` (tests/kiosk/wedge_window.py); the real `vaxflow kiosk`
gets fewer, observed through its log and the health it reports to a real demo server.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.xvfb import xvfb

from .test_gui import Server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

ROOT = Path(__file__).resolve().parents[2]
SPEEDS_MS = (2, 5, 10, 20)


def codes(count: int, salt: str) -> list[str]:
    """Booking codes with capitals and digits, booking links, signed payloads."""
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            out.append(f"BK{salt}{i:04d}")
        elif kind == 1:
            out.append(f"https://book.example/c?code=BK{salt}{i:04d}")
        else:
            out.append(f"VXB1.k1.QUJD{salt}REVG-_{i}x.c2lnTkFUVVJF{i}")
    return out


@pytest.fixture(scope="module")
def xdisplay() -> Iterator[str]:
    with xvfb("720x1280x24", range(460, 560), needs=("xdotool",)) as name:
        yield name


def x_env(display: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DISPLAY": display,
        "KIVY_NO_ARGS": "1",
        "KIVY_NO_CONSOLELOG": "1",
        "KIVY_HOME": str(tmp_path / "kivy"),
    }


def xdotool(display: str, *args: str) -> str:
    done = subprocess.run(
        ["xdotool", *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout


def focus(display: str, title: str, within: float = 30.0) -> None:
    """Give the keyboard focus to the window called `title` (no window manager here)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for window in xdotool(display, "search", "--class", ".").split():
            if xdotool(display, "getwindowname", window).strip() == title:
                xdotool(display, "windowfocus", "--sync", window)
                return
        time.sleep(0.2)
    raise AssertionError(f"no window {title!r}")


def scan(display: str, code: str, ms_per_key: int) -> None:
    """A wedge scanner: the code and Enter, `ms_per_key` apart (xdotool types \\r as Return)."""
    xdotool(display, "type", "--delay", str(ms_per_key), code + "\r")


def test_every_scan_arrives_whole_and_once_at_2_to_20_ms_a_key(
    xdisplay: str, tmp_path: Path
) -> None:
    app = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "kiosk" / "wedge_window.py"), "hid://"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=x_env(xdisplay, tmp_path),
    )
    try:
        assert app.stdout is not None and app.stdin is not None
        assert app.stdout.readline().strip() == "READY"
        focus(xdisplay, "wedge-test")
        sent = []
        for ms in SPEEDS_MS:
            for code in codes(50, f"{ms:02d}"):
                scan(xdisplay, code, ms)
                sent.append(code)
        typist = "DEMO0001"
        for _ in range(2):
            xdotool(xdisplay, "type", "--delay", "150", typist + "\r")
        time.sleep(1.0)
        app.stdin.close()
        lines = app.stdout.read().splitlines()
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
        if app.stdout is not None:
            app.stdout.close()
    got = [json.loads(line[5:]) for line in lines if line.startswith("SCAN ")]
    bad = [line for line in lines if line.startswith("BAD ")]
    typed = "".join(json.loads(line[6:]) for line in lines if line.startswith("TYPED "))
    assert bad == []
    assert len(got) == len(sent) == 200
    assert got == sent  # whole, once each, in order
    assert typed == (typist + "\r") * 2  # the typist is never a scan
    health = json.loads(next(line for line in lines if line.startswith("HEALTH "))[7:])
    assert health[0] == "ok"


def site_file(tmp_path: Path, scanner: str) -> Path:
    text = (ROOT / "vaxflow" / "config" / "demo.toml").read_text(encoding="utf-8")
    devices = f'[devices]\nscanner = "{scanner}"\nidcard = "sim://"\n'
    devices += f'printer = "sim://?dir={tmp_path / "printer"}"\n\n'
    text = re.sub(r"\[devices\]\n(?:.+\n)*\n", devices, text)
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def digest(code: str) -> str:
    return f"{len(code)} characters, sha256 {hashlib.sha256(code.encode()).hexdigest()[:12]}"


def test_the_real_kiosk_reads_whole_scans_and_reports_fragments(
    xdisplay: str, tmp_path: Path
) -> None:
    server = Server(tmp_path / "demo.sqlite")
    server.start()
    log = tmp_path / "kiosk.log"
    command = [sys.executable, "-m", "vaxflow", "kiosk", "--server", server.url]
    command += ["--config", str(site_file(tmp_path, "hid://")), "--windowed"]
    command += ["--size", "720x1280"]
    with log.open("w") as err:
        kiosk = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=x_env(xdisplay, tmp_path),
        )
    try:
        focus(xdisplay, "vaxflow kiosk")
        time.sleep(2.0)  # the shell's device loops are running
        sent = []
        for ms in (5, 20):
            for code in codes(6, f"K{ms}"):
                scan(xdisplay, code, ms)
                sent.append(code)
                time.sleep(0.3)
        # A person typing a code at 150 ms a key: never a scan (no "scan read" line).
        xdotool(xdisplay, "type", "--delay", "150", "DEMO0001\r")
        time.sleep(0.5)
        # Three scans that stop half a second mid-code: six pieces, none taken as a code.
        for n in range(3):
            xdotool(xdisplay, "type", "--delay", "5", f"CUT{n}")
            time.sleep(0.6)
            scan(xdisplay, f"000{n}", 5)
            time.sleep(0.3)
        deadline = time.monotonic() + 30
        scanner: list[dict[str, str]] = []
        while time.monotonic() < deadline and not scanner:
            rows = server.get("/api/devices")
            rows = rows if isinstance(rows, list) else rows.get("devices", [])
            scanner = [r for r in rows if r["device_id"] == "kiosk-1-scanner"]
            time.sleep(0.5)
        text = log.read_text(encoding="utf-8")
    finally:
        kiosk.send_signal(signal.SIGTERM)
        try:
            kiosk.wait(20)
        except subprocess.TimeoutExpired:
            kiosk.kill()
            kiosk.wait(10)
        server.stop()
    read = re.findall(r"scan read, (\d+ characters, sha256 \w+)", text)
    assert read == [digest(code) for code in sent], text[-3000:]
    assert len(re.findall(r"partial scan rejected", text)) >= 6
    assert scanner, "the kiosk never reported the scanner's health"
    assert scanner[0]["reason"] == "partial_scans"
    assert "partial scans rejected" in scanner[0]["detail"]
