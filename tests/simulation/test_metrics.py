"""Step series and percentiles: the arithmetic under every figure of the summary."""

from __future__ import annotations

import itertools
import math

import pytest

from vaxflow.queue.simulation.metrics import StepSeries, percentile
from vaxflow.queue.simulation.scenario import US_PER_MINUTE

M = US_PER_MINUTE


def _series() -> StepSeries:
    """0 until minute 10, 2 until 25, 1 until 40, then 4."""
    series = StepSeries()
    series.add(10 * M, 2)
    series.add(25 * M, -1)
    series.add(40 * M, 3)
    series.add(40 * M, 0)  # a second change at one instant replaces, never adds a point
    return series


@pytest.mark.parametrize(
    ("start", "end", "area", "peak"),
    [
        (0, 10, 0.0, 0),
        (0, 20, 20.0, 2),
        (20, 30, 15.0, 2),
        (30, 50, 50.0, 4),
        (45, 60, 60.0, 4),
    ],
)
def test_window(start: int, end: int, area: float, peak: int) -> None:
    got_area, got_peak = _series().window(start * M, end * M)
    assert got_area == pytest.approx(area)
    assert got_peak == peak


def test_buckets_equal_windows() -> None:
    series = _series()
    edges = [0, 7, 20, 25, 33, 40, 60, 61]
    expected = [series.window(a * M, b * M) for a, b in itertools.pairwise(edges)]
    assert series.buckets([e * M for e in edges]) == expected
    assert len(series.times) == 4


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1.0, 2.0, 3.0, 4.0], 50, 2.5), ([5.0], 90, 5.0), ([0.0, 10.0], 90, 9.0)],
)
def test_percentile_interpolates_like_numpy(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 90))
