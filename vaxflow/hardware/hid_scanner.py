"""Keyboard-wedge (USB HID) scanners: tell a scanner's keystroke burst from a person typing.

A wedge scanner "types" the code a few milliseconds a key and presses Enter. The kiosk app
shell feeds every key-down event to `HidScanner.feed_key` *before* the focused widget sees
it; keys that may belong to a burst are held back (swallowed). If the burst ends in Enter it
becomes a scan; if the keys come too slowly they were a person typing, and they are handed
back in order through `on_release` so the shell can insert them into the focused text field.

The seam for the Kivy app shell (not wired in this module: vaxflow/hardware never imports
Kivy)::

    def _on_key_down(window, keycode, scancode, codepoint, modifiers):
        key = "enter" if keycode in (13, 271) else (codepoint or "")
        return scanner.feed_key(key)   # True stops Kivy passing the key to the widgets

    Window.bind(on_key_down=_on_key_down)
    scanner = HidScanner("hid://", on_release=lambda text: focused_input.insert_text(text))
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, Scan
from vaxflow.hardware.scan_text import InvalidScan, normalize_scan

log = logging.getLogger(__name__)

#: Key names that end a burst; printable keys are passed as their one-character text.
ENTER_KEYS = frozenset({"\r", "\n", "enter", "return", "numpadenter", "kp_enter"})
#: Key names that neither join nor break a burst (a scanner presses shift for capitals).
MODIFIER_KEYS = frozenset(
    {"shift", "lshift", "rshift", "ctrl", "lctrl", "rctrl", "alt", "alt-gr", "capslock", "numlock"}
)

#: Default longest pause between two keys of one burst, in seconds. Wedge scanners send a key
#: every 1-15 ms; the fastest typists leave 60 ms or more between keys.
DEFAULT_MAX_GAP = 0.05
#: Default shortest burst (before Enter) taken as a scan; booking codes are longer than this.
DEFAULT_MIN_LENGTH = 4


@dataclass(frozen=True)
class KeyResult:
    """What to do with one key: swallow it or not, and what became known with it."""

    swallowed: bool
    released: str = ""  # held-back keys that were typing: give them to the UI before this key
    code: str | None = None  # a finished burst


class BurstDetector:
    """A pure state machine over (key, time) pairs; times are seconds on any monotonic clock."""

    def __init__(
        self, max_gap: float = DEFAULT_MAX_GAP, min_length: int = DEFAULT_MIN_LENGTH
    ) -> None:
        if max_gap <= 0 or min_length < 1:
            raise ValueError("max_gap must be positive and min_length at least 1")
        self.max_gap = max_gap
        self.min_length = min_length
        self._held: list[str] = []
        self._last = 0.0

    def feed(self, key: str, now: float) -> KeyResult:
        """Classify one key-down."""
        if key.lower() in MODIFIER_KEYS:
            return KeyResult(swallowed=False)
        fast = bool(self._held) and now - self._last <= self.max_gap
        if key in ENTER_KEYS or key.lower() in ENTER_KEYS:
            if fast and len(self._held) >= self.min_length:
                code = "".join(self._held)
                self._held.clear()
                return KeyResult(swallowed=True, code=code)
            return KeyResult(swallowed=False, released=self._release())
        if len(key) != 1 or not key.isprintable():
            # Backspace, arrows, function keys: a person at the keyboard.
            return KeyResult(swallowed=False, released=self._release())
        released = "" if fast else self._release()
        self._held.append(key)
        self._last = now
        return KeyResult(swallowed=True, released=released)

    def expire(self, now: float) -> str:
        """Keys held back longer than `max_gap` with nothing after them: typing, released."""
        if self._held and now - self._last > self.max_gap:
            return self._release()
        return ""

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def _release(self) -> str:
        text = "".join(self._held)
        self._held.clear()
        return text


class HidScanner:
    """A keyboard-wedge scanner fed by the app shell's key events (see the module docstring).

    URL: `hid://?max_gap_ms=50&min_length=4`. Options: `on_release(text)` receives typing that
    was held back (without it, held-back typing is dropped: set it wherever people type);
    `clock()` gives the time in seconds for key events fed without a timestamp
    (default time.monotonic; it must be the clock the timestamps come from).
    """

    def __init__(
        self,
        url: str = "hid://",
        *,
        on_release: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_gap_ms: float | str | None = None,
        min_length: int | str | None = None,
        **options: Any,
    ) -> None:
        if options:
            raise TypeError(f"unknown hid scanner options: {', '.join(sorted(options))}")
        query = dict(parse_qsl(urlsplit(url).query))
        unknown = set(query) - {"max_gap_ms", "min_length"}
        if unknown:
            raise ValueError(f"{url}: unknown option {sorted(unknown)[0]!r}")
        try:
            gap_ms = float(max_gap_ms if max_gap_ms is not None else query.get("max_gap_ms", 50))
            length = int(min_length if min_length is not None else query.get("min_length", 4))
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None
        self.url = url
        self.detector = BurstDetector(gap_ms / 1000, length)
        self.on_release = on_release
        self._clock = clock
        self._codes: asyncio.Queue[str] = asyncio.Queue()
        self._is_open = False
        self._seen_scan = False
        self._timer: asyncio.TimerHandle | None = None

    async def open(self) -> None:
        self._is_open = True

    async def close(self) -> None:
        self._is_open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._give_back(self.detector.expire(float("inf")))

    def feed_key(self, key: str, timestamp: float | None = None) -> bool:
        """One key-down from the UI; True when the key is swallowed (the UI must drop it).

        `key`: the typed character, or "enter" (or "\\r") for Enter/keypad Enter, or a key
        name ("shift", "backspace"). Call on the event loop's thread (Kivy's, with async_run).
        """
        if not self._is_open:
            return False
        now = self._clock() if timestamp is None else timestamp
        result = self.detector.feed(key, now)
        self._give_back(result.released)
        if result.code is not None:
            self._codes.put_nowait(result.code)
        self._arm_timer()
        return result.swallowed

    def _arm_timer(self) -> None:
        """Release held keys once the burst window has passed without another key."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.detector.holding:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.detector.max_gap * 1.5, self._expire)

    def _expire(self) -> None:
        self._timer = None
        self._give_back(self.detector.expire(self._clock()))
        if self.detector.holding:
            self._arm_timer()

    def _give_back(self, text: str) -> None:
        if text and self.on_release is not None:
            self.on_release(text)

    async def read(self, timeout: float) -> Scan | None:  # noqa: ASYNC109 (protocol)
        """The next burst, normalised; None after `timeout` seconds without one."""
        if not self._is_open:
            raise DeviceUnavailable(f"{self.url}: scanner is not open")
        try:
            async with asyncio.timeout(timeout):
                code = await self._codes.get()
        except TimeoutError:
            return None
        self._seen_scan = True
        try:
            return Scan(normalize_scan(code), self.url)
        except InvalidScan:
            log.info("%s: burst refused as a scan", self.url)
            raise

    async def health(self) -> DeviceHealth:
        """OK once a burst has been seen; before that UNKNOWN: a wedge cannot be asked."""
        if not self._is_open:
            return DeviceHealth("scanner", self.url, DeviceState.OFFLINE, "closed")
        if not self._seen_scan:
            return DeviceHealth("scanner", self.url, DeviceState.UNKNOWN, "no_scan_yet")
        return DeviceHealth("scanner", self.url, DeviceState.OK)
