"""Suppress repeated reads of one code: a camera sees the same QR in every frame."""

from __future__ import annotations


class Deduper:
    """Accept a text once, then ignore it until it has been out of sight for `window` seconds.

    Time is passed in (monotonic seconds) so tests need no clock; every sighting, accepted or
    not, restarts the window, so a phone held still in front of the camera fires once.
    """

    def __init__(self, window: float) -> None:
        if window < 0:
            raise ValueError("window must not be negative")
        self.window = window
        self._last_seen: dict[str, float] = {}

    def accept(self, text: str, now: float) -> bool:
        """True when `text` is new or was last seen more than `window` seconds ago."""
        last = self._last_seen.get(text)
        self._last_seen[text] = now
        if len(self._last_seen) > 64:
            self._prune(now)
        return last is None or now - last > self.window

    def _prune(self, now: float) -> None:
        self._last_seen = {t: s for t, s in self._last_seen.items() if now - s <= self.window}

    def clear(self) -> None:
        self._last_seen.clear()
