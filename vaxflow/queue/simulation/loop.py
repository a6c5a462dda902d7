"""The discrete-event loop: a heap of timed events, each person's every step through the engine.

The loop owns only what the server's store would own (which visits wait in which lane, which
station holds whom, who sits where) and asks `vaxflow.queue.core.engine` for every transition:
call, skip, recall, start_service, record_dose, end_at_station, flag/resolve, leave_early,
release. An engine refusal here is a bug in the simulator or the engine, so it is not
caught: the day stops with the engine's reason.

Observation chairs are the site's real bottleneck: a station calls the next person only when
a chair will be free for them. A chair is taken at the call (the person will need it after
the dose) and given back when the person leaves observation, or at once if they never get a
dose (no-show, deferred). While the chairs are full, stations stand idle even with people
waiting; `blocked` measures that time. Nobody is ever dosed without a chair.

Closing: the doors close `hours` after opening; nobody arrives after that, and everyone inside
is served to a final state. The day closes when the doors have closed and the last person is
out (the last event, usually a release), whichever is later.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum

from vaxflow.queue.core import engine
from vaxflow.queue.core.errors import Refused
from vaxflow.queue.core.model import (
    FINAL_STATES,
    OBSERVATION_STATES,
    AdverseOutcome,
    LaneHead,
    StationState,
    StationStatus,
    Visit,
    VisitState,
)
from vaxflow.queue.simulation.metrics import StepSeries
from vaxflow.queue.simulation.scenario import US_PER_MINUTE, Person, Scenario, Site

Progress = Callable[[float], None]


class SimulationError(RuntimeError):
    """The day did not end cleanly (someone left in a non-final state): a simulator bug."""


class _Ev(IntEnum):
    ARRIVE = 0
    KIOSK_DONE = 1
    AT_STATION = 2
    SERVICE_DONE = 3
    CALL_TIMEOUT = 4
    ADVERSE = 5
    RESOLVE = 6
    LEAVE = 7
    EXIT = 8


@dataclass
class Trace:
    """What happened: final visits, per-person times, and the counts over the day."""

    people: list[Person]
    visits: list[Visit | None]
    """By person index; None for a person refused at check-in."""
    kiosk_start_us: list[int]
    first_call_us: list[int]
    estimate_min: list[int]
    """The wait the ticket promised at check-in (engine.estimate_waits), minutes; -1 if none."""
    refused: dict[str, int]
    stations: list[StationStatus]
    queue: StepSeries = field(default_factory=StepSeries)
    kiosk_queue: StepSeries = field(default_factory=StepSeries)
    observing: StepSeries = field(default_factory=StepSeries)
    busy: StepSeries = field(default_factory=StepSeries)
    blocked: StepSeries = field(default_factory=StepSeries)
    closing_us: int = 0
    events: int = 0
    transitions: int = 0


def _holding(station: StationStatus, visit_id: int | None) -> StationStatus:
    """The station now holding `visit_id` (what the store saves); cheaper than replace()."""
    return StationStatus(
        station.site_id,
        station.station_id,
        station.state,
        station.product,
        station.lot,
        station.vaccinator,
        visit_id,
        station.changed_at,
    )


class DayLoop:
    """One simulated day on one site; `run()` once."""

    def __init__(
        self,
        site: Site,
        scenario: Scenario,
        people: list[Person],
        progress: Progress | None = None,
    ) -> None:
        self.site = site
        self.settings = site.settings
        self.scenario = scenario
        self.people = people
        self.progress = progress
        self.start = site.opens_at
        self.site_id = self.settings.site.id
        self.day = engine.site_day(
            self.start, self.settings.site.timezone, self.settings.site.day_turns_at
        )
        self.weights = {lane.prefix: lane.weight for lane in self.settings.lanes}
        self.call_limit = self.settings.queue.call_repeat_limit
        self.observation = {
            p.code: (
                scenario.observation_minutes
                if scenario.observation_minutes is not None
                else p.observation_minutes
            )
            for p in self.settings.products
        }
        n = len(people)
        self.trace = Trace(
            people=people,
            visits=[None] * n,
            kiosk_start_us=[-1] * n,
            first_call_us=[-1] * n,
            estimate_min=[-1] * n,
            refused={},
            stations=[],
        )
        self.now_us = 0
        self.now = self.start
        self._heap: list[tuple[int, int, _Ev, int]] = []
        self._seq = 0
        self.queues: dict[str, dict[str, deque[int]]] = {
            code: {lane.prefix: deque() for lane in self.settings.lanes}
            for code in self.observation
        }
        self.waiting = dict.fromkeys(self.observation, 0)
        self.free: dict[str, deque[int]] = {code: deque() for code in self.observation}
        self.free_since: list[int] = []
        self.holding: list[int] = []
        self.stations: list[StationStatus] = []
        self.reserved = 0
        self.kiosks_free = scenario.kiosks
        self.kiosk_line: deque[int] = deque()
        self.walk_ins = 0
        self.numbers: dict[str, int] = {}
        self.held_exits: set[int] = set()
        self.waiting_by_lane = {lane.prefix: 0 for lane in self.settings.lanes}
        self.recent: deque[tuple[int, float]] = deque(
            maxlen=self.settings.queue.service_sample_size
        )

    # --- the loop --------------------------------------------------------------------

    def _push(self, at_us: int, kind: _Ev, ref: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at_us, self._seq, kind, ref))

    def run(self) -> Trace:
        """Open the stations, play every event in time order, close, and check the day."""
        self._open_stations()
        for person in self.people:
            self._push(person.arrival_us, _Ev.ARRIVE, person.index)
        handlers: dict[_Ev, Callable[[int], None]] = {
            _Ev.ARRIVE: self._arrive,
            _Ev.KIOSK_DONE: self._kiosk_done,
            _Ev.AT_STATION: self._at_station,
            _Ev.SERVICE_DONE: self._service_done,
            _Ev.CALL_TIMEOUT: self._call_timeout,
            _Ev.ADVERSE: self._adverse,
            _Ev.RESOLVE: self._resolve,
            _Ev.LEAVE: self._leave,
            _Ev.EXIT: self._exit,
        }
        # A list indexed by kind: Enum members hash in Python code, list indexing does not.
        by_kind = [handlers[kind] for kind in sorted(_Ev)]
        doors_close = max(round(self.scenario.hours * 60 * US_PER_MINUTE), 1)
        heap, trace, progress, start = self._heap, self.trace, self.progress, self.start
        pop = heapq.heappop
        while heap:
            at_us, _, kind, ref = pop(heap)
            if at_us != self.now_us:
                self.now_us = at_us
                self.now = start + timedelta(microseconds=at_us)
            by_kind[kind](ref)
            trace.events += 1
            if progress is not None and not trace.events & 0xFFF:
                progress(min(at_us / doors_close, 1.0))
        self.now_us = max(self.now_us, doors_close)  # closing: doors shut and last one out
        self.now = start + timedelta(microseconds=self.now_us)
        trace.closing_us = self.now_us
        self._close()
        if progress is not None:
            progress(1.0)
        return trace

    def _open_stations(self) -> None:
        for index, config in enumerate(self.settings.stations):
            product = self.site.loads[index]
            closed = StationStatus(self.site_id, config.id, StationState.CLOSED)
            opened = engine.open_station(
                closed, self.settings, product, f"{product[:4]}-SIM", f"Nurse {config.id}", self.now
            )
            self.trace.transitions += 1
            self.stations.append(opened)
            self.holding.append(-1)
            self.free_since.append(0)
            self.free.setdefault(product, deque()).append(index)

    def _close(self) -> None:
        """Close every station through the engine (refused if one still held someone)."""
        for index, station in enumerate(self.stations):
            self.stations[index] = engine.set_station_state(station, StationState.CLOSED, self.now)
            self.trace.transitions += 1
        self.trace.stations = self.stations
        unfinished = [
            v.ticket for v in self.trace.visits if v is not None and v.state not in FINAL_STATES
        ]
        if unfinished or self.kiosk_line:
            raise SimulationError(
                f"the day closed with {len(unfinished)} visit(s) not finished "
                f"({', '.join(unfinished[:5])}) and {len(self.kiosk_line)} at the kiosks"
            )

    def _set(self, index: int, visit: Visit) -> None:
        self.trace.visits[index] = visit
        self.trace.transitions += 1

    def _visit(self, index: int) -> Visit:
        visit = self.trace.visits[index]
        assert visit is not None
        return visit

    # --- check-in --------------------------------------------------------------------

    def _arrive(self, p: int) -> None:
        if self.scenario.kiosks == 0:
            self._check_in(p)
        elif self.kiosks_free:
            self.kiosks_free -= 1
            self._start_kiosk(p)
        else:
            self.kiosk_line.append(p)
            self.trace.kiosk_queue.add(self.now_us, 1)

    def _start_kiosk(self, p: int) -> None:
        self.trace.kiosk_start_us[p] = self.now_us
        self._push(self.now_us + self.people[p].kiosk_us, _Ev.KIOSK_DONE, p)

    def _kiosk_done(self, p: int) -> None:
        if self.kiosk_line:
            self.trace.kiosk_queue.add(self.now_us, -1)
            self._start_kiosk(self.kiosk_line.popleft())
        else:
            self.kiosks_free += 1
        self._check_in(p)

    def _refuse(self, reason: str) -> None:
        self.trace.refused[reason] = self.trace.refused.get(reason, 0) + 1

    def _review(self, person: Person) -> bool:
        """People at or over the site's review age go to the review (or priority) lane."""
        review_age = self.settings.age.review_age_years
        return review_age is not None and person.age >= review_age

    def _check_in(self, p: int) -> None:
        """The kiosk issues a ticket; walk-ins only while the day's walk-in capacity lasts."""
        person = self.people[p]
        if person.walk_in and self.walk_ins >= self.site.walk_in_capacity:
            self._refuse("walk_in_full")
            return
        try:
            lane = engine.lane_for_check_in(
                self.settings, walk_in=person.walk_in, review=self._review(person)
            )
        except Refused as err:
            self._refuse(err.reason)
            return
        if person.walk_in:
            self.walk_ins += 1
        self.trace.estimate_min[p] = self._estimate(lane)
        number = self.numbers.get(lane, 0) + 1
        self.numbers[lane] = number
        self._set(
            p,
            Visit(
                id=p + 1,
                site_id=self.site_id,
                site_day=self.day,
                ticket=engine.format_ticket(lane, number),
                lane=lane,
                state=VisitState.CHECKED_IN,
                product=person.product,
                dose_number=1,
                person_name=f"Sim {p + 1}",
                id_number="",
                birth_date=None,
                booking_code=None if person.walk_in else f"SIM{p + 1:06d}",
                walk_in=person.walk_in,
                checked_in_at=self.now,
            ),
        )
        self.queues[person.product][lane].append(p)
        self.waiting[person.product] += 1
        self.waiting_by_lane[lane] += 1
        self.trace.queue.add(self.now_us, 1)
        self._dispatch()

    def _estimate(self, lane: str) -> int:
        """The wait a ticket shows, computed as the server does (last 2 h of call-to-dose)."""
        since = self.now_us - 120 * US_PER_MINUTE
        samples = [minutes for at, minutes in self.recent if at >= since]
        estimates = engine.estimate_waits(
            self.waiting_by_lane,
            self.weights,
            samples,
            len(self.stations),
            self.settings.queue.default_service_minutes,
        )
        return estimates[lane]

    # --- stations --------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Free stations call waiting people while chairs last; the longest-free station first."""
        seats = self.site.seats
        while seats is None or self.reserved < seats:
            best = -1
            for code, free in self.free.items():
                if free and self.waiting[code]:
                    s = free[0]
                    if best < 0 or (self.free_since[s], s) < (self.free_since[best], best):
                        best = s
            if best < 0:
                break
            self._call(best)
        self._update_blocked()

    def _update_blocked(self) -> None:
        seats = self.site.seats
        blocked = int(
            seats is not None
            and self.reserved >= seats
            and any(free and self.waiting[code] for code, free in self.free.items())
        )
        series = self.trace.blocked
        if blocked != series.current:
            series.add(self.now_us, blocked - series.current)

    def _call(self, s: int) -> None:
        station = self.stations[s]
        engine.require_free_open_station(station)
        product = self.site.loads[s]
        lanes = self.queues[product]
        visits = self.trace.visits
        heads = []
        for lane, line in lanes.items():
            if line:
                first = visits[line[0]]
                assert first is not None
                heads.append(LaneHead(first.id, lane, first.checked_in_at))
        head = engine.choose_next(heads, self.weights, self.now)
        assert head is not None
        p = lanes[head.lane].popleft()
        self.free[product].popleft()
        visit = engine.call(self._visit(p), station, self.now)
        self._set(p, visit)
        self.stations[s] = _holding(station, visit.id)
        self.holding[s] = p
        self.reserved += 1
        self.waiting[product] -= 1
        self.waiting_by_lane[head.lane] -= 1
        self.trace.first_call_us[p] = self.now_us
        self.trace.queue.add(self.now_us, -1)
        self.trace.busy.add(self.now_us, 1)
        person = self.people[p]
        if person.no_show:
            self._push(self.now_us + self._call_timeout_us, _Ev.CALL_TIMEOUT, s)
        else:
            self._push(self.now_us + person.walk_us, _Ev.AT_STATION, s)

    @property
    def _call_timeout_us(self) -> int:
        return round(self.scenario.call_timeout_minutes * US_PER_MINUTE)

    def _free_station(self, s: int) -> None:
        self.stations[s] = _holding(self.stations[s], None)
        self.holding[s] = -1
        self.free_since[s] = self.now_us
        self.free[self.site.loads[s]].append(s)
        self.trace.busy.add(self.now_us, -1)

    def _call_timeout(self, s: int) -> None:
        """Nobody came: skip; a skipped person is recalled until the call limit makes a no-show."""
        p = self.holding[s]
        skipped = engine.skip(self._visit(p), self.call_limit, self.now)
        self._set(p, skipped)
        if skipped.state is VisitState.NO_SHOW:
            self.reserved -= 1
            self._free_station(s)
            self._dispatch()
            return
        station = _holding(self.stations[s], None)
        engine.require_free_open_station(station)
        recalled = engine.recall(skipped, station, self.now)
        self._set(p, recalled)
        self.stations[s] = _holding(station, recalled.id)
        self._push(self.now_us + self._call_timeout_us, _Ev.CALL_TIMEOUT, s)

    def _at_station(self, s: int) -> None:
        p = self.holding[s]
        self._set(p, engine.start_service(self._visit(p), self.stations[s], self.now))
        self._push(self.now_us + self.people[p].service_us, _Ev.SERVICE_DONE, s)

    def _service_done(self, s: int) -> None:
        """Dose (observation starts now) or deferral; either way the station is free again."""
        p = self.holding[s]
        person = self.people[p]
        visit = self._visit(p)
        if person.defer:
            self._set(
                p, engine.end_at_station(visit, VisitState.DEFERRED, "deferred_sim", self.now)
            )
            self.reserved -= 1
        else:
            minutes = self.observation[visit.product]
            dosed = engine.record_dose(visit, self.stations[s], minutes, self.now)
            self._set(p, dosed)
            if dosed.called_at is not None:
                called_min = (self.now - dosed.called_at).total_seconds() / 60
                self.recent.append((self.now_us, called_min))
            self.trace.observing.add(self.now_us, 1)
            span = minutes * US_PER_MINUTE
            self._push(self.now_us + span + person.exit_us, _Ev.EXIT, p)
            if person.adverse_at is not None:
                self._push(self.now_us + round(person.adverse_at * span), _Ev.ADVERSE, p)
            if person.leave_at is not None:
                self._push(self.now_us + round(person.leave_at * span), _Ev.LEAVE, p)
        self._free_station(s)
        self._dispatch()

    # --- observation and exit --------------------------------------------------------

    def _leave_observation(self) -> None:
        self.trace.observing.add(self.now_us, -1)
        self.reserved -= 1
        self._dispatch()

    def _adverse(self, p: int) -> None:
        visit = self._visit(p)
        if visit.state in OBSERVATION_STATES and not visit.adverse_open:
            self._set(p, engine.flag_adverse(visit))
            self._push(self.now_us + self.people[p].adverse_us, _Ev.RESOLVE, p)

    def _resolve(self, p: int) -> None:
        transferred = self.people[p].transferred
        outcome = AdverseOutcome.TRANSFERRED if transferred else AdverseOutcome.RESOLVED
        self._set(p, engine.resolve_adverse(self._visit(p), outcome, self.now))
        if transferred:
            self._leave_observation()
        elif p in self.held_exits:
            self.held_exits.discard(p)
            self._push(self.now_us, _Ev.EXIT, p)

    def _leave(self, p: int) -> None:
        visit = self._visit(p)
        if visit.state in OBSERVATION_STATES and not visit.adverse_open:
            self._set(p, engine.leave_early(visit, "left_sim", self.now))
            self._leave_observation()

    def _exit(self, p: int) -> None:
        """The exit scan: the engine releases only at or after `ends_at` with no open flag."""
        visit = self._visit(p)
        if visit.state not in OBSERVATION_STATES:
            return  # left early or transferred
        if visit.adverse_open:
            self.held_exits.add(p)  # staff keep them; the exit is retried once resolved
            return
        self._set(p, engine.release(visit, self.now))
        self._leave_observation()


def run_day(
    site: Site, scenario: Scenario, people: list[Person], progress: Progress | None = None
) -> Trace:
    """Play one day; raises SimulationError (or the engine's Refused) if the day is inconsistent."""
    return DayLoop(site, scenario, people, progress).run()


def local_time(site: Site, at_us: int) -> datetime:
    """A simulated instant as the site's local time."""
    from zoneinfo import ZoneInfo

    return (site.opens_at + timedelta(microseconds=at_us)).astimezone(
        ZoneInfo(site.settings.site.timezone)
    )
