"""The screen session boots into its role: deploy/vaxflow-session, as the session unit runs
it (cage's place taken by Xvfb), starts the real board and kiosk against a real server, and
each puts its window on the screen with nothing given on its command line but the role."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.xvfb import xvfb

from .demo_site import demo_server, vaxflow

pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb("1280x1024x24", range(100, 150), needs=("xwininfo",)) as name:
        yield name


def _windows(display: str) -> int:
    done = subprocess.run(
        ["xwininfo", "-root", "-children"],
        capture_output=True,
        text=True,
        env={**os.environ, "DISPLAY": display},
        timeout=10,
    )
    match = re.search(r"(\d+) child", done.stdout)
    return int(match.group(1)) if match else 0


def test_the_board_and_the_kiosk_boot_into_their_screens(display: str, tmp_path: Path) -> None:
    site = tmp_path / "demo.toml"
    site.write_text(
        subprocess.run(
            [*vaxflow(), "config", "demo"], check=True, capture_output=True, text=True
        ).stdout
    )
    with demo_server(tmp_path, tmp_path / "site.sqlite") as url:
        for role, ready in (("board", "LIVE"), ("kiosk", None)):
            env = {
                **os.environ,
                "DISPLAY": display,
                "HOME": str(tmp_path),
                "KIVY_HOME": str(tmp_path / "kivy"),
                "VAXFLOW_BIN": vaxflow()[0] if len(vaxflow()) == 1 else "vaxflow",
                "VAXFLOW_CONFIG": str(site),
                "VAXFLOW_SERVER_URL": url,
                "VAXFLOW_BOARD": "calls",
                "VAXFLOW_BOARD_TOKEN": "demo-board-token",
                "VAXFLOW_KIOSK_TOKEN": "demo-kiosk-token",
                "VAXFLOW_DEVICE_ID": "kiosk-09",
            }
            log = tmp_path / f"{role}.log"
            with log.open("wb") as out:
                session = subprocess.Popen(
                    ["sh", str(DEPLOY / "vaxflow-session"), role],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=tmp_path,
                )
            try:
                deadline = time.monotonic() + 60
                while not (_windows(display) and (ready is None or ready in log.read_text())):
                    assert session.poll() is None, log.read_text()[-3000:]
                    assert time.monotonic() < deadline, log.read_text()[-3000:]
                    time.sleep(0.2)
                assert session.poll() is None, log.read_text()[-3000:]
            finally:
                session.send_signal(signal.SIGTERM)
                try:
                    session.wait(5)  # what systemd waits for is the unit's TimeoutStopSec
                except subprocess.TimeoutExpired:
                    session.kill()
                    session.wait(10)
            deadline = time.monotonic() + 10
            while _windows(display) and time.monotonic() < deadline:
                time.sleep(0.1)  # the next role starts on an empty screen
