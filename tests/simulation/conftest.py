"""Sites and scenarios for simulator tests: the M/M/c case where queueing theory has the answer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from vaxflow.config import Settings, load_settings, load_settings_text
from vaxflow.queue.simulation import Distribution, Scenario, SimulationResult, simulate

#: One lane, one product, no observation: the site reduces to c servers and one FIFO queue.
MMC_SITE = """
[site]
id = "mmc"
name = "M/M/c check"
timezone = "UTC"

[[lanes]]
prefix = "A"
name = "Everyone"

[[products]]
code = "P"
name = "Product"
manufacturer = "Maker"
observation_minutes = 0

[[stations]]
id = "S01"
name = "Station 1"
zone = "Hall"
products = ["P"]

[tokens]
admin = ["mmc-admin-token-0001"]
"""

NOTHING = Distribution("fixed", 0.0)


@pytest.fixture(scope="session")
def mmc_settings() -> Settings:
    return load_settings_text(MMC_SITE)


def mmc_scenario(
    stations: int, per_hour: float, service_mean: float, hours: float, seed: int
) -> Scenario:
    """Poisson arrivals, exponential service, and every other step made instant or absent."""
    return Scenario(
        stations=stations,
        seats="unlimited",
        kiosks=0,
        arrival_rate=per_hour,
        walk_in_share=0.0,
        no_show_share=0.0,
        defer_share=0.0,
        adverse_share=0.0,
        leave_early_share=0.0,
        elderly_share=0.0,
        service_time=Distribution("exp", service_mean),
        walk_time=NOTHING,
        exit_time=NOTHING,
        observation_minutes=0,
        hours=hours,
        seed=seed,
    )


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in M/M/c, with offered load `load` = lambda/mu erlangs."""
    rho = load / servers
    last = load**servers / math.factorial(servers) / (1 - rho)
    return last / (sum(load**k / math.factorial(k) for k in range(servers)) + last)


DEMO_CONFIG = Path(__file__).resolve().parents[2] / "vaxflow" / "config" / "demo.toml"

#: The stadium of DESIGN.md: 20,000 booked people in a 12-hour day, 100 stations, 30 kiosks.
BIG_DAY = Scenario(
    stations=100,
    seats=1000,
    kiosks=30,
    walk_in_capacity=5000,
    arrival_mode="booked",
    people=20_000,
    hours=12,
    adverse_share=0.01,
    leave_early_share=0.01,
    seed=2026,
)


@pytest.fixture(scope="session")
def demo_settings() -> Settings:
    return load_settings(DEMO_CONFIG)


@pytest.fixture(scope="session")
def day(demo_settings: Settings) -> SimulationResult:
    """The 20,000-person day, simulated once for every test that reads it."""
    return simulate(demo_settings, BIG_DAY)
