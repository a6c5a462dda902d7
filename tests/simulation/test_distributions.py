"""Service-time distributions: parsing sample lists, and draws with the requested mean."""

from __future__ import annotations

import random
import statistics

import pytest

from vaxflow.queue.simulation.distributions import Distribution, parse_samples


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.5,3,4", (2.5, 3.0, 4.0)),
        ("2.5 3\n4", (2.5, 3.0, 4.0)),
        ("# minutes\n1;2 # second\n\n3", (1.0, 2.0, 3.0)),
        ("0", (0.0,)),
    ],
)
def test_parse_samples(text: str, expected: tuple[float, ...]) -> None:
    assert parse_samples(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no samples"),
        ("1,x", "'x' is not a number"),
        ("-1", "not a duration"),
        ("inf", "not a duration"),
    ],
)
def test_parse_samples_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_samples(text)


@pytest.mark.parametrize("name", ["exp", "lognormal", "fixed"])
def test_draws_have_the_mean(name: str) -> None:
    dist = Distribution(name, 3.0)  # type: ignore[arg-type]
    rng = random.Random(1)
    draws = [dist.sample(rng) for _ in range(40_000)]
    assert statistics.fmean(draws) == pytest.approx(3.0, rel=0.02)
    assert min(draws) >= 0


def test_lognormal_cv() -> None:
    rng = random.Random(2)
    draws = [Distribution("lognormal", 3.0, cv=0.5).sample(rng) for _ in range(40_000)]
    assert statistics.stdev(draws) / statistics.fmean(draws) == pytest.approx(0.5, rel=0.05)


def test_empirical_resamples_the_list() -> None:
    dist = Distribution("empirical", 0.0, samples=(2.0, 4.0))
    rng = random.Random(3)
    assert {dist.sample(rng) for _ in range(50)} == {2.0, 4.0}
    assert dist.expected == 3.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "gamma", "mean": 3.0}, "unknown distribution"),
        ({"name": "exp", "mean": -1.0}, "mean"),
        ({"name": "empirical", "mean": 0.0}, "at least one sample"),
        ({"name": "lognormal", "mean": 3.0, "cv": 0.0}, "cv"),
    ],
)
def test_bad_distributions(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Distribution(**kwargs)  # type: ignore[arg-type]
