"""One private Xvfb display for the tests that open real Kivy windows.

Each caller names its own block of display numbers, so that test modules running at once in
other xdist workers do not race for the same free number."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_display(numbers: range) -> int:
    """The first display number in `numbers` with neither a socket nor a lock file."""
    for number in numbers:
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise AssertionError(f"no free X display in {numbers}")


@contextmanager
def xvfb(screen: str, numbers: range, *, needs: tuple[str, ...] = ()) -> Iterator[str]:
    """Run Xvfb with one `screen` ("WxHxD") and yield its DISPLAY (":N"); skip the test when
    Xvfb (or one of the `needs` tools) is missing: ./dev installs them."""
    binary = shutil.which("Xvfb")
    missing = [tool for tool in needs if shutil.which(tool) is None]
    if binary is None or missing:
        pytest.skip(f"needs Xvfb {' '.join(missing)} (scripts/debian-packages.txt: xvfb)")
    number = free_display(numbers)
    process = subprocess.Popen(
        [binary, f":{number}", "-screen", "0", screen, "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            assert process.poll() is None, "Xvfb exited"
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(10)
