"""The one clock interface: every area takes the time from a Clock so tests can advance it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Where code asks for the time; never `datetime.now()` directly."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


#: A jump of the wall clock against the monotonic clock larger than this is a step (seconds).
STEP_THRESHOLD = 2.0
#: The most the served time is slewed toward the wall clock: 500 ppm, as ntpd's slew.
MAX_SLEW = 500e-6
#: Steps remembered for /api/health and the marshal.
STEPS_KEPT = 5


@dataclass(frozen=True)
class ClockStep:
    """A wall-clock step the server saw: when (served time) and by how much (+ forward)."""

    at: datetime
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "seconds": round(self.seconds, 3)}


class SteadyClock:
    """Served time: the monotonic clock plus an offset to wall time that is only slewed.

    Observation is time served, so "now" must never jump: a wall-clock step (an NTP step, a
    BIOS clock corrected by hand) would release people early or keep them too long (issue
    18). Each reading compares the wall clock's progress with the monotonic clock's; a
    difference above `STEP_THRESHOLD` seconds is a step: it is logged and remembered
    (`status()`, shown in /api/health and to the marshal) and left out of the served time.
    The rest, the wall clock's slow drift and NTP's slewing, is followed at no more than
    `MAX_SLEW`. Served time is anchored to the wall clock when the server starts.
    """

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        threshold: float = STEP_THRESHOLD,
        max_slew: float = MAX_SLEW,
    ) -> None:
        self._wall, self._monotonic = wall, monotonic
        self.threshold, self.max_slew = threshold, max_slew
        self._lock = threading.Lock()
        m, w = monotonic(), wall()
        self._offset = w - m  # served = monotonic + offset
        self._last_m, self._last_gap = m, w - m
        self._stepped = 0.0  # the sum of the steps seen: left out of the served time
        self.steps: list[ClockStep] = []

    def now(self) -> datetime:
        with self._lock:
            m, w = self._monotonic(), self._wall()
            gap = w - m
            jump = gap - self._last_gap
            elapsed = max(m - self._last_m, 0.0)
            if abs(jump) > self.threshold + self.max_slew * elapsed:
                self._stepped += jump
                step = ClockStep(_utc(m + self._offset), jump)
                self.steps = [*self.steps, step][-STEPS_KEPT:]
                log.warning(
                    "the wall clock stepped %+.1f s; served time (observation, the site day) "
                    "stays on the steady clock, %+.1f s from the wall clock",
                    jump,
                    -self._stepped,
                )
            error = (gap - self._stepped) - self._offset
            most = self.max_slew * elapsed
            self._offset += max(-most, min(most, error))
            self._last_m, self._last_gap = m, gap
            return _utc(m + self._offset)

    def not_before(self, when: datetime) -> None:
        """Served time resumes from `when` (the newest saved event, at start) if the wall
        clock is more than `threshold` behind it: a step back while the server was down is
        a step like any other, logged, shown, and left out of served time."""
        with self._lock:
            m = self._monotonic()
            behind = when.timestamp() - (m + self._offset)
            if behind <= self.threshold:
                return
            self._offset += behind
            self._stepped -= behind
            self.steps = [*self.steps, ClockStep(_utc(m + self._offset), -behind)][-STEPS_KEPT:]
            log.warning(
                "the wall clock is %.1f s behind the newest saved event: it stepped back "
                "while the server was down; served time resumes from that event",
                behind,
            )

    def status(self) -> dict[str, Any]:
        """For /api/health and the marshal: how far served time is from the wall clock
        (wall minus served, seconds) and the steps seen, newest last."""
        served = self.now()
        return {
            "steady": True,
            "wall_minus_served": round(self._wall() - served.timestamp(), 3),
            "steps": [step.to_json() for step in self.steps],
        }


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class FrozenClock:
    """A clock that moves only when a test tells it to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 21, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, *, minutes: float = 0) -> datetime:
        self._now += timedelta(seconds=seconds, minutes=minutes)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class ScaledClock:
    """Simulated site time running `speed` times faster than the wall clock (the demo)."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def to_real_seconds(self, site_seconds: float) -> float:
        """How long to sleep on the wall clock for `site_seconds` of site time."""
        return site_seconds / self.speed
