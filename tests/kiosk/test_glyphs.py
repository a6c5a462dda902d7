"""Every character the kiosk can show is in the font it shows it with; lines break by CJK rules.

The font is the one the kiosk registers (`cjk_font_path`); its cmap is read with fontTools.
The words are every string of the three catalogues, the language names, and every string of
the demo site file (questions, consent, lane and site names reach the screens from there).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import DEMO_CONFIG
from vaxflow.config import load_settings
from vaxflow.config.languages import LANGUAGE_NAMES
from vaxflow.hardware.fonts import cjk_font_path
from vaxflow.screens.kiosk import i18n
from vaxflow.screens.kiosk.wrap import NO_LINE_END, NO_LINE_START, wrap

LANGS = ("zh-CN", "zh-TW", "en")
KV_DIR = Path(i18n.__file__).parent


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def shown_strings() -> dict[str, str]:
    """Where each string comes from -> the string."""
    out = {f"{lang}:{key}": i18n.text(key, lang) for lang in LANGS for key in i18n.message_ids()}
    out.update({f"language:{code}": name for code, name in LANGUAGE_NAMES.items()})
    site = load_settings(DEMO_CONFIG).model_dump(mode="json")
    out.update({f"site:{n}": text for n, text in enumerate(strings_in(site))})
    for kv in sorted(KV_DIR.glob("*.kv")):  # words written into the .kv files themselves
        for n, line in enumerate(kv.read_text("utf-8").splitlines()):
            if "text:" in line and not line.strip().startswith("#"):
                out[f"{kv.name}:{n + 1}"] = line.split("text:", 1)[1]
    return out


@pytest.fixture(scope="module")
def cmap() -> set[int]:
    path = cjk_font_path()
    if path is None:
        pytest.skip("no CJK font installed (fonts-wqy-microhei)")
    font = TTFont(str(path), fontNumber=0)
    return set(font.getBestCmap())


def test_every_character_shown_is_in_the_kiosk_font(cmap: set[int]) -> None:
    missing = {
        f"{where}: {char!r} U+{ord(char):04X}"
        for where, text in shown_strings().items()
        for char in text
        if char not in "\n\t" and ord(char) not in cmap
    }
    assert not missing, sorted(missing)


def test_no_line_of_a_catalogue_string_starts_with_a_closing_mark() -> None:
    bad = [
        (where, line)
        for where, text in shown_strings().items()
        for line in text.split("\n")[1:]
        if line[:1] in NO_LINE_START
    ]
    assert not bad


# --- the line breaker -------------------------------------------------------------------------

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF)
TOKEN = st.tuples(
    st.text(HAN, min_size=1, max_size=4),
    st.sampled_from(["", *sorted(NO_LINE_START & set("，。、；：？！）」…"))]),
    st.sampled_from(["", "", "（", "「"]),
).map(lambda t: t[0] + t[1] + t[2])


def width(line: str) -> float:
    """A CJK font's widths: full-width marks and Han 1 em, ASCII half."""
    return sum(0.5 if c.isascii() else 1.0 for c in line)


@given(tokens=st.lists(TOKEN, min_size=1, max_size=40), room=st.integers(4, 30))
def test_wrapped_cjk_lines_fit_and_never_start_with_a_closing_mark(
    tokens: list[str], room: int
) -> None:
    text = "".join(tokens)
    lines = wrap(text, lambda line: width(line) <= room).split("\n")
    assert "".join(lines) == text  # nothing lost, nothing added
    assert all(width(line) <= room for line in lines)
    assert not [line for line in lines[1:] if line[0] in NO_LINE_START], lines
    assert not [line for line in lines[:-1] if line[-1] in NO_LINE_END], lines


@given(words=st.lists(st.from_regex(r"[A-Za-z]{1,9}", fullmatch=True), min_size=1, max_size=30))
def test_latin_text_breaks_at_spaces(words: list[str]) -> None:
    text = " ".join(words)
    lines = wrap(text, lambda line: len(line) <= 12).split("\n")
    assert " ".join(lines) == text
    assert all(len(line) <= 12 for line in lines)


def test_the_demo_consent_never_starts_a_line_with_a_comma() -> None:
    consent = load_settings(DEMO_CONFIG).consent
    assert consent is not None
    for lang in ("zh-CN", "zh-TW"):
        text = consent.text[lang]
        for room in range(6, 40):
            lines = wrap(text, lambda line, r=room: width(line) <= r).split("\n")  # type: ignore[misc]
            assert not [ln for ln in lines[1:] if ln[0] in NO_LINE_START], (room, lines)


@pytest.mark.parametrize("room", range(8, 17))
def test_a_number_with_its_unit_is_never_split(room: int) -> None:
    text = "您今天是否发热（体温 ≥ 37.3°C）？"
    lines = wrap(text, lambda line: width(line) <= room).split("\n")
    assert any("37.3°C" in line for line in lines), lines
    assert not [line for line in lines[:-1] if line.endswith("（")], lines
