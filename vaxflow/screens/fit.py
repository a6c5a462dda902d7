"""Whether a screen's words fit: every shown label's words against its box and the window.

Used by the kiosk tour (a line per label that does not fit, next to each screenshot) and by
the tests of the native consoles; Kivy must be running (fonts are measured, not guessed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Pixels of slack: rounding between Kivy's layout and the font's measure.
SLACK = 2.0


@dataclass(frozen=True)
class Overflow:
    """A label whose words need more room than it has, or that lies outside the window."""

    text: str
    need: tuple[float, float]  # (width, height) the words need
    box: tuple[float, float]  # (width, height) the label has
    outside: bool  # the label's box is (partly) outside the window

    def __str__(self) -> str:
        where = " outside the window" if self.outside else ""
        need, box = (f"{v[0]:.0f}x{v[1]:.0f}" for v in (self.need, self.box))
        return f"{self.text[:40]!r} needs {need} in {box}{where}"


def content_size(label: Any) -> tuple[float, float]:
    """The size a label's words need, unclipped; wrapped at its text width when it wraps."""
    from kivy.core.text import Label as CoreLabel
    from kivy.core.text.markup import MarkupLabel

    width = label.text_size[0]
    core = (MarkupLabel if label.markup else CoreLabel)(
        text=label.text,
        font_size=label.font_size,
        font_name=label.font_name,
        bold=label.bold,
        text_size=(width, None) if width else (None, None),
        padding=label.padding,
        halign=label.halign,
        line_height=label.line_height,
    )
    core.refresh()
    need_w, need_h = core.content_size
    return float(need_w), float(need_h)


def _shown(widget: Any) -> bool:
    """Drawn and visible: it and every parent opaque, with some size."""
    node = widget
    while node is not None and node is not node.parent:
        if getattr(node, "opacity", 1) <= 0:
            return False
        node = node.parent
    return bool(widget.width > 1 and widget.height > 1)


def _scrolls(widget: Any) -> bool:
    from kivy.uix.scrollview import ScrollView

    node = widget.parent
    while node is not None and node is not node.parent:
        if isinstance(node, ScrollView):
            return True
        node = node.parent
    return False


def overflowing(root: Any, window: tuple[float, float] | None = None) -> list[Overflow]:
    """Every shown label under `root` whose words do not fit its box (a label that shortens
    its words with "…" fits by design) or, given the window's size, whose box leaves it."""
    from kivy.uix.label import Label

    found = []
    for widget in root.walk():
        if not isinstance(widget, Label) or not widget.text.strip() or not _shown(widget):
            continue
        need = content_size(widget)
        box = (float(widget.width), float(widget.height))
        cut = not widget.shorten and (need[0] > box[0] + SLACK or need[1] > box[1] + SLACK)
        outside = False
        if window is not None and not _scrolls(widget):
            x, y = widget.to_window(widget.x, widget.y)
            right, top = x + box[0], y + box[1]
            outside = x < -SLACK or y < -SLACK
            outside = outside or right > window[0] + SLACK or top > window[1] + SLACK
        if cut or outside:
            found.append(Overflow(widget.text, need, box, outside))
    return found
