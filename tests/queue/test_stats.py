"""The one percentile: linear interpolation between closest ranks (numpy's default)."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.queue.core.stats import percentile

waits = st.lists(st.floats(0, 600, allow_nan=False), min_size=2, max_size=200)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([4.0], 90, 4.0),
        ([1, 2, 3, 4], 50, 2.5),
        ([5, 1, 4, 2, 3], 90, 4.6),
        ([2, 4, 6, 8], 90, 7.4),
        ([0, 10], 0, 0),
        ([0, 10], 100, 10),
    ],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float | None
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


@given(waits)
def test_percentile_is_statistics_quantiles_inclusive(values: list[float]) -> None:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for q in (1, 10, 25, 50, 75, 90, 99):
        assert percentile(values, q) == pytest.approx(cuts[q - 1], abs=1e-9)


@given(waits, st.floats(0, 100), st.floats(0, 100))
def test_percentile_stays_within_the_values_and_grows_with_q(
    values: list[float], a: float, b: float
) -> None:
    low, high = sorted((a, b))
    p_low, p_high = percentile(values, low), percentile(values, high)
    assert p_low is not None and p_high is not None
    assert min(values) <= p_low <= p_high + 1e-9 and p_high <= max(values)
    assert percentile(values, 50) == pytest.approx(statistics.median(values))


@pytest.mark.parametrize("q", [-1, -0.1, 100.5])
def test_q_outside_0_to_100_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], q)
