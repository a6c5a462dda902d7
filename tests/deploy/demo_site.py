"""A running `vaxflow demo` (a real server with simulated people writing to it) for the deploy
tests."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def vaxflow() -> list[str]:
    """The `vaxflow` command of the environment running the tests."""
    script = Path(sys.executable).with_name("vaxflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vaxflow"]


@contextmanager
def demo_server(folder: Path, db: Path) -> Iterator[str]:
    """`vaxflow demo --headless` at 60 times real time on `db`; yields its URL."""
    out, err = folder / "demo.out", folder / "demo.err"
    command = [*vaxflow(), "demo", "--headless", "--port", "0", "--speed", "60", "--db", str(db)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=folder)
    try:
        deadline = time.monotonic() + 60
        while not (match := re.search(r"server\s+(http://\S+?)/?$", out.read_text(), re.M)):
            assert proc.poll() is None, err.read_text()[-3000:]
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.1)
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
