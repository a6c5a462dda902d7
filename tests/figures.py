"""The run's reliability figures: counters tests add to, printed as one table at the end.

Fault, fuzz and soak tests call `figures.add("faults injected", n)` through the `figures`
fixture; hypothesis-driven tests are counted from hypothesis' own statistics (schemathesis
runs on hypothesis too), so the fuzzers need no code of their own. The table answers the
issue's question at the end of every CI run: how much was tried, and was anything lost.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

#: Rows printed even when zero, so "lost: 0" is a statement, not an absence.
ALWAYS = ("faults injected", "requests fuzzed", "inputs tried", "anything lost")
#: Test modules whose hypothesis examples are HTTP requests to a real server.
REQUEST_FUZZERS = ("test_schemathesis", "test_fuzz_api")
_PASSING = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")


class Figures:
    """Named counters for one test session."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def table(self) -> list[str]:
        names = [*ALWAYS, *sorted(k for k in self.counts if k not in ALWAYS)]
        width = max(len(name) for name in names)
        return [f"{name:<{width}}  {self.counts[name]:>9,}" for name in names]


KEY = pytest.StashKey[Figures]()


def hypothesis_examples(statistics: str) -> int:
    """Examples run, from hypothesis' statistics text (every phase: generate, shrink, ...)."""
    return sum(sum(int(n) for n in m.groups()) for m in _PASSING.finditer(statistics))


def count_hypothesis(item: pytest.Item) -> None:
    """Add a finished hypothesis test's examples: requests for the API fuzzers, else inputs."""
    statistics = getattr(item, "hypothesis_statistics", None)
    if not isinstance(statistics, str):
        return
    fuzzes_requests = any(module in item.nodeid for module in REQUEST_FUZZERS)
    name = "requests fuzzed" if fuzzes_requests else "inputs tried"
    item.config.stash[KEY].add(name, hypothesis_examples(statistics))
