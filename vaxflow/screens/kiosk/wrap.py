"""Line breaking for the kiosk's words: CJK text broken by the rules readers expect.

Kivy breaks text without spaces wherever the line is full, so a Chinese line can begin with
"，" or "。". `wrap` breaks lines itself before Kivy has to: a closing mark never starts a
line (the character before it comes down with it), an opening mark never ends one, and
Latin words break at spaces. `fits(line)` says whether a line fits the width (the widget
measures it with its font); the function is pure and knows no Kivy.
"""

from __future__ import annotations

from collections.abc import Callable

#: Marks that may not start a line (closing brackets, stops, commas, the ellipsis).
NO_LINE_START = frozenset("，。、；：？！）」』】〕〉》”’…·,.;:?!)]}%‰℃°·～")
#: Marks that may not end a line (opening brackets and quotes).
NO_LINE_END = frozenset("（「『【〔〈《“‘([{")


def wrap(text: str, fits: Callable[[str], bool]) -> str:
    """`text` with line breaks so that every line fits and no line starts or ends badly."""
    return "\n".join(line for part in text.split("\n") for line in _paragraph(part, fits))


def _paragraph(text: str, fits: Callable[[str], bool]) -> list[str]:
    lines: list[str] = []
    while text and not fits(text):
        cut = _longest_fit(text, fits)
        for _ in range(len(text)):  # each rule may move the break into the other's way
            moved = _kinsoku(text, _latin_break(text, cut))
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


def _kinsoku(text: str, cut: int) -> int:
    """Move the break back so the next line does not start, nor this one end, badly."""
    best = cut
    while 1 < best < len(text) and (text[best] in NO_LINE_START or text[best - 1] in NO_LINE_END):
        best -= 1
    if best <= 1:  # a line of marks only: nothing better exists, keep the full line
        return cut
    return best


def _latin(char: str) -> bool:
    """Part of a word written with spaces around it: letters, numbers, 37.3°C, a URL."""
    return (char.isascii() and not char.isspace()) or char in "°℃‰"
