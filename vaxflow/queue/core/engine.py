"""Pure transitions of visits and stations; time is an argument, nothing here does I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from vaxflow.config import LaneKind, Settings
from vaxflow.queue.core.errors import Invalid, Refused
from vaxflow.queue.core.model import (
    AT_STATION_STATES,
    CALLED_STATES,
    OBSERVATION_STATES,
    PRE_DOSE_STATES,
    WITHDRAW_SECONDS,
    AdverseOutcome,
    LaneHead,
    StationState,
    StationStatus,
    Visit,
    VisitState,
)

# --- site days and tickets ---------------------------------------------------------------


#: The default turn of one site day into the next, in site time; a site file sets its own
#: (`[site] day_turns_at`). Not midnight: a day that runs late keeps serving its people (call,
#: dose, observation, exit by scan or typed number) past midnight, and check-ins after
#: midnight still belong to it (issue 18).
DAY_TURNS_AT = time(4, 0)


def site_day(
    now: datetime, timezone: str, turns_at: time = DAY_TURNS_AT, *, floor: date | None = None
) -> date:
    """The site day `now` falls on: from `turns_at` to `turns_at` in the site's time zone,
    and never before `floor` (the newest day the site has numbered or opened), so a clock
    set back never reopens a day that has ended nor reissues its numbers."""
    local = now.astimezone(ZoneInfo(timezone))
    turned = local - timedelta(hours=turns_at.hour, minutes=turns_at.minute)
    day = turned.date()
    return day if floor is None or day >= floor else floor


def day_start(day: date, timezone: str, turns_at: time = DAY_TURNS_AT) -> datetime:
    """The instant site day `day` begins (its `turns_at`), timezone-aware."""
    return datetime.combine(day, turns_at, ZoneInfo(timezone))


def next_turn(day: date, timezone: str, turns_at: time = DAY_TURNS_AT) -> datetime:
    """The instant site day `day` gives way to the next by the schedule (unless staff close
    it sooner)."""
    return day_start(day + timedelta(days=1), timezone, turns_at)


#: How long after check-in an unfinished visit of the site day before the open one is still
#: a person in the building, carried over into the open day (called first, found by ticket,
#: shown on the call board, no second ticket). A site that runs through its turn (04:00) has
#: its people inside for minutes to an hour or two; a visit of yesterday evening still
#: unfinished the next morning is a record nobody closed (the person went home), and it must
#: neither be called before the morning's queue nor refuse that person a ticket. Eight hours
#: separates the two for any turn between 00:00 and 12:00 (decision, issue 18).
CARRY_OVER = timedelta(hours=8)


@dataclass(frozen=True)
class Carry:
    """Where carried-over visits come from: the site day before the open one, checked in at
    `since` or later."""

    day: date
    since: datetime

    def holds(self, site_day: date, checked_in_at: datetime) -> bool:
        return site_day == self.day and checked_in_at >= self.since


def carry(open_day: date, now: datetime) -> Carry:
    """The carry-over into `open_day` at `now` (see `CARRY_OVER`)."""
    return Carry(open_day - timedelta(days=1), now - CARRY_OVER)


def format_ticket(prefix: str, number: int) -> str:
    """A023; past 999 the number simply grows (A1000) rather than wrapping to a reused one."""
    return f"{prefix}{number:03d}"


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age on `day`."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def lane_for_check_in(settings: Settings, *, walk_in: bool, review: bool) -> str:
    """People a doctor must see to the review or priority lane, walk-ins too (a walk-in's
    passport birth date to confirm is the desk's job, not the vaccinator's); other walk-ins
    to the walk-in lane."""
    if review:
        lane = settings.lane_of_kind(LaneKind.REVIEW) or settings.lane_of_kind(LaneKind.PRIORITY)
        if lane is not None:
            return lane.prefix
    if walk_in:
        lane = settings.lane_of_kind(LaneKind.WALK_IN)
        if lane is None:
            raise Refused("walk_in_closed", "This site takes no walk-ins.")
        return lane.prefix
    regular = settings.lane_of_kind(LaneKind.REGULAR)
    assert regular is not None  # guaranteed by the schema
    return regular.prefix


# --- calling -----------------------------------------------------------------------------


def choose_next(
    heads: Sequence[LaneHead], weights: Mapping[str, float], now: datetime
) -> LaneHead | None:
    """Pick among lane heads: each waiting minute counts `weight` minutes, so no lane starves.

    A head's score is (minutes waited + 1) x lane weight; ties go to the earlier check-in.
    """
    if not heads:
        return None

    def score(head: LaneHead) -> tuple[float, datetime, int]:
        waited = max(0.0, (now - head.checked_in_at).total_seconds() / 60)
        return (-(waited + 1) * weights.get(head.lane, 1.0), head.checked_in_at, head.visit_id)

    return min(heads, key=score)


def call(visit: Visit, station: StationStatus, now: datetime) -> Visit:
    """Call a waiting person to a station."""
    if visit.state is not VisitState.CHECKED_IN:
        raise Refused("not_waiting", f"Ticket {visit.ticket} is not waiting ({visit.state}).")
    return replace(
        visit,
        state=VisitState.CALLED,
        station_id=station.station_id,
        called_at=now,
        call_count=visit.call_count + 1,
    )


def recall(visit: Visit, station: StationStatus, now: datetime) -> Visit:
    """Call again: repeat the announcement, or bring a skipped person back to this station."""
    if visit.state in CALLED_STATES:
        if visit.station_id != station.station_id:
            raise Refused("other_station", f"Ticket {visit.ticket} was called by another station.")
        return replace(visit, call_count=visit.call_count + 1, called_at=now)
    if visit.state is VisitState.SKIPPED:
        return replace(
            visit,
            state=VisitState.RECALLED,
            station_id=station.station_id,
            called_at=now,
            call_count=visit.call_count + 1,
        )
    raise Refused("not_recallable", f"Ticket {visit.ticket} cannot be recalled ({visit.state}).")


def skip(visit: Visit, call_repeat_limit: int, now: datetime) -> Visit:
    """The called person did not come: skipped, or a no-show once the call limit is reached."""
    if visit.state not in CALLED_STATES:
        raise Refused("not_called", f"Ticket {visit.ticket} is not being called ({visit.state}).")
    if visit.call_count >= call_repeat_limit:
        return replace(visit, state=VisitState.NO_SHOW, station_id=None, finished_at=now)
    return replace(visit, state=VisitState.SKIPPED, station_id=None)


def start_service(visit: Visit, station: StationStatus, now: datetime) -> Visit:
    """The person arrived at the station that called them."""
    if visit.state not in CALLED_STATES or visit.station_id != station.station_id:
        raise Refused(
            "not_called_here",
            f"Ticket {visit.ticket} was not called to station {station.station_id}.",
        )
    return replace(visit, state=VisitState.IN_SERVICE, service_started_at=now)


def record_dose(
    visit: Visit, station: StationStatus, observation_minutes: int, now: datetime
) -> Visit:
    """The dose is given: observation starts now and ends `observation_minutes` later."""
    if visit.state is not VisitState.IN_SERVICE or visit.station_id != station.station_id:
        raise Refused(
            "not_in_service",
            f"Ticket {visit.ticket} is not in service at station {station.station_id}.",
        )
    if station.product != visit.product:
        raise Refused(
            "product_mismatch",
            f"Station {station.station_id} has {station.product} loaded; "
            f"ticket {visit.ticket} is for {visit.product}.",
        )
    return replace(
        visit,
        state=VisitState.OBSERVING,
        dosed_at=now,
        observation_minutes=observation_minutes,
        observation_ends_at=now + timedelta(minutes=observation_minutes),
    )


def end_at_station(visit: Visit, state: VisitState, reason: str, now: datetime) -> Visit:
    """Defer (come back another day) or refer (doctor review) instead of a dose."""
    if state not in (VisitState.DEFERRED, VisitState.REFERRED):
        raise Invalid("bad_outcome", f"{state} is not a station outcome.")
    if visit.state not in AT_STATION_STATES:
        raise Refused("not_at_station", f"Ticket {visit.ticket} is not at a station.")
    if not reason.strip():
        raise Invalid("reason_required", "Say why (a reason code or a few words).")
    return replace(visit, state=state, reason=reason, finished_at=now)


def cancel(visit: Visit, reason: str, now: datetime) -> Visit:
    """Withdraw a check-in before the dose (kiosk timeout, person left the queue)."""
    if visit.state not in PRE_DOSE_STATES:
        raise Refused("not_cancellable", f"Ticket {visit.ticket} can no longer be cancelled.")
    return replace(visit, state=VisitState.CANCELLED, reason=reason, finished_at=now)


# --- observation -------------------------------------------------------------------------


def observation_remaining(visit: Visit, now: datetime) -> timedelta:
    """Time left before the person may leave; zero once `ends_at` has passed."""
    if visit.observation_ends_at is None:
        raise Refused("not_observing", f"Ticket {visit.ticket} has no observation running.")
    return max(timedelta(0), visit.observation_ends_at - now)


def may_leave(visit: Visit, now: datetime) -> bool:
    """Observed long enough and no adverse reaction open."""
    return (
        visit.state in OBSERVATION_STATES
        and not visit.adverse_open
        and observation_remaining(visit, now) == timedelta(0)
    )


def release(visit: Visit, now: datetime) -> Visit:
    """Let the person go: only at or after `ends_at`, and never with an open adverse flag."""
    if visit.state not in OBSERVATION_STATES:
        raise Refused("not_observing", f"Ticket {visit.ticket} is not in observation.")
    if visit.adverse_open:
        raise Refused("adverse_open", f"Ticket {visit.ticket} has an open adverse reaction.")
    left = observation_remaining(visit, now)
    if left > timedelta(0):
        minutes = math.ceil(left.total_seconds() / 60)
        raise Refused(
            "observation_not_finished",
            f"Ticket {visit.ticket} must stay {minutes} more minute(s).",
            remaining_seconds=math.ceil(left.total_seconds()),
        )
    return replace(visit, state=VisitState.RELEASED, finished_at=now)


def leave_early(visit: Visit, reason: str, now: datetime) -> Visit:
    """Staff record that the person left before their observation ended."""
    if visit.state not in OBSERVATION_STATES:
        raise Refused("not_observing", f"Ticket {visit.ticket} is not in observation.")
    return replace(visit, state=VisitState.LEFT_EARLY, reason=reason or "left", finished_at=now)


def flag_adverse(visit: Visit) -> Visit:
    """An adverse reaction: release is held until staff resolve it."""
    if visit.state not in OBSERVATION_STATES:
        raise Refused("not_observing", f"Ticket {visit.ticket} is not in observation.")
    if visit.adverse_open:
        raise Refused("already_flagged", f"Ticket {visit.ticket} is already flagged.")
    return replace(visit, adverse_open=True)


def resolve_adverse(visit: Visit, outcome: AdverseOutcome, now: datetime) -> Visit:
    """Close the flag: back to observation, or transferred (to hospital) and finished."""
    if not visit.adverse_open:
        raise Refused("not_flagged", f"Ticket {visit.ticket} has no open adverse reaction.")
    if outcome is AdverseOutcome.TRANSFERRED:
        return replace(visit, adverse_open=False, state=VisitState.TRANSFERRED, finished_at=now)
    return replace(visit, adverse_open=False)


def withdraw_adverse(visit: Visit, flagged_at: datetime, same_device: bool, now: datetime) -> Visit:
    """Take back a reaction flagged by mistake: only from the device that flagged it and
    within `WITHDRAW_SECONDS` of the flag; the person is back in plain observation."""
    if not visit.adverse_open:
        raise Refused("not_flagged", f"Ticket {visit.ticket} has no open adverse reaction.")
    if not same_device:
        raise Refused(
            "withdraw_other_device", f"Ticket {visit.ticket} was flagged on another device."
        )
    if (now - flagged_at).total_seconds() > WITHDRAW_SECONDS:
        raise Refused(
            "withdraw_too_late",
            f"The reaction of ticket {visit.ticket} was flagged over a minute ago.",
        )
    return replace(visit, adverse_open=False)


# --- stations ----------------------------------------------------------------------------


def open_station(
    station: StationStatus,
    settings: Settings,
    product: str,
    lot: str,
    vaccinator: str,
    now: datetime,
) -> StationStatus:
    """Open (or reload) a station with one product and lot; it must be allowed to give it."""
    config = settings.station(station.station_id)
    if config is None:
        raise Invalid("unknown_station", f"There is no station {station.station_id}.")
    if product not in config.products:
        raise Invalid(
            "product_not_allowed",
            f"Station {station.station_id} cannot give {product}; "
            f"it gives {', '.join(config.products)}.",
        )
    if not lot.strip():
        raise Invalid("lot_required", "Enter the lot number of the vials loaded.")
    if not vaccinator.strip():
        raise Invalid("vaccinator_required", "Sign in the vaccinator first.")
    if station.visit_id is not None:
        raise Refused("station_busy", "Finish the current person before reloading the station.")
    return replace(
        station,
        state=StationState.OPEN,
        product=product,
        lot=lot.strip(),
        vaccinator=vaccinator.strip(),
        changed_at=now,
    )


def set_station_state(station: StationStatus, state: StationState, now: datetime) -> StationStatus:
    """Pause, resume or close; a station keeps its current person until they are finished."""
    if state is StationState.OPEN and station.product is None:
        raise Refused("station_not_loaded", "Open the station with a product and lot first.")
    if state is StationState.CLOSED and station.visit_id is not None:
        raise Refused("station_busy", "Finish or skip the current person before closing.")
    if state is StationState.CLOSED:
        return replace(
            station, state=state, product=None, lot=None, vaccinator=None, changed_at=now
        )
    return replace(station, state=state, changed_at=now)


def require_free_open_station(station: StationStatus) -> None:
    """Calling next needs an open station with nobody at it."""
    if station.state is not StationState.OPEN:
        raise Refused("station_not_open", f"Station {station.station_id} is {station.state}.")
    if station.visit_id is not None:
        raise Refused(
            "station_busy", f"Station {station.station_id} is still calling or serving someone."
        )


# --- estimates ---------------------------------------------------------------------------


def estimate_waits(
    waiting: Mapping[str, int],
    weights: Mapping[str, float],
    service_minutes: Iterable[float],
    open_stations: int,
    default_service_minutes: float,
) -> dict[str, int]:
    """Minutes a newcomer to each lane would wait, from recent service times.

    Stations share their calls between lanes roughly in proportion to weight x people
    waiting, so a newcomer's lane gets that share of all open stations' throughput.
    """
    samples = [m for m in service_minutes if m > 0]
    mean = sum(samples) / len(samples) if samples else default_service_minutes
    stations = max(open_stations, 1)
    pressure = {lane: weights.get(lane, 1.0) * count for lane, count in waiting.items()}
    total = sum(pressure.values())
    out: dict[str, int] = {}
    for lane, count in waiting.items():
        mine = weights.get(lane, 1.0) * (count + 1)
        share = mine / (total - pressure[lane] + mine)
        out[lane] = math.ceil((count + 1) * mean / (stations * share))
    return out
