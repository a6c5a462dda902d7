"""Turn a day's trace into the figures a planner reads: a summary and per-hour rows.

Day-level rates and time averages are taken over the whole day, from opening to closing
(doors shut and the last person out), so that Little's law holds exactly in the output:
observation_occupancy_mean = throughput_per_hour / 60 x observation_minutes_mean.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vaxflow.queue.core.model import DOSED_STATES, VisitState
from vaxflow.queue.simulation.loop import Trace, local_time
from vaxflow.queue.simulation.metrics import mean, percentile, rounded
from vaxflow.queue.simulation.scenario import US_PER_MINUTE, Scenario, Site

US_PER_HOUR = 60 * US_PER_MINUTE


def _minutes(delta_us: float) -> float:
    return delta_us / US_PER_MINUTE


def _us(site: Site, visit_time: datetime) -> int:
    """A visit's timestamp as simulated microseconds after opening (exact: timedelta is in us)."""
    delta = visit_time - site.opens_at
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass
class SimulationResult:
    """A simulated day: its summary (the JSON), per-hour rows, and the raw trace for plots."""

    scenario: Scenario
    site: Site
    trace: Trace
    summary: dict[str, Any]
    hourly: list[dict[str, Any]]

    def waits(self) -> list[tuple[float, float]]:
        """(minute of the day called, minutes waited) for everyone who reached a station."""
        out = []
        for visit, called in zip(self.trace.visits, self.trace.first_call_us, strict=True):
            if visit is not None and visit.service_started_at is not None:
                out.append(
                    (_minutes(called), _minutes(called - _us(self.site, visit.checked_in_at)))
                )
        return out


def _clock(site: Site, at_us: int) -> str:
    """Site-local "HH:MM", with "+1d" when the day ran past midnight."""
    at = local_time(site, at_us)
    days = (at.date() - local_time(site, 0).date()).days
    return at.strftime("%H:%M") + (f" +{days}d" if days else "")


def summarize(scenario: Scenario, site: Site, trace: Trace) -> SimulationResult:
    """Compute the summary and hour table; nan-valued figures (nobody served) become null."""
    visits = [v for v in trace.visits if v is not None]
    day_us = max(trace.closing_us, 1)
    day_min = _minutes(day_us)
    stations = len(site.settings.stations)
    waits_by_lane: dict[str, list[float]] = {lane.prefix: [] for lane in site.settings.lanes}
    waits: list[float] = []
    misses: list[float] = []
    for visit, called, promised in zip(
        trace.visits, trace.first_call_us, trace.estimate_min, strict=True
    ):
        if visit is not None and visit.service_started_at is not None:
            wait = _minutes(called - _us(site, visit.checked_in_at))
            waits.append(wait)
            waits_by_lane[visit.lane].append(wait)
            misses.append(promised - wait)
    kiosk_waits = [
        _minutes(start - person.arrival_us)
        for person, start in zip(trace.people, trace.kiosk_start_us, strict=True)
        if start >= 0
    ]
    dosed = [v for v in visits if v.state in DOSED_STATES]
    observed = [
        (v.finished_at - v.dosed_at).total_seconds() / 60
        for v in dosed
        if v.finished_at is not None and v.dosed_at is not None
    ]
    released = [v for v in visits if v.state is VisitState.RELEASED]
    early = sum(
        1
        for v in released
        if v.finished_at is None
        or v.observation_ends_at is None
        or v.finished_at < v.observation_ends_at
    )
    on_site = [
        _minutes(_us(site, v.finished_at) - trace.people[v.id - 1].arrival_us)
        for v in released
        if v.finished_at is not None
    ]
    busy_area, _ = trace.busy.window(0, day_us)
    occupancy_area, occupancy_max = trace.observing.window(0, day_us)
    queue_area, queue_max = trace.queue.window(0, day_us)
    blocked_minutes, _ = trace.blocked.window(0, day_us)
    by_state = Counter(v.state.value for v in visits)
    summary: dict[str, Any] = {
        "seed": scenario.seed,
        "stations": stations,
        "stations_by_product": dict(sorted(Counter(site.loads).items())),
        "observation_seats": site.seats if site.seats is not None else "unlimited",
        "kiosks": scenario.kiosks,
        "arrivals": scenario.arrival_mode,
        "service": scenario.service_time.describe(),
        "hours_open": scenario.hours,
        "people_arrived": len(trace.people),
        "checked_in": len(visits),
        "refused": dict(sorted(trace.refused.items())),
        "final_states": dict(sorted(by_state.items())),
        "doses": len(dosed),
        "queue_wait_mean_min": rounded(mean(waits)),
        "queue_wait_p50_min": rounded(percentile(waits, 50)),
        "queue_wait_p90_min": rounded(percentile(waits, 90)),
        "queue_wait_p99_min": rounded(percentile(waits, 99)),
        "queue_wait_max_min": rounded(max(waits, default=math.nan)),
        "queue_wait_by_lane": {
            lane: {
                "served": len(w),
                "mean_min": rounded(mean(w)),
                "p90_min": rounded(percentile(w, 90)),
            }
            for lane, w in waits_by_lane.items()
        },
        "queue_length_mean": rounded(queue_area / day_min),
        "queue_length_max": queue_max,
        "wait_estimate_error_mean_min": rounded(mean(misses)),
        "wait_estimate_abs_error_mean_min": rounded(mean([abs(m) for m in misses])),
        "kiosk_wait_mean_min": rounded(mean(kiosk_waits)),
        "kiosk_wait_p90_min": rounded(percentile(kiosk_waits, 90)),
        "time_on_site_mean_min": rounded(mean(on_site)),
        "throughput_per_hour": rounded(len(dosed) / (day_min / 60)),
        "station_utilization": rounded(busy_area / (stations * day_min), 4),
        "observation_occupancy_max": occupancy_max,
        "observation_occupancy_mean": rounded(occupancy_area / day_min),
        "observation_minutes_mean": rounded(mean(observed)),
        "observation_full_minutes": rounded(blocked_minutes, 1),
        "released_before_end": early,
        "closing": _clock(site, trace.closing_us),
        "day_hours": rounded(day_min / 60),
        "events_processed": trace.events,
        "engine_transitions": trace.transitions,
    }
    return SimulationResult(scenario, site, trace, summary, _hourly(site, trace, stations))


def _hourly(site: Site, trace: Trace, stations: int) -> list[dict[str, Any]]:
    """One row per hour from opening to closing."""
    hours = max(1, math.ceil(trace.closing_us / US_PER_HOUR))
    arrivals = Counter(p.arrival_us // US_PER_HOUR for p in trace.people)
    checked_in: Counter[int] = Counter()
    doses: Counter[int] = Counter()
    released: Counter[int] = Counter()
    waits: dict[int, list[float]] = {}
    for visit, called in zip(trace.visits, trace.first_call_us, strict=True):
        if visit is None:
            continue
        checked = _us(site, visit.checked_in_at)
        checked_in[checked // US_PER_HOUR] += 1
        if visit.dosed_at is not None:
            doses[_us(site, visit.dosed_at) // US_PER_HOUR] += 1
        if visit.state is VisitState.RELEASED and visit.finished_at is not None:
            released[_us(site, visit.finished_at) // US_PER_HOUR] += 1
        if visit.service_started_at is not None:
            waits.setdefault(called // US_PER_HOUR, []).append(_minutes(called - checked))
    closing = max(trace.closing_us, 1)
    edges = [min(h * US_PER_HOUR, closing) for h in range(hours)] + [closing]
    queue = trace.queue.buckets(edges)
    kiosk = trace.kiosk_queue.buckets(edges)
    busy = trace.busy.buckets(edges)
    observing = trace.observing.buckets(edges)
    rows = []
    for h in range(hours):
        lo, hi = edges[h], edges[h + 1]
        span = _minutes(hi - lo) if hi > lo else math.nan
        queue_area, queue_max = queue[h]
        kiosk_area, _ = kiosk[h]
        busy_area, _ = busy[h]
        obs_area, obs_max = observing[h]
        w = waits.get(h, [])
        rows.append(
            {
                "hour": local_time(site, lo).strftime("%H:%M"),
                "arrivals": arrivals.get(h, 0),
                "checked_in": checked_in.get(h, 0),
                "doses": doses.get(h, 0),
                "released": released.get(h, 0),
                "queue_length_mean": rounded(queue_area / span, 2),
                "queue_length_max": queue_max,
                "queue_wait_mean_min": rounded(mean(w), 2),
                "queue_wait_p90_min": rounded(percentile(w, 90), 2),
                "kiosk_queue_mean": rounded(kiosk_area / span, 2),
                "station_utilization": rounded(busy_area / (stations * span), 3),
                "observation_occupancy_mean": rounded(obs_area / span, 2),
                "observation_occupancy_max": obs_max,
            }
        )
    return rows
