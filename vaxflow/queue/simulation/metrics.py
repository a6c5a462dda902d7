"""Measurements of a simulated day: step series integrated over time, percentiles, hour tables."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from vaxflow.queue.core import stats
from vaxflow.queue.simulation.scenario import US_PER_MINUTE


def percentile(values: Sequence[float], q: float) -> float:
    """`stats.percentile` (q in 0..100), nan if empty: the simulator's figures are floats."""
    value = stats.percentile(values, q)
    return math.nan if value is None else value


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; nan if empty (a day where nobody waited has no mean wait)."""
    return sum(values) / len(values) if values else math.nan


_FOREVER = 1 << 62


@dataclass
class StepSeries:
    """A count that changes at instants (queue length, people seated): kept as change points."""

    times: list[int] = field(default_factory=lambda: [0])
    values: list[int] = field(default_factory=lambda: [0])

    @property
    def current(self) -> int:
        """The count now (after the latest change)."""
        return self.values[-1]

    def add(self, at_us: int, delta: int) -> None:
        """Change the count at `at_us`; several changes at one instant keep only the last."""
        value = self.values[-1] + delta
        if self.times[-1] == at_us:
            self.values[-1] = value
        else:
            self.times.append(at_us)
            self.values.append(value)

    def window(self, start_us: int, end_us: int) -> tuple[float, int]:
        """(time integral in count x minutes, maximum) over [start, end)."""
        area = 0
        peak = 0
        times, values = self.times, self.values
        i = max(bisect_right(times, start_us) - 1, 0)
        while i < len(times) and times[i] < end_us:
            nxt = times[i + 1] if i + 1 < len(times) else end_us
            lo, hi = max(times[i], start_us), min(nxt, end_us)
            if hi > lo:
                area += values[i] * (hi - lo)
                peak = max(peak, values[i])
            i += 1
        return area / US_PER_MINUTE, peak

    def buckets(self, edges: Sequence[int]) -> list[tuple[float, int]]:
        """`window` for each [edges[i], edges[i+1]) in one pass over the change points."""
        out: list[tuple[float, int]] = []
        times, values = self.times, self.values
        n = len(times)
        i = max(bisect_right(times, edges[0]) - 1, 0) if edges else 0
        for lo, hi in pairwise(edges):
            area = 0
            peak = 0
            while i < n and times[i] < hi:
                nxt = times[i + 1] if i + 1 < n else _FOREVER
                a, b = max(times[i], lo), min(nxt, hi)
                if b > a:
                    area += values[i] * (b - a)
                    peak = max(peak, values[i])
                if nxt > hi:
                    break  # this step continues into the next bucket
                i += 1
            out.append((area / US_PER_MINUTE, peak))
        return out


def rounded(value: float, digits: int = 3) -> float | None:
    """JSON-friendly: nan becomes null."""
    return None if math.isnan(value) else round(value, digits)
