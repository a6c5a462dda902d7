"""The pure engine, as tables: states, calling order, observation, estimates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.core.errors import Invalid, Refused
from vaxflow.queue.core.model import (
    FINAL_STATES,
    PRE_DOSE_STATES,
    AdverseOutcome,
    LaneHead,
    StationState,
    StationStatus,
    Visit,
    VisitState,
)

T0 = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def visit(**changes: object) -> Visit:
    base = Visit(
        id=1,
        site_id="demo-stadium",
        site_day=date(2026, 11, 21),
        ticket="A001",
        lane="A",
        state=VisitState.CHECKED_IN,
        product="CORONAVAC",
        dose_number=1,
        person_name="张小明",
        id_number="110101199003074514",
        birth_date=date(1990, 3, 7),
        booking_code="DEMO0001",
        walk_in=False,
        checked_in_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


STATION = StationStatus(
    "demo-stadium", "S01", StationState.OPEN, "CORONAVAC", "LOT1", "Nurse Li", None, T0
)


@pytest.mark.parametrize(
    ("when", "timezone", "day"),
    [
        # the day turns at 04:00 site time (engine.DAY_TURNS_AT), not at midnight
        (datetime(2026, 11, 21, 15, 59, tzinfo=UTC), "Asia/Shanghai", date(2026, 11, 21)),
        (datetime(2026, 11, 21, 16, 0, tzinfo=UTC), "Asia/Shanghai", date(2026, 11, 21)),
        (datetime(2026, 11, 21, 19, 59, tzinfo=UTC), "Asia/Shanghai", date(2026, 11, 21)),
        (datetime(2026, 11, 21, 20, 0, tzinfo=UTC), "Asia/Shanghai", date(2026, 11, 22)),
        (datetime(2026, 11, 21, 16, 0, tzinfo=UTC), "UTC", date(2026, 11, 21)),
        (datetime(2026, 11, 22, 3, 59, tzinfo=UTC), "UTC", date(2026, 11, 21)),
    ],
)
def test_site_day_follows_the_site_time_zone(when: datetime, timezone: str, day: date) -> None:
    assert engine.site_day(when, timezone) == day


def test_the_site_day_never_goes_before_its_floor() -> None:
    early = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai on the 21st
    assert engine.site_day(early, "Asia/Shanghai", floor=date(2026, 11, 22)) == date(2026, 11, 22)
    assert engine.site_day(early, "Asia/Shanghai", floor=date(2026, 11, 20)) == date(2026, 11, 21)
    assert engine.day_start(date(2026, 11, 22), "Asia/Shanghai") == datetime(
        2026, 11, 21, 20, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("prefix", "number", "ticket"),
    [("A", 1, "A001"), ("E", 23, "E023"), ("W", 999, "W999"), ("A", 1000, "A1000")],
)
def test_ticket_format(prefix: str, number: int, ticket: str) -> None:
    assert engine.format_ticket(prefix, number) == ticket


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(1966, 11, 21), date(2026, 11, 21), 60),
        (date(1966, 11, 22), date(2026, 11, 21), 59),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
    ],
)
def test_age_on(birth: date, day: date, age: int) -> None:
    assert engine.age_on(birth, day) == age


@pytest.mark.parametrize(
    ("walk_in", "review", "lane"),
    [(False, False, "A"), (False, True, "E"), (True, False, "W"), (True, True, "E")],
)
def test_lane_for_check_in(settings: Settings, walk_in: bool, review: bool, lane: str) -> None:
    assert engine.lane_for_check_in(settings, walk_in=walk_in, review=review) == lane


def _head(visit_id: int, lane: str, minutes_ago: float) -> LaneHead:
    return LaneHead(visit_id, lane, T0 - timedelta(minutes=minutes_ago))


WEIGHTS = {"A": 1.0, "E": 3.0, "W": 1.0}


@pytest.mark.parametrize(
    ("heads", "chosen"),
    [
        ([], None),
        ([_head(1, "A", 10)], 1),
        # the elderly lane's minutes count three times
        ([_head(1, "A", 10), _head(2, "E", 4)], 2),
        ([_head(1, "A", 20), _head(2, "E", 4)], 1),
        # equal scores: the earlier check-in goes first
        ([_head(1, "A", 5), _head(2, "W", 5)], 1),
        # a lane nobody waits in for long never starves the others
        ([_head(1, "A", 60), _head(2, "E", 1), _head(3, "W", 30)], 1),
    ],
)
def test_choose_next(heads: list[LaneHead], chosen: int | None) -> None:
    head = engine.choose_next(heads, WEIGHTS, T0)
    assert (head.visit_id if head else None) == chosen


def test_call_skip_recall_no_show_cycle() -> None:
    limit = 3
    called = engine.call(visit(), STATION, T0)
    assert (called.state, called.station_id, called.call_count) == (VisitState.CALLED, "S01", 1)
    again = engine.recall(called, STATION, T0)
    assert (again.state, again.call_count) == (VisitState.CALLED, 2)
    skipped = engine.skip(again, limit, T0)
    assert (skipped.state, skipped.station_id) == (VisitState.SKIPPED, None)
    recalled = engine.recall(skipped, STATION, T0)
    assert (recalled.state, recalled.call_count) == (VisitState.RECALLED, 3)
    gone = engine.skip(recalled, limit, T0)
    assert gone.state is VisitState.NO_SHOW
    assert gone.state in FINAL_STATES


@pytest.mark.parametrize(
    ("action", "state", "reason"),
    [
        (lambda v: engine.call(v, STATION, T0), VisitState.CALLED, "not_waiting"),
        (lambda v: engine.skip(v, 3, T0), VisitState.CHECKED_IN, "not_called"),
        (lambda v: engine.recall(v, STATION, T0), VisitState.CHECKED_IN, "not_recallable"),
        (lambda v: engine.start_service(v, STATION, T0), VisitState.CHECKED_IN, "not_called_here"),
        (lambda v: engine.record_dose(v, STATION, 30, T0), VisitState.CALLED, "not_in_service"),
        (lambda v: engine.release(v, T0), VisitState.IN_SERVICE, "not_observing"),
        (lambda v: engine.cancel(v, "x", T0), VisitState.OBSERVING, "not_cancellable"),
        (lambda v: engine.flag_adverse(v), VisitState.RELEASED, "not_observing"),
        (lambda v: engine.leave_early(v, "", T0), VisitState.CHECKED_IN, "not_observing"),
    ],
)
def test_transitions_refused_in_the_wrong_state(
    action: object, state: VisitState, reason: str
) -> None:
    with pytest.raises(Refused) as err:
        action(visit(state=state, station_id="S01"))  # type: ignore[operator]
    assert err.value.reason == reason


def test_start_service_needs_the_calling_station() -> None:
    called = engine.call(visit(), STATION, T0)
    other = replace(STATION, station_id="S02")
    with pytest.raises(Refused, match="not called to station S02"):
        engine.start_service(called, other, T0)


def test_record_dose_checks_the_loaded_product() -> None:
    serving = visit(state=VisitState.IN_SERVICE, station_id="S01", product="BBIBP")
    with pytest.raises(Refused) as err:
        engine.record_dose(serving, STATION, 30, T0)
    assert err.value.reason == "product_mismatch"


def test_observation_runs_from_the_dose_and_release_waits_for_ends_at() -> None:
    serving = visit(state=VisitState.IN_SERVICE, station_id="S01")
    dosed = engine.record_dose(serving, STATION, 30, T0)
    assert dosed.state is VisitState.OBSERVING
    assert dosed.observation_ends_at == T0 + timedelta(minutes=30)
    almost = T0 + timedelta(minutes=29, seconds=59)
    assert engine.observation_remaining(dosed, almost) == timedelta(seconds=1)
    assert not engine.may_leave(dosed, almost)
    with pytest.raises(Refused) as err:
        engine.release(dosed, almost)
    assert err.value.reason == "observation_not_finished"
    assert err.value.details["remaining_seconds"] == 1
    done = T0 + timedelta(minutes=30)
    assert engine.may_leave(dosed, done)
    released = engine.release(dosed, done)
    assert (released.state, released.finished_at) == (VisitState.RELEASED, done)


def test_adverse_flag_holds_release_until_resolved() -> None:
    dosed = visit(
        state=VisitState.OBSERVING,
        dosed_at=T0,
        observation_ends_at=T0 + timedelta(minutes=30),
    )
    flagged = engine.flag_adverse(dosed)
    late = T0 + timedelta(hours=2)
    assert not engine.may_leave(flagged, late)
    with pytest.raises(Refused) as err:
        engine.release(flagged, late)
    assert err.value.reason == "adverse_open"
    with pytest.raises(Refused):
        engine.flag_adverse(flagged)
    resolved = engine.resolve_adverse(flagged, AdverseOutcome.RESOLVED, late)
    assert engine.release(resolved, late).state is VisitState.RELEASED
    transferred = engine.resolve_adverse(flagged, AdverseOutcome.TRANSFERRED, late)
    assert transferred.state is VisitState.TRANSFERRED


def test_defer_and_refer_need_a_reason() -> None:
    at_station = visit(state=VisitState.IN_SERVICE, station_id="S01")
    with pytest.raises(Invalid):
        engine.end_at_station(at_station, VisitState.DEFERRED, "  ", T0)
    deferred = engine.end_at_station(at_station, VisitState.DEFERRED, "fever", T0)
    assert (deferred.state, deferred.reason) == (VisitState.DEFERRED, "fever")
    with pytest.raises(Invalid):
        engine.end_at_station(at_station, VisitState.RELEASED, "x", T0)


def test_cancel_before_the_dose_only() -> None:
    for state in PRE_DOSE_STATES:
        assert engine.cancel(visit(state=state), "timeout", T0).state is VisitState.CANCELLED


@pytest.mark.parametrize(
    ("product", "lot", "vaccinator", "reason"),
    [
        ("AD5-NCOV", "L1", "Li", "product_not_allowed"),
        ("CORONAVAC", " ", "Li", "lot_required"),
        ("CORONAVAC", "L1", "", "vaccinator_required"),
    ],
)
def test_open_station_refusals(
    settings: Settings, product: str, lot: str, vaccinator: str, reason: str
) -> None:
    closed = StationStatus("demo-stadium", "S01", StationState.CLOSED)
    with pytest.raises(Invalid) as err:
        engine.open_station(closed, settings, product, lot, vaccinator, T0)
    assert err.value.reason == reason


def test_station_lifecycle(settings: Settings) -> None:
    closed = StationStatus("demo-stadium", "S01", StationState.CLOSED)
    with pytest.raises(Refused):
        engine.set_station_state(closed, StationState.OPEN, T0)
    opened = engine.open_station(closed, settings, "BBIBP", "L7", "Li", T0)
    assert (opened.state, opened.product, opened.lot) == (StationState.OPEN, "BBIBP", "L7")
    paused = engine.set_station_state(opened, StationState.PAUSED, T0)
    with pytest.raises(Refused):
        engine.require_free_open_station(paused)
    busy = replace(opened, visit_id=5)
    with pytest.raises(Refused):
        engine.set_station_state(busy, StationState.CLOSED, T0)
    with pytest.raises(Refused):
        engine.require_free_open_station(busy)
    shut = engine.set_station_state(opened, StationState.CLOSED, T0)
    assert (shut.state, shut.product) == (StationState.CLOSED, None)


@pytest.mark.parametrize(
    ("waiting", "samples", "stations", "expected"),
    [
        # nobody waiting: about one service time shared by 4 stations
        ({"A": 0, "E": 0, "W": 0}, [], 4, {"A": 1, "E": 1, "W": 1}),
        # 11 ahead + me = 12 people, 4 stations, 3 min each -> 9 min; a newcomer to E
        # (weight 3) gets 3/14 of the calls -> 1 x 3 / (4 x 3/14) = 3.5 -> 4 min
        ({"A": 11, "E": 0, "W": 0}, [3.0, 3.0], 4, {"A": 9, "E": 4, "W": 9}),
        # no samples yet: the default service time (3 min)
        ({"A": 3, "E": 0, "W": 0}, [], 1, {"A": 12, "E": 6, "W": 12}),
        # no station open is treated as one
        ({"A": 1, "E": 0, "W": 0}, [2.0], 0, {"A": 4, "E": 3, "W": 4}),
    ],
)
def test_estimate_waits(
    waiting: dict[str, int], samples: list[float], stations: int, expected: dict[str, int]
) -> None:
    assert engine.estimate_waits(waiting, WEIGHTS, samples, stations, 3.0) == expected


def test_estimate_gives_the_priority_lane_a_shorter_wait() -> None:
    waits = engine.estimate_waits({"A": 20, "E": 20, "W": 0}, WEIGHTS, [3.0], 4, 3.0)
    assert waits["E"] < waits["A"]
