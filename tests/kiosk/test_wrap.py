"""Every kiosk string, broken at many widths: brackets and numbers stay with their words.

No line ends with an opening bracket or starts with a closing mark; a comparison stays with its
number and a number with its unit ("≥ 37.3°C", "14 天", "5 to 17") whenever the glued run fits
on one line; nothing is lost. Widths as a CJK font draws them (Han 1 em, ASCII half).
"""

from __future__ import annotations

import re

import pytest

from tests.kiosk.test_glyphs import shown_strings
from vaxflow.screens.kiosk.wrap import NBSP, NO_LINE_END, NO_LINE_START, glue, wrap

ROOMS = range(8, 41, 2)
#: A word (ASCII run) or one CJK character, joined to the next by no-break spaces.
TOKEN = r"(?:[!-~°℃%‰]+|[^\x00-\x7f\s\u00a0])"
GLUED = re.compile(rf"{TOKEN}(?:{NBSP}{TOKEN})+")


def width(line: str) -> float:
    return sum(0.5 if c.isascii() or c == NBSP else 1.0 for c in line)


def kiosk_strings() -> list[tuple[str, str]]:
    """The catalogues' and the site file's words (not the .kv files' expressions)."""
    found = shown_strings().items()
    return sorted((where, text) for where, text in found if text.strip() and ".kv:" not in where)


@pytest.mark.parametrize("room", ROOMS)
def test_every_kiosk_string_breaks_by_the_rules(room: int) -> None:
    bad: list[tuple[str, list[str]]] = []
    for where, text in kiosk_strings():
        for paragraph in text.split("\n"):
            lines = wrap(paragraph, lambda line: width(line) <= room).split("\n")
            assert "".join(lines).replace(NBSP, " ").replace(" ", "") == paragraph.replace(
                " ", ""
            ), where
            ends = [ln for ln in lines[:-1] if ln and ln[-1] in NO_LINE_END]
            starts = [ln for ln in lines[1:] if ln and ln[0] in NO_LINE_START]
            loose = [ln for ln in lines if ln.startswith(NBSP) or ln.endswith(NBSP)]
            split = [
                run
                for run in GLUED.findall(glue(paragraph))
                if width(run) <= room and not any(run in line for line in lines)
            ]
            if ends or starts or loose or split:
                bad.append((where, lines))
    assert not bad, bad[:5]


@pytest.mark.parametrize(
    ("text", "together"),
    [
        ("您今天是否发热（体温 ≥ 37.3°C）？", "≥\u00a037.3°C"),
        ("您今天是否發燒（體溫 ≥ 37.3°C）？", "≥\u00a037.3°C"),
        ("Do you have a fever today (temperature ≥ 37.3 °C)?", "≥\u00a037.3\u00a0°C"),
        ("您最近 14 天内是否接种过其他疫苗？", "14\u00a0天"),
        ("护照号码：5 到 17 位字母或数字", "5\u00a0到\u00a017\u00a0位"),
        ("Passport number: 5 to 17 letters or digits", "5\u00a0to\u00a017\u00a0letters"),
        ("Step 1 of 3", "Step\u00a01\u00a0of\u00a03"),
    ],
)
def test_glued_runs(text: str, together: str) -> None:
    assert together in glue(text)
    for room in range(int(width(together)) + 3, 30):  # with the closing marks after it
        lines = wrap(text, lambda line, r=room: width(line) <= r).split("\n")  # type: ignore[misc]
        assert any(together in line for line in lines), (room, lines)
        assert not [ln for ln in lines[:-1] if ln.endswith("（")], (room, lines)
