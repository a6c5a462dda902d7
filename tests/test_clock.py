"""SteadyClock: served time follows the wall clock's drift but never its steps (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vaxflow.clock import MAX_SLEW, SteadyClock

START = datetime(2026, 11, 21, 8, 0, tzinfo=UTC).timestamp()


class OsClocks:
    """The two OS clocks the SteadyClock reads, moved by the test."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_at = START

    def wall(self) -> float:
        return self.wall_at

    def monotonic(self) -> float:
        return self.mono

    def run(self, seconds: float, *, drift: float = 0.0) -> None:
        """Both clocks advance; the wall clock by `drift` more (NTP slewing it, say)."""
        self.mono += seconds
        self.wall_at += seconds + drift


def steady(os_clocks: OsClocks) -> SteadyClock:
    return SteadyClock(wall=os_clocks.wall, monotonic=os_clocks.monotonic)


def test_served_time_starts_at_the_wall_clock_and_runs_with_it() -> None:
    os_clocks = OsClocks()
    clock = steady(os_clocks)
    assert clock.now().timestamp() == pytest.approx(START)
    os_clocks.run(600)
    assert clock.now().timestamp() == pytest.approx(START + 600)
    assert clock.steps == []


@pytest.mark.parametrize("step", [40 * 60.0, -20 * 60.0, 2.5, -3.0, 86400.0])
def test_a_step_is_seen_and_never_moves_served_time(step: float) -> None:
    os_clocks = OsClocks()
    clock = steady(os_clocks)
    dosed = clock.now()
    os_clocks.run(1)
    os_clocks.wall_at += step  # the step
    os_clocks.run(1)
    served = (clock.now() - dosed).total_seconds()
    assert served == pytest.approx(2, abs=0.01)  # two real seconds, whatever the wall says
    assert [round(s.seconds) for s in clock.steps] == [round(step)]
    status = clock.status()
    assert status["wall_minus_served"] == pytest.approx(step, abs=0.01)
    assert status["steps"][0]["seconds"] == pytest.approx(step)
    os_clocks.run(1800)  # half an hour later: served time kept real time, one step seen
    assert (clock.now() - dosed).total_seconds() == pytest.approx(1802, abs=1802 * MAX_SLEW)
    assert len(clock.steps) == 1


def test_a_slewed_wall_clock_is_followed_but_no_faster_than_500_ppm() -> None:
    os_clocks = OsClocks()
    clock = steady(os_clocks)
    for _ in range(60):  # an hour of NTP slewing the wall clock 0.1 s forward a minute
        os_clocks.run(60, drift=0.1)
        clock.now()
    served = clock.now().timestamp() - START
    assert clock.steps == []  # drift, not a step
    assert served == pytest.approx(3600 * (1 + MAX_SLEW), abs=0.01)  # followed, at the cap
    for _ in range(600):  # the wall clock settles: served time catches up, slowly
        os_clocks.run(60)
        clock.now()
    assert clock.now().timestamp() == pytest.approx(os_clocks.wall(), abs=0.01)


def test_small_jitter_is_no_step() -> None:
    os_clocks = OsClocks()
    clock = steady(os_clocks)
    for n in range(100):
        os_clocks.run(0.5, drift=0.01 if n % 2 else -0.01)
        clock.now()
    assert clock.steps == []


def test_a_restart_after_the_clock_was_set_back_resumes_from_the_newest_event() -> None:
    os_clocks = OsClocks()
    newest = datetime.fromtimestamp(START + 1200, UTC)  # saved 20 min "in the future"
    clock = steady(os_clocks)
    clock.not_before(newest)
    assert clock.now() == newest
    assert [round(s.seconds) for s in clock.steps] == [-1200]
    os_clocks.run(60)
    assert (clock.now() - newest).total_seconds() == pytest.approx(60, abs=0.05)
    clock.not_before(datetime.fromtimestamp(START, UTC))  # behind served time: nothing
    assert len(clock.steps) == 1
