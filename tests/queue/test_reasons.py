"""Every reason code the code can raise has words in zh-CN, zh-TW and en, and a staff hint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vaxflow.config.languages import LANGUAGES
from vaxflow.queue.core import reasons

ROOT = Path(__file__).resolve().parents[2] / "vaxflow"
RAISED = re.compile(
    r"(?:Refused|Invalid|NotFound|QueueError|ServiceUnavailable|_Unauthorized|_Forbidden"
    r"|_Locked|OriginRefused|Reason)\(\s*\"([a-z_]+)\""
)
HTTP_REASONS = {"not_found", "method_not_allowed", "body_too_large", "store_unavailable"}


def _raised_codes() -> set[str]:
    codes = set(HTTP_REASONS)
    for path in ROOT.rglob("*.py"):
        codes.update(RAISED.findall(path.read_text(encoding="utf-8")))
    return codes


def test_the_scan_finds_the_codes() -> None:
    assert {"too_young", "qr_tampered", "station_busy", "walk_in_full"} <= _raised_codes()


@pytest.mark.parametrize("code", sorted(_raised_codes()))
def test_every_reason_has_three_languages_and_a_hint(code: str) -> None:
    for language in LANGUAGES:
        assert reasons.text("reason", code, language, {}), f"{code} has no {language} message"
        assert reasons.text("hint", code, language, {}), f"{code} has no {language} hint"


def test_chinese_catalogues_are_not_english() -> None:
    for code in ("too_young", "walk_in_full", "station_busy"):
        assert re.search(r"[\u4e00-\u9fff]", reasons.text("reason", code, "zh-CN", {}) or "")
        assert re.search(r"[\u4e00-\u9fff]", reasons.text("reason", code, "zh-TW", {}) or "")


def test_placeholders_are_filled_and_unknown_ones_stay_visible() -> None:
    described = reasons.describe("too_young", {"min_age": 18}, "fallback")
    assert described["messages"]["en"] == "You must be at least 18 years old to be vaccinated here."
    hint = reasons.describe("too_young", {"min_age": 18}, "x")["hints"]["en"]
    assert hint == "Age {age} is under the site minimum of 18."
