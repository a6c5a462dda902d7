"""The native boards and the station console under Xvfb in zh-CN, zh-TW and en: each screen
opens in the language asked for (a label read back from the live widget tree), and no label's
words overflow its box (what the words need against the label's size) at the sizes they run at.

The screens are opened by `screen_probe.py` in a child process (one per language and size),
as the apps open them, with canned models; it prints each screen's labels as JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vaxflow.config.languages import LANGUAGES
from vaxflow.queue.client.words import words

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PROBE = Path(__file__).with_name("screen_probe.py")
ROOT = Path(__file__).parents[2]
#: (width, height) the probe runs at per language: the station tablet and a portrait tablet.
SIZES = {"zh-CN": (1280, 800), "zh-TW": (800, 1280), "en": (1280, 800)}


def probe(display: str, language: str) -> dict[str, list[dict[str, Any]]]:
    width, height = SIZES[language]
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "KIVY_NO_ARGS": "1"}
    env["KIVY_HOME"] = env.get("KIVY_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "kivy"))
    done = subprocess.run(
        [sys.executable, str(PROBE), language, str(width), str(height)],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    screens = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            shown = json.loads(line)
            screens[shown["screen"]] = shown["labels"]
    return screens


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_screen_opens_in_its_language_and_nothing_overflows(
    display: str, language: str
) -> None:
    screens = probe(display, language)
    assert set(screens) == {"calls", "observation", "station", "signin"}
    texts = {name: [label["text"] for label in labels] for name, labels in screens.items()}
    expected = {
        "calls": words("calls.title", language),
        "observation": words("obs.title", language),
        "station": words("station.record", language),
        "signin": words("signin.submit", language),
    }
    for name, wanted in expected.items():
        assert wanted in texts[name], f"{name}: {wanted!r} not among {texts[name]}"
    # the site's names in the language: the demo site names station 10 in all three
    station_10 = {"zh-CN": "10 号接种台", "zh-TW": "10 號接種台", "en": "Station 10"}[language]
    assert any(station_10 in text for text in texts["station"]), texts["station"]
    shown = [text for labels in texts.values() for text in labels if "张" not in text]  # a name
    if language == "en":  # no Chinese on an English screen (the person's name aside)
        assert not [t for t in shown if re.search(r"[\u4e00-\u9fff]", t)], shown
    if language == "zh-TW":  # Traditional characters: 號 觀 離 開, never 号 观 离 开
        assert not [t for t in shown if set("号观离开录剂证验") & set(t)], shown
    overflowing = [
        (name, label["text"][:40], label["need"], label["size"])
        for name, labels in screens.items()
        for label in labels
        if not label["fits"]
    ]
    assert not overflowing, overflowing
