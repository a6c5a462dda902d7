"""`vaxflow board calls`: the native call board under Xvfb against a real `vaxflow server`.

A call made through the API must be on the board within a second; a recall is shown as a
repeated call; with a player the chime and the server's spoken call are played. The board
says what it shows on stdout (`LIVE`, `SHOWN ticket station count`, `announced ticket`).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.site_server import Server, running_server
from tests.web.test_pages import _open, _walk_in
from tests.xvfb import xvfb

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

#: Where the last screenshot is kept for people to look at (also in the test's tmp folder).
SHOT_COPY = os.environ.get("VAXFLOW_SHOT_DIR")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("calls")) as running:
        yield running


@pytest.fixture
def display() -> Iterator[str]:
    with xvfb("1280x720x24", range(260, 360)) as name:
        yield name


class Lines:
    """The board's stdout, read on a thread so the test can wait with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            for line in stdout:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def until(self, wanted: str, seconds: float) -> float:
        """Wait for a line starting with `wanted`; the monotonic time it was read."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {wanted!r} in {seconds} s; saw {self.seen}") from None
            if line is None:
                raise AssertionError(f"board ended before {wanted!r}; saw {self.seen}")
            self.seen.append(line)
            if line.startswith(wanted):
                return time.monotonic()


def test_kivy_call_board_shows_a_call_within_a_second(
    server: Server, display: str, tmp_path: Path
) -> None:
    from PIL import Image

    _open(server, "S02")
    played = tmp_path / "played"
    played.mkdir()
    player = tmp_path / "player.sh"  # stands in for aplay: keeps what it was given to play
    player.write_text(f'#!/bin/sh\ncp "$1" "{played}/$(date +%s%N).wav"\n')
    player.chmod(0o755)
    shot = tmp_path / "calls.png"
    env = {**os.environ, "DISPLAY": display, "KIVY_HOME": str(tmp_path / "kivy")}
    process = subprocess.Popen(
        [
            *[sys.executable, "-m", "vaxflow", "board", "calls"],
            *["--server", server.url, "--token", "demo-board-token"],
            *["--windowed", "--size", "1280x720", "--player", str(player)],
            *["--screenshot", str(shot), "--after", "150"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        lines = Lines(process)
        lines.until("LIVE", 60)
        time.sleep(1.0)  # the window is drawn and idle
        ticket = _walk_in(server)["ticket"]
        sent = time.monotonic()
        called = server.call("station", "POST", "/api/stations/S02/call-next", {})["called"]
        assert called["ticket"] == ticket
        shown = lines.until(f"SHOWN {ticket} S02 1", 5)
        assert shown - sent < 1.0, f"shown {shown - sent:.2f} s after the call"
        server.call("station", "POST", "/api/stations/S02/recall", {})
        lines.until(f"SHOWN {ticket} S02 2", 5)
        if shutil.which("espeak-ng"):  # the server speaks: chime, then the spoken call
            lines.until(f"announced {ticket}", 30)
            sizes = sorted(p.stat().st_size for p in played.iterdir())
            assert len(sizes) >= 2 and sizes[-1] > sizes[0]  # speech is longer than the chime
        process.send_signal(signal.SIGUSR1)
        lines.until("screenshot", 30)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        assert process.stdout is not None
        process.stdout.close()
    with Image.open(shot) as image:
        assert image.size == (1280, 720)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text and call rows were drawn, not an empty window
    if SHOT_COPY:
        shutil.copy(shot, Path(SHOT_COPY) / "kivy-calls.png")
    server.call("station", "POST", "/api/stations/S02/skip", {})
