"""The kiosk tour in elderly mode (large text): every screen photographed at 1080x1920 portrait
and 1920x1080 landscape, and no label's words overflow its box or leave the window (the tour
prints an `OVERFLOW` line for each, measured in the running app: `vaxflow.screens.fit`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("language", "size"),
    [("en", "1080x1920"), ("zh-TW", "1920x1080")],  # English runs longest; zh-TW on its side
)
def test_every_kiosk_screen_fits_in_elderly_mode(
    display: str, tmp_path: Path, language: str, size: str
) -> None:
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "KIVY_NO_ARGS": "1"}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "vaxflow", "kiosk", "--tour", str(tmp_path)),
            *("--lang", language, "--elderly", "--size", size),
        ],
        capture_output=True,
        text=True,
        timeout=170,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    shots = sorted((tmp_path / f"{language}-elderly").glob("*.png"))
    assert len(shots) >= 25, [p.name for p in shots]  # every screen, elderly mode
    overflowing = [line for line in done.stdout.splitlines() if line.startswith("OVERFLOW")]
    assert not overflowing, "\n".join(overflowing)
