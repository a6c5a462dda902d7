"""The site simulator: a discrete-event day that drives the real queue engine on a simulated clock.

`simulate(settings, scenario)` builds the site (stations, loaded products, chairs), draws the
day's people from the seed, plays the day through `vaxflow.queue.core.engine`, and summarizes it.
Pure: no I/O, no wall clock; the CLI (`vaxflow simulate`) and plots live elsewhere.
"""

from __future__ import annotations

from vaxflow.config import Settings
from vaxflow.queue.simulation.distributions import DIST_NAMES, Distribution, load_samples
from vaxflow.queue.simulation.loop import Progress, SimulationError, Trace, run_day
from vaxflow.queue.simulation.results import SimulationResult, summarize
from vaxflow.queue.simulation.scenario import Scenario, Site, build_site, plan_people

__all__ = [
    "DIST_NAMES",
    "Distribution",
    "Scenario",
    "SimulationError",
    "SimulationResult",
    "Site",
    "Trace",
    "build_site",
    "load_samples",
    "plan_people",
    "simulate",
]


def simulate(
    settings: Settings, scenario: Scenario, progress: Progress | None = None
) -> SimulationResult:
    """One simulated day of `scenario` on the site `settings` describes."""
    site = build_site(settings, scenario)
    people = plan_people(scenario, site)
    return summarize(scenario, site, run_day(site, scenario, people, progress))
