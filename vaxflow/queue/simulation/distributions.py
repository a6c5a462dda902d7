"""Service-time distributions in minutes, parsed from CLI words, sampled from a seeded Random."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DistName = Literal["exp", "lognormal", "fixed", "empirical"]
DIST_NAMES: tuple[DistName, ...] = ("exp", "lognormal", "fixed", "empirical")


@dataclass(frozen=True)
class Distribution:
    """A positive duration in minutes; `cv` shapes the lognormal, `samples` the empirical one."""

    name: DistName
    mean: float
    cv: float = 0.5
    samples: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.name not in DIST_NAMES:
            raise ValueError(
                f"unknown distribution {self.name!r}; use one of {', '.join(DIST_NAMES)}"
            )
        if self.name == "empirical":
            if not self.samples:
                raise ValueError("an empirical distribution needs at least one sample")
            if any(not math.isfinite(s) or s < 0 for s in self.samples):
                raise ValueError("empirical samples must be finite minutes >= 0")
        elif not math.isfinite(self.mean) or self.mean < 0:
            raise ValueError(f"mean must be finite minutes >= 0, not {self.mean}")
        if not math.isfinite(self.cv) or self.cv <= 0:
            raise ValueError(f"cv must be > 0, not {self.cv}")

    @property
    def expected(self) -> float:
        """The distribution's mean in minutes (the samples' mean for an empirical one)."""
        if self.name == "empirical":
            return sum(self.samples) / len(self.samples)
        return self.mean

    def sample(self, rng: random.Random) -> float:
        """One draw, in minutes."""
        if self.name == "empirical":
            return rng.choice(self.samples)
        if self.name == "fixed" or self.mean == 0:
            return self.mean
        if self.name == "exp":
            return rng.expovariate(1.0 / self.mean)
        sigma2 = math.log1p(self.cv * self.cv)  # lognormal with this mean and cv
        return rng.lognormvariate(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2))

    def describe(self) -> str:
        """Short text for tables and JSON: "exp(3)", "lognormal(3, cv 0.5)", "empirical(n=40)"."""
        if self.name == "empirical":
            return f"empirical(n={len(self.samples)}, mean {self.expected:.2f})"
        if self.name == "lognormal":
            return f"lognormal({self.mean:g}, cv {self.cv:g})"
        return f"{self.name}({self.mean:g})"


_SEPARATORS = re.compile(r"[\s,;]+")


def parse_samples(text: str) -> tuple[float, ...]:
    """Minutes from "2.5,3,4.1" or a file's text (commas, spaces or lines; # starts a comment)."""
    values: list[float] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for word in _SEPARATORS.split(line.strip()):
            if not word:
                continue
            try:
                value = float(word)
            except ValueError:
                raise ValueError(f"{word!r} is not a number of minutes") from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{word!r} is not a duration (minutes >= 0)")
            values.append(value)
    if not values:
        raise ValueError("no samples given")
    return tuple(values)


def load_samples(spec: str) -> tuple[float, ...]:
    """`spec` is a file of minutes if such a file exists, else a comma list."""
    path = Path(spec)
    if path.is_file():
        try:
            return parse_samples(path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    return parse_samples(spec)
