"""A full stadium day: everyone ends in a final state, nobody leaves observation early."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from tests.simulation.conftest import BIG_DAY
from vaxflow.config import Settings
from vaxflow.queue.core.model import DOSED_STATES, FINAL_STATES, VisitState
from vaxflow.queue.simulation import Scenario, SimulationResult, simulate


@pytest.mark.slow  # the 20,000-person day takes ~8 s to simulate
def test_everyone_arrives_and_ends_in_a_final_state(day: SimulationResult) -> None:
    s = day.summary
    visits = [v for v in day.trace.visits if v is not None]
    assert s["people_arrived"] == 20_000
    assert s["checked_in"] + sum(s["refused"].values()) == 20_000
    assert all(v.state in FINAL_STATES for v in visits)
    assert sum(s["final_states"].values()) == s["checked_in"]
    for state in ("released", "no_show", "deferred", "left_early"):
        assert s["final_states"].get(state, 0) > 0, state
    # Closing is after the last arrival and after every visit's last step.
    last_arrival = max(p.arrival_us for p in day.trace.people)
    assert day.trace.closing_us >= last_arrival
    closing = day.site.opens_at + timedelta(microseconds=day.trace.closing_us)
    last_out = max(v.finished_at for v in visits if v.finished_at is not None)
    assert closing == max(last_out, day.site.opens_at + timedelta(hours=BIG_DAY.hours))


@pytest.mark.slow
def test_nobody_is_released_before_their_observation_ends(day: SimulationResult) -> None:
    released = [v for v in day.trace.visits if v is not None and v.state is VisitState.RELEASED]
    assert len(released) > 18_000
    assert day.summary["released_before_end"] == 0
    for v in released:
        assert v.dosed_at is not None and v.observation_ends_at is not None
        assert v.finished_at is not None and v.finished_at >= v.observation_ends_at
        assert v.observation_ends_at - v.dosed_at == timedelta(minutes=30)
        assert not v.adverse_open


@pytest.mark.slow
def test_stations_are_closed_and_free_at_the_end(day: SimulationResult) -> None:
    assert all(st.visit_id is None and st.product is None for st in day.trace.stations)
    dosed = sum(1 for v in day.trace.visits if v is not None and v.state in DOSED_STATES)
    assert day.summary["doses"] == dosed


@pytest.mark.slow
def test_nobody_is_dosed_without_a_seat(day: SimulationResult) -> None:
    assert day.summary["observation_occupancy_max"] <= 1000


def test_full_observation_holds_the_stations(demo_settings: Settings) -> None:
    """40 chairs x 30 minutes caps the site near 80 doses an hour, however many stations."""
    small = Scenario(stations=12, seats=40, arrival_rate=200, hours=3, seed=3)
    s = simulate(demo_settings, small).summary
    assert s["observation_occupancy_max"] <= 40
    assert s["observation_full_minutes"] > 60
    assert s["throughput_per_hour"] < 40 / 31 * 60
    roomy = simulate(demo_settings, dataclasses.replace(small, seats="unlimited")).summary
    assert roomy["observation_full_minutes"] == 0
    assert roomy["queue_wait_mean_min"] < s["queue_wait_mean_min"]


def test_same_seed_same_day(demo_settings: Settings) -> None:
    scenario = Scenario(hours=3, seed=11, adverse_share=0.05, leave_early_share=0.05)
    first, second = simulate(demo_settings, scenario), simulate(demo_settings, scenario)
    assert first.summary == second.summary
    assert first.hourly == second.hourly
    assert first.trace.visits == second.trace.visits
    other = simulate(demo_settings, dataclasses.replace(scenario, seed=12))
    assert other.summary != first.summary


def test_sweeps_see_the_same_people(demo_settings: Settings) -> None:
    """Changing stations does not change who arrives when (common random numbers)."""
    a = simulate(demo_settings, Scenario(stations=10, hours=2, seed=5))
    b = simulate(demo_settings, Scenario(stations=20, hours=2, seed=5))
    assert [p.arrival_us for p in a.trace.people] == [p.arrival_us for p in b.trace.people]
    assert a.summary["queue_wait_mean_min"] > b.summary["queue_wait_mean_min"]


def test_walk_ins_beyond_capacity_are_refused(demo_settings: Settings) -> None:
    s = simulate(
        demo_settings, Scenario(walk_in_share=0.5, walk_in_capacity=20, hours=2, seed=2)
    ).summary
    walk_ins = s["queue_wait_by_lane"]["W"]["served"]
    assert s["refused"]["walk_in_full"] > 0
    assert walk_ins <= 20


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"arrival_rate": -1.0}, "arrival rate"),
        ({"stations": 0}, "stations"),
        ({"seats": 0}, "seats"),
        ({"no_show_share": 1.5}, "no show share"),
        ({"hours": 0.0}, "hours"),
        ({"product_mix": (("NOPE", 1.0),)}, "NOPE"),
    ],
)
def test_bad_scenarios_say_what_is_wrong(
    demo_settings: Settings, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        simulate(demo_settings, dataclasses.replace(BIG_DAY, **change))  # type: ignore[arg-type]
