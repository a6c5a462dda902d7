"""A keyboard-wedge (USB HID) scanner read from the window's text input: `hid://`.

Where the scanner's own input device cannot be read (no `/dev/input`, not Linux, no path in
the URL), its keys reach the kiosk as typing in the window. The app shell feeds this class
the window's *text* events (Kivy's `on_textinput`: the real characters, shifted, ':' and '?',
full-width from an input method) and Enter from the key events; key codes are never turned
into characters here (Kivy passes the unshifted key in `on_key_down`). `key_burst` decides
whole bursts: a scan, typing (handed back through `on_release`), or a fragment (rejected,
counted in `health()`). The Kivy wiring is `vaxflow.kiosk.wedge.bind_window_scanner`
(vaxflow/hardware never imports Kivy).

URL: `hid://?max_gap_ms=50&pause_ms=300&min_length=4` (`max_gap_ms`: the longest *mean*
time per key of a scan). `hid:///dev/input/...` is the evdev reader (`evdev_scanner`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, Scan
from vaxflow.hardware.key_burst import (
    DEFAULT_LINGER,
    Code,
    Fragment,
    Outcome,
    Typing,
    WindowBurstDecoder,
)
from vaxflow.hardware.scan_outcomes import ScanOutcomes

_OPTIONS = frozenset({"max_gap_ms", "pause_ms", "min_length"})


class HidScanner:
    """A wedge scanner fed by the window's text and Enter events (see the module docstring).

    Options: `on_release(text)` receives typing that was held back (without it, typing is
    dropped: the kiosk has no text fields); `clock()` gives the time in seconds for events
    fed without one (default time.monotonic; it must be the clock the timestamps come from).
    """

    def __init__(
        self,
        url: str = "hid://",
        *,
        on_release: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        parts = urlsplit(url)
        if parts.path not in ("", "/"):
            raise ValueError(f"{url}: a device path is read by the evdev scanner, not here")
        query = {**dict(parse_qsl(parts.query)), **{k: str(v) for k, v in options.items()}}
        unknown = set(query) - _OPTIONS
        if unknown:
            raise ValueError(f"{url}: unknown option {sorted(unknown)[0]!r}")
        try:
            mean_gap = float(query.get("max_gap_ms", 50)) / 1000
            pause = float(query.get("pause_ms", 300)) / 1000
            length = int(query.get("min_length", 4))
            self.decoder = WindowBurstDecoder(
                max_mean_gap=mean_gap,
                pause=pause,
                linger=max(DEFAULT_LINGER, pause),
                min_length=length,
            )
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None
        self.url = url
        self.on_release = on_release
        self._clock = clock
        self._outcomes = ScanOutcomes(url)
        self._is_open = False
        self._timer: asyncio.TimerHandle | None = None

    async def open(self) -> None:
        self._is_open = True

    async def close(self) -> None:
        self._is_open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._handle(self.decoder.expire(float("inf")))

    # --- fed by the window (on the event loop's thread) --------------------------------------

    def feed_text(self, text: str, timestamp: float | None = None) -> bool:
        """Characters from the window's text input; True when held back (the UI must drop it)."""
        if not self._is_open or not text:
            return False
        self._handle(self.decoder.text(text, self._now(timestamp)))
        self._arm_timer()
        return True

    def feed_enter(self, timestamp: float | None = None) -> bool:
        """Enter or keypad Enter; True when it ended a scan or a fragment (the UI must drop it)."""
        if not self._is_open:
            return False
        outcomes = self.decoder.enter(self._now(timestamp))
        self._handle(outcomes)
        self._arm_timer()
        return any(isinstance(o, Code | Fragment) for o in outcomes)

    def feed_other(self, timestamp: float | None = None) -> None:
        """A key that is not text (Backspace, arrows, Tab): it ends any burst."""
        if self._is_open:
            self._handle(self.decoder.other(self._now(timestamp)))
            self._arm_timer()

    def _now(self, timestamp: float | None) -> float:
        return self._clock() if timestamp is None else timestamp

    def _handle(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Typing):
                if self.on_release is not None:
                    self.on_release(outcome.text)
            else:
                self._outcomes.put(outcome)

    def _arm_timer(self) -> None:
        """End a burst that stopped without Enter once `pause` has passed with no key."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.decoder.holding:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.decoder.pause * 1.2, self._expire)

    def _expire(self) -> None:
        self._timer = None
        self._handle(self.decoder.expire(self._clock()))
        self._arm_timer()

    # --- the Scanner protocol ------------------------------------------------------------------

    async def read(self, timeout: float) -> Scan | None:  # noqa: ASYNC109 (protocol)
        """The next whole scan, normalised; None after `timeout` seconds without one.

        Raises InvalidScan("partial_scan") for a rejected fragment, InvalidScan for a scan
        that is not clean text.
        """
        if not self._is_open:
            raise DeviceUnavailable(f"{self.url}: scanner is not open")
        return await self._outcomes.get(timeout)

    async def health(self) -> DeviceHealth:
        """UNKNOWN until a scan (a wedge cannot be asked); WARNING after a rejected fragment."""
        if not self._is_open:
            return DeviceHealth("scanner", self.url, DeviceState.OFFLINE, "closed")
        return self._outcomes.health()
