"""A keyboard-wedge scanner's keys in a window: tell a whole scan from typing and from fragments.

A wedge scanner "types" a code a few milliseconds a key and presses Enter. In a GUI window the
keys do not arrive at the times they were typed: the toolkit polls its event queue once a
frame (Kivy at 30 fps: 33-84 ms apart on a busy kiosk), so a scan arrives as a few batches of
keys with nearly equal times and frame-long gaps between them. A per-key gap test (the old
"every key within 50 ms of the last") cuts such a scan at a batch boundary. So a burst is
judged as a whole, when it ends:

- a burst is the keys up to Enter, or up to a pause of `pause` seconds (far longer than a
  frame), or up to a key that is not text (Backspace, arrows);
- it is a scan when it ends with Enter, holds at least `min_length` characters, and its mean
  time per key (first key to Enter, over the characters) is at most `max_mean_gap`: batching
  moves keys by a frame, which changes a whole burst's mean by one frame over its length,
  while a person at 150 ms a key keeps a mean of 150 ms however the frames fall;
- a fast burst that is not a whole scan is a *fragment* and is rejected, never sent: one cut
  off without Enter or broken by another key, and a fast burst that follows such a cut
  within `linger` seconds (its start is gone);
- everything else is a person typing, handed back in order.

Pure: times are seconds on any monotonic clock, passed in with each key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: Default longest mean time per key of a scan, in seconds. Wedge scanners send a key every
#: 1-20 ms; the fastest typists leave 60 ms or more between keys.
DEFAULT_MAX_MEAN_GAP = 0.05
#: Default pause that ends a burst, in seconds: longer than a few slow frames, shorter than
#: the time between two people.
DEFAULT_PAUSE = 0.3
#: Default time after a cut burst within which the next fast burst is its tail, in seconds.
DEFAULT_LINGER = 2.0
#: Default shortest scan, in characters; booking codes are longer than this.
DEFAULT_MIN_LENGTH = 4


class FragmentReason(StrEnum):
    """Why a fast burst was rejected as a piece of a scan."""

    NO_ENTER = "no_enter"  # the keys stopped before Enter: the end of the code is missing
    START_LOST = "start_lost"  # it follows a cut burst, or the reader joined mid-code
    TOO_SHORT = "too_short"  # fast and ended by Enter, but shorter than any code
    BROKEN = "broken"  # a key that is not text (Backspace, Tab, a dropped event) inside it


@dataclass(frozen=True)
class Code:
    """A whole scan."""

    text: str


@dataclass(frozen=True)
class Fragment:
    """Part of a scan, rejected: it must never be taken as a code."""

    text: str
    reason: FragmentReason


@dataclass(frozen=True)
class Typing:
    """Keys a person typed, in order (Enter included as "\\r" when it was typed)."""

    text: str


Outcome = Code | Fragment | Typing


@dataclass
class _Burst:
    chars: list[str] = field(default_factory=list)
    first: float = 0.0
    last: float = 0.0


class WindowBurstDecoder:
    """The state machine over text, Enter and other keys (see the module docstring)."""

    def __init__(
        self,
        *,
        max_mean_gap: float = DEFAULT_MAX_MEAN_GAP,
        pause: float = DEFAULT_PAUSE,
        linger: float = DEFAULT_LINGER,
        min_length: int = DEFAULT_MIN_LENGTH,
    ) -> None:
        if max_mean_gap <= 0 or pause <= 0 or linger < 0 or min_length < 1:
            raise ValueError("max_mean_gap and pause must be positive, min_length at least 1")
        self.max_mean_gap = max_mean_gap
        self.pause = pause
        self.linger = linger
        self.min_length = min_length
        self._burst = _Burst()
        self._cut_at: float | None = None  # when the last fast burst was cut off

    @property
    def holding(self) -> bool:
        """Keys are held back, waiting for the burst's end."""
        return bool(self._burst.chars)

    def text(self, text: str, now: float) -> list[Outcome]:
        """Characters from the window's text input (one key, or several from an IME)."""
        out = self.expire(now)
        burst = self._burst
        if not burst.chars:
            burst.first = now
        burst.chars.extend(text)
        burst.last = now
        return out

    def enter(self, now: float) -> list[Outcome]:
        """Enter (or keypad Enter): ends the burst."""
        out = self.expire(now)
        burst, self._burst = self._burst, _Burst()
        text = "".join(burst.chars)
        if not text:
            return [*out, Typing("\r")]
        fast = (now - burst.first) / len(text) <= self.max_mean_gap
        if not fast:
            return [*out, Typing(text + "\r")]
        if self._after_cut(burst.first):
            return [*out, Fragment(text, FragmentReason.START_LOST)]
        if len(text) < self.min_length:
            if len(text) == 1:  # one key and Enter: a person
                return [*out, Typing(text + "\r")]
            return [*out, Fragment(text, FragmentReason.TOO_SHORT)]
        return [*out, Code(text)]

    def other(self, now: float) -> list[Outcome]:
        """A key that is not text (Backspace, arrows, Tab): a burst it breaks is no scan."""
        out = self.expire(now)
        return [*out, *self._end(now, FragmentReason.BROKEN)]

    def expire(self, now: float) -> list[Outcome]:
        """End a burst with no key for `pause` seconds; call it from a timer, too."""
        if self._burst.chars and now - self._burst.last > self.pause:
            return self._end(self._burst.last, FragmentReason.NO_ENTER)
        return []

    def _end(self, at: float, reason: FragmentReason) -> list[Outcome]:
        burst, self._burst = self._burst, _Burst()
        text = "".join(burst.chars)
        if not text:
            return []
        fast = len(text) >= 2 and (burst.last - burst.first) / (len(text) - 1) <= self.max_mean_gap
        if not fast:
            return [Typing(text)]
        self._cut_at = at
        return [Fragment(text, reason)]

    def _after_cut(self, start: float) -> bool:
        cut, self._cut_at = self._cut_at, None
        return cut is not None and start - cut <= self.linger
