"""Line breaking for the kiosk's words: CJK text broken by the rules readers expect.

Kivy breaks text without spaces wherever the line is full, so a Chinese line can begin with
"，" or "。". `wrap` breaks lines itself before Kivy has to: a closing mark never starts a
line (the character before it comes down with it), an opening mark never ends one, and
Latin words break at spaces. `fits(line)` says whether a line fits the width (the widget
measures it with its font); the function is pure and knows no Kivy.

Before breaking, `glue` joins what a reader takes as one thing with no-break spaces (U+00A0,
which Kivy draws as a space and never breaks at): a comparison with its number ("≥ 37.3"),
a number with its unit or counter ("37.3 °C", "14 天", "2 剂", "5 to 17"), an ordinal ("第 2").
`wrap` breaks neither at a no-break space nor between the characters it joins.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: Marks that may not start a line (closing brackets, stops, commas, the ellipsis).
NO_LINE_START = frozenset("，。、；：？！）」』】〕〉》”’…·,.;:?!)]}%‰℃°·～")
#: Marks that may not end a line (opening brackets and quotes).
NO_LINE_END = frozenset("（「『【〔〈《“‘([{")


NBSP = "\u00a0"
#: Signs that belong to the number after them.
_SIGNS = "≥≤<>±≈~～"
#: Units and counters that belong to the number before them (CJK counters and Latin units).
_UNITS = "天岁歲剂劑次位分小个個年月日号號步人周週°℃%‰"
#: (what comes before) space (what comes after): the space between them does not break.
_GLUES = (
    re.compile(rf"([{_SIGNS}]) (?=[\d.])"),  # ≥ 37.3
    re.compile(rf"(\d) (?=[{_UNITS}])"),  # 14 天, 37.3 °C
    re.compile(r"(\d) (?=(?:to|of|min|mins|minutes|days|years|digits|letters)\b)"),
    re.compile(r"\b(to|of|Step|dose) (?=\d)"),  # 5 to 17, Step 1 of 3, dose 2
    re.compile(r"([第到至]) (?=\d)"),  # 第 2, 5 到 17
    re.compile(r"(\d) (?=[到至])"),
)


def glue(text: str) -> str:
    """`text` with no-break spaces where a break would split one thing (see the module)."""
    for pattern in _GLUES:
        text = pattern.sub(lambda m: m.group(1) + NBSP, text)
    return text


def wrap(text: str, fits: Callable[[str], bool]) -> str:
    """`text` with line breaks so that every line fits and no line starts or ends badly."""
    text = glue(text)
    return "\n".join(line for part in text.split("\n") for line in _paragraph(part, fits))


def _paragraph(text: str, fits: Callable[[str], bool]) -> list[str]:
    lines: list[str] = []
    while text and not fits(text):
        cut = _longest_fit(text, fits)
        for _ in range(len(text)):  # each rule may move the break into the other's way
            moved = _kinsoku(text, _glued_break(text, _latin_break(text, cut)))
            if moved == cut:
                break
            cut = moved
        lines.append(text[:cut].rstrip(" "))
        text = text[cut:].lstrip(" ")
    if text or not lines:
        lines.append(text)
    return lines


def _longest_fit(text: str, fits: Callable[[str], bool]) -> int:
    """The longest prefix that fits, at least one character (widths grow with length)."""
    low, high = 1, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if fits(text[:mid]):
            low = mid
        else:
            high = mid - 1
    return low


def _latin_break(text: str, cut: int) -> int:
    """Inside a Latin word or a number: break at the last space before it, if there is one."""
    if cut < len(text) and _latin(text[cut - 1]) and _latin(text[cut]):
        space = text.rfind(" ", 0, cut)
        if space > 0:
            return space + 1
    return cut


def _glued_break(text: str, cut: int) -> int:
    """Not next to a no-break space: break before the whole glued run, if it fits one line."""
    best = cut
    while 1 < best < len(text) and NBSP in (text[best], text[best - 1]):
        best -= 1
    while 1 < best < len(text) and _latin(text[best - 1]) and _latin(text[best]):
        best -= 1  # back to the start of the word the glued run begins with
    if best <= 1:
        return cut
    return best


def _kinsoku(text: str, cut: int) -> int:
    """Move the break back so the next line does not start, nor this one end, badly (the
    spaces dropped at a break do not count: "A ·" then "B" is read as "A" then "· B")."""
    best = cut
    while 1 < best < len(text) and _bad_break(text, best):
        best -= 1
    if best <= 1:  # a line of marks only: nothing better exists, keep the full line
        return cut
    return best


def _bad_break(text: str, cut: int) -> bool:
    starts = text[cut:].lstrip(" ")[:1]
    ends = text[:cut].rstrip(" ")[-1:]
    return (bool(starts) and starts in NO_LINE_START) or (bool(ends) and ends in NO_LINE_END)


def _latin(char: str) -> bool:
    """Part of a word written with spaces around it: letters, numbers, 37.3°C, a URL."""
    return (char.isascii() and not char.isspace()) or char in "°℃‰"
