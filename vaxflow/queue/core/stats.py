"""The one percentile of the project, so the dashboard, the report and the simulator agree.

The definition is linear interpolation between the closest ranks: for sorted values
x[0..n-1], the q-th percentile is at rank h = (n - 1) * q / 100 and lies between x[floor(h)]
and x[ceil(h)]. It is numpy's default (`method="linear"`), `statistics.quantiles(...,
method="inclusive")` and Hyndman & Fan's type 7; it needs no rounding rule, gives the
median for q = 50, the minimum for 0 and the maximum for 100, and its value moves smoothly
as waits change (a nearest-rank p90 of a small hour jumps from one person's wait to the next).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (q in 0..100) of `values`; None when there are none.

    Callers round for display; the value itself is not rounded.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, not {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))
