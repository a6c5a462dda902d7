"""A server machine installs the base, not the kiosk's extras: `vaxflow server` runs without
Kivy, OpenCV, the QR decoders, serial or ESC/POS; a command that needs one names its extra."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.packaging.extras import blocked_vaxflow, optional_modules, run_blocked
from vaxflow.cli import EXTRAS

BLOCKED = optional_modules()


def test_the_extras_hold_the_kiosks_heavy_dependencies() -> None:
    """Not vacuous: what the server must do without is what the extras hold, and the command
    knows each one's extra."""
    assert {"kivy", "cv2", "zxingcpp", "pyzbar", "serial", "escpos", "psycopg"} <= BLOCKED
    assert set(EXTRAS) >= BLOCKED, BLOCKED - set(EXTRAS)


@pytest.mark.slow
def test_the_server_runs_without_the_extras(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    shown = run_blocked(BLOCKED, "config", "demo")
    assert shown.returncode == 0, shown.stderr
    config.write_text(shown.stdout, encoding="utf-8")
    out, err = tmp_path / "server.out", tmp_path / "server.err"
    args = ["server", "--config", str(config), "--port", "0", "--db", str(tmp_path / "s.sqlite")]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            blocked_vaxflow(sys.executable, BLOCKED, *args), stdout=stdout, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"listening on (\S+)", out.read_text())):
            assert proc.poll() is None, err.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        with urllib.request.urlopen(f"{match.group(1)}/api/health", timeout=10) as answer:
            assert answer.status == 200
            assert json.load(answer)["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(15)
    assert code == 0


@pytest.mark.slow
def test_a_command_that_needs_an_extra_says_which() -> None:
    done = run_blocked(BLOCKED, "decode", "ticket.png")
    assert done.returncode == 2
    assert "vaxflow decode needs the kiosk extra" in done.stderr
    assert "pip install 'vaxflow[kiosk]'" in done.stderr
    assert "Traceback" not in done.stderr
    # The other commands are there, and say which extra they need in the list.
    listed = run_blocked(BLOCKED, "--help")
    assert listed.returncode == 0
    assert re.search(r"decode\s+\(needs vaxflow\[kiosk\]\)", listed.stdout), listed.stdout


@pytest.mark.slow
def test_a_certificate_text_verifies_without_the_extras_and_a_photo_names_the_extra(
    tmp_path: Path,
) -> None:
    """Issue 15: a server machine checks a certificate QR's text; reading a photo of one needs
    the kiosk's decoders, and says so."""
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"k-1": {"site": "s", "public_key": "AAAA"}}))
    text = run_blocked(BLOCKED, "certificate", "verify", "VXC1.k-1.abc.def", "--keys", str(keys))
    assert text.returncode == 2 and text.stdout.startswith("NOT VALID: "), text.stderr
    photo = run_blocked(BLOCKED, "certificate", "verify", "photo.jpg", "--keys", str(keys))
    assert photo.returncode == 1 and "Traceback" not in photo.stderr
    assert "reading an image needs the kiosk extra" in photo.stderr
