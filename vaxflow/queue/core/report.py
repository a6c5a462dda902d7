"""The daily report's figures: pure functions of the day's rows, checked against the event log.

Everything here takes plain records (read by `vaxflow.queue.store.records`) and returns plain
records; no database, no files, no clock. The same figures are computed twice where the
event log allows it — once from the tables, once from the events — and `DailyReport.checks`
says whether they agree.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from vaxflow.queue.core import stats
from vaxflow.queue.core.events import CALLS, OBSERVATION_ENDS, EventKind

#: Age bands of the health authority's daily return, lower bound inclusive.
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "<18"),
    (18, "18-29"),
    (30, "30-39"),
    (40, "40-49"),
    (50, "50-59"),
    (60, "60-69"),
    (70, "70-79"),
    (80, "80+"),
)
UNKNOWN = "unknown"
#: Visit states that end the walk without a dose, and their event kinds (the same names).
OUTCOME_STATES = ("deferred", "referred", "no_show", "cancelled", "left_early", "transferred")
#: Event kinds that set a visit's `called_at`.
CALL_EVENTS = CALLS
#: Event kinds that end an observation.
END_EVENTS = OBSERVATION_ENDS
OCCUPANCY_STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class VisitRow:
    """What the report needs of one visit of the day."""

    site_id: str
    visit_id: int
    state: str
    product: str
    dose_number: int
    birth_date: date | None
    sex: str | None
    checked_in_at: datetime
    called_at: datetime | None
    station_id: str | None
    dosed_at: datetime | None
    finished_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class DoseRow:
    """One dose given (the `doses` table)."""

    site_id: str
    visit_id: int
    product: str
    manufacturer: str
    lot: str
    dose_number: int
    station_id: str
    vaccinator: str
    given_at: datetime


@dataclass(frozen=True)
class AdverseRow:
    """One adverse-reaction flag."""

    site_id: str
    visit_id: int
    kind: str
    severity: str
    outcome: str | None
    flagged_at: datetime


@dataclass(frozen=True)
class EventRow:
    """One event of a visit of the day."""

    site_id: str
    seq: int
    at: datetime
    kind: str
    visit_id: int | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class DayRows:
    """Everything the report is computed from."""

    day: date
    timezone: str
    sites: tuple[str, ...]
    as_of: datetime
    visits: Sequence[VisitRow]
    doses: Sequence[DoseRow]
    adverse: Sequence[AdverseRow]
    events: Sequence[EventRow]
    seats: dict[str, int] = field(default_factory=dict)  # observation seats by site
    site_names: dict[str, str] = field(default_factory=dict)
    struck: frozenset[int] = frozenset()
    """Visits whose dose was struck out as given in error (issue 15): not in `doses`, and
    their `dosed` events are not counted when the log is reconciled with the tables."""


@dataclass(frozen=True)
class DoseGroup:
    site_id: str
    product: str
    manufacturer: str
    dose_number: int
    age_band: str
    sex: str
    doses: int


@dataclass(frozen=True)
class HourFigures:
    """One local hour: doses given, check-ins, and waits of the people who checked in then."""

    hour: int
    checked_in: int
    doses: int
    doses_by_product: dict[str, int]
    waits: int
    wait_p50_minutes: float | None
    wait_p90_minutes: float | None


@dataclass(frozen=True)
class StationFigures:
    site_id: str
    station_id: str
    doses: int
    deferred: int
    referred: int
    service_p50_minutes: float | None
    first_dose: datetime | None
    last_dose: datetime | None

    @property
    def doses_per_hour(self) -> float | None:
        """Doses per hour between the station's first and last dose."""
        if self.first_dose is None or self.last_dose is None or self.doses < 2:
            return None
        hours = (self.last_dose - self.first_dose).total_seconds() / 3600
        return (self.doses - 1) / hours if hours > 0 else None


@dataclass(frozen=True)
class Occupancy:
    """People in observation over the day against the seats there are."""

    points: list[tuple[datetime, int]]
    seats: int | None
    peak: int
    peak_at: datetime | None
    minutes_over_seats: int


@dataclass(frozen=True)
class Check:
    """One figure computed from the tables and again from the event log."""

    name: str
    tables: Any
    events: Any

    @property
    def ok(self) -> bool:
        return bool(self.tables == self.events)


@dataclass(frozen=True)
class SiteSummary:
    site_id: str
    name: str
    checked_in: int
    doses: int
    deferred: int
    referred: int
    no_show: int
    adverse: int
    wait_p50_minutes: float | None
    wait_p90_minutes: float | None


@dataclass(frozen=True)
class DailyReport:
    day: date
    timezone: str
    sites: tuple[str, ...]
    site_names: dict[str, str]
    as_of: datetime
    totals: dict[str, int]
    dose_groups: list[DoseGroup]
    hours: list[HourFigures]
    stations: list[StationFigures]
    reasons: list[tuple[str, str, int]]  # (state, reason, visits)
    adverse: list[tuple[str, str, int]]  # (kind, severity, flags)
    adverse_outcomes: dict[str, int]
    occupancy: Occupancy
    per_site: list[SiteSummary]
    checks: list[Check]
    products: list[str]

    @property
    def reconciled(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def region(self) -> bool:
        return len(self.sites) > 1


# --- small pure helpers ------------------------------------------------------------------


def age_on(birth: date, day: date) -> int:
    """Completed years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_band(birth: date | None, day: date) -> str:
    if birth is None:
        return UNKNOWN
    age = age_on(birth, day)
    band = AGE_BANDS[0][1]
    for lower, name in AGE_BANDS:
        if age >= lower:
            band = name
    return band


def sex_label(sex: str | None) -> str:
    value = (sex or "").strip().lower()
    if value in ("m", "male", "男"):
        return "male"
    if value in ("f", "female", "女"):
        return "female"
    return UNKNOWN


def percentile(values: Sequence[float], q: float) -> float | None:
    """`stats.percentile` (the dashboard's too), to the hundredth of a minute."""
    value = stats.percentile(values, q)
    return None if value is None else round(value, 2)


def local_hour(at: datetime, zone: ZoneInfo) -> int:
    return at.astimezone(zone).hour


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _waits_by_hour(
    pairs: Iterable[tuple[datetime, datetime]], zone: ZoneInfo
) -> dict[int, list[float]]:
    """Waits in minutes (call − check-in), grouped by the local hour of check-in."""
    by_hour: dict[int, list[float]] = defaultdict(list)
    for checked_in, called in pairs:
        by_hour[local_hour(checked_in, zone)].append(_minutes(called - checked_in))
    return by_hour


def occupancy(
    intervals: Sequence[tuple[datetime, datetime]],
    seats: int | None,
    step: timedelta = OCCUPANCY_STEP,
) -> Occupancy:
    """People seated at each step: a person occupies a seat from the dose until they leave."""
    if not intervals:
        return Occupancy([], seats, 0, None, 0)
    starts, ends = sorted(a for a, _ in intervals), sorted(b for _, b in intervals)
    start = min(a for a, _ in intervals)
    end = max(b for _, b in intervals)
    start = start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)
    points: list[tuple[datetime, int]] = []
    at = start
    while at <= end + step:
        points.append((at, bisect_right(starts, at) - bisect_right(ends, at)))
        at += step
    peak_at, peak = max(points, key=lambda p: (p[1], -p[0].timestamp()))
    over = sum(1 for _, n in points if seats is not None and n > seats)
    return Occupancy(points, seats, peak, peak_at if peak else None, over * int(_minutes(step)))


# --- the report --------------------------------------------------------------------------


def build(rows: DayRows) -> DailyReport:
    """All the figures of one day (one site, or a region's sites), and their reconciliation."""
    latest = max((e.at for e in rows.events), default=rows.as_of)
    if latest > rows.as_of:  # figures cannot be as of a moment before their own data
        rows = replace(rows, as_of=latest)
    zone = ZoneInfo(rows.timezone)
    visits = {v.visit_id: v for v in rows.visits}
    states = Counter(v.state for v in rows.visits)

    groups: Counter[tuple[str, str, str, int, str, str]] = Counter()
    for d in rows.doses:
        visit = visits.get(d.visit_id)
        birth = visit.birth_date if visit else None
        sex = visit.sex if visit else None
        key = (
            d.site_id,
            d.product,
            d.manufacturer,
            d.dose_number,
            age_band(birth, rows.day),
            sex_label(sex),
        )
        groups[key] += 1
    dose_groups = [DoseGroup(*key, doses=n) for key, n in sorted(groups.items())]

    # hours: doses by hour of the dose, check-ins and waits by hour of check-in
    doses_by_hour: dict[int, Counter[str]] = defaultdict(Counter)
    for d in rows.doses:
        doses_by_hour[local_hour(d.given_at, zone)][d.product] += 1
    checkins_by_hour = Counter(local_hour(v.checked_in_at, zone) for v in rows.visits)
    wait_pairs = _table_waits(rows.visits)
    waits = _waits_by_hour(wait_pairs.values(), zone)
    hour_keys = sorted(set(doses_by_hour) | set(checkins_by_hour) | set(waits))
    hours = (
        [
            HourFigures(
                hour,
                checkins_by_hour.get(hour, 0),
                sum(doses_by_hour[hour].values()) if hour in doses_by_hour else 0,
                dict(sorted(doses_by_hour[hour].items())) if hour in doses_by_hour else {},
                len(waits.get(hour, [])),
                percentile(waits.get(hour, []), 50),
                percentile(waits.get(hour, []), 90),
            )
            for hour in range(hour_keys[0], hour_keys[-1] + 1)
        ]
        if hour_keys
        else []
    )

    stations = _stations(rows)
    reasons = Counter(
        (v.state, v.reason or "") for v in rows.visits if v.state in ("deferred", "referred")
    )
    adverse = Counter((a.kind, a.severity) for a in rows.adverse)
    outcomes = Counter(a.outcome or "open" for a in rows.adverse)
    seats = sum(rows.seats.get(s, 0) for s in rows.sites) or None
    occ = occupancy(_table_intervals(rows), seats)
    totals = {
        "checked_in": len(rows.visits),
        "doses": len(rows.doses),
        **{state: states.get(state, 0) for state in OUTCOME_STATES},
        "released": states.get("released", 0),
        "observing": states.get("observing", 0),
        "waiting": states.get("checked_in", 0) + states.get("skipped", 0),
        "adverse": len(rows.adverse),
    }
    report = DailyReport(
        day=rows.day,
        timezone=rows.timezone,
        sites=rows.sites,
        site_names=dict(rows.site_names),
        as_of=rows.as_of,
        totals=totals,
        dose_groups=dose_groups,
        hours=hours,
        stations=stations,
        reasons=[(s, r, n) for (s, r), n in sorted(reasons.items())],
        adverse=[(k, s, n) for (k, s), n in sorted(adverse.items())],
        adverse_outcomes=dict(sorted(outcomes.items())),
        occupancy=occ,
        per_site=_per_site(rows),
        checks=[],
        products=sorted({d.product for d in rows.doses}),
    )
    return replace(report, checks=reconcile(rows, report))


def _table_waits(visits: Iterable[VisitRow]) -> dict[int, tuple[datetime, datetime]]:
    return {v.visit_id: (v.checked_in_at, v.called_at) for v in visits if v.called_at is not None}


def _table_intervals(rows: DayRows) -> list[tuple[datetime, datetime]]:
    """Observation seats in use: from the dose to leaving (or to now, for who is still there)."""
    out = []
    for v in rows.visits:
        if v.dosed_at is None:
            continue
        end = v.finished_at if v.finished_at is not None else rows.as_of
        out.append((v.dosed_at, max(end, v.dosed_at)))
    return out


def _stations(rows: DayRows) -> list[StationFigures]:
    visits = {v.visit_id: v for v in rows.visits}
    doses: dict[tuple[str, str], list[DoseRow]] = defaultdict(list)
    for d in rows.doses:
        doses[(d.site_id, d.station_id)].append(d)
    ended: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for v in rows.visits:
        if v.station_id and v.state in ("deferred", "referred"):
            ended[(v.site_id, v.station_id)][v.state] += 1
    out = []
    for key in sorted(set(doses) | set(ended)):
        given = doses.get(key, [])
        service = [
            _minutes(d.given_at - called)
            for d in given
            if (called := getattr(visits.get(d.visit_id), "called_at", None)) is not None
        ]
        times = sorted(d.given_at for d in given)
        out.append(
            StationFigures(
                *key,
                doses=len(given),
                deferred=ended[key]["deferred"],
                referred=ended[key]["referred"],
                service_p50_minutes=percentile(service, 50),
                first_dose=times[0] if times else None,
                last_dose=times[-1] if times else None,
            )
        )
    return out


def _per_site(rows: DayRows) -> list[SiteSummary]:
    out = []
    for site in rows.sites:
        visits = [v for v in rows.visits if v.site_id == site]
        states = Counter(v.state for v in visits)
        waits = [_minutes(b - a) for a, b in _table_waits(visits).values()]
        out.append(
            SiteSummary(
                site,
                rows.site_names.get(site, site),
                len(visits),
                sum(1 for d in rows.doses if d.site_id == site),
                states.get("deferred", 0),
                states.get("referred", 0),
                states.get("no_show", 0),
                sum(1 for a in rows.adverse if a.site_id == site),
                percentile(waits, 50),
                percentile(waits, 90),
            )
        )
    return out


# --- reconciliation with the event log ---------------------------------------------------


def reconcile(rows: DayRows, report: DailyReport) -> list[Check]:
    """Recompute what the event log can tell and compare it with the figures from the tables."""
    zone = ZoneInfo(rows.timezone)
    events = sorted(rows.events, key=lambda e: e.seq)
    kinds = Counter(e.kind for e in events)
    dosed = [e for e in events if e.kind == EventKind.DOSED and e.visit_id not in rows.struck]

    checked_in_at: dict[int, datetime] = {}
    called_at: dict[int, datetime] = {}
    dosed_at: dict[int, datetime] = {}
    ended_at: dict[int, datetime] = {}
    for e in events:
        if e.visit_id is None:
            continue
        if e.kind == EventKind.CHECKED_IN:
            checked_in_at[e.visit_id] = e.at
        elif e.kind in CALL_EVENTS:
            called_at[e.visit_id] = e.at  # the latest call, as the visit records it
        elif e.kind == EventKind.DOSED:
            dosed_at[e.visit_id] = e.at
        elif e.kind in END_EVENTS and e.visit_id in dosed_at:
            ended_at.setdefault(e.visit_id, e.at)

    event_waits = _waits_by_hour(
        ((checked_in_at[v], called_at[v]) for v in called_at if v in checked_in_at), zone
    )
    table_waits = _waits_by_hour(_table_waits(rows.visits).values(), zone)
    intervals = [(at, max(ended_at.get(v, rows.as_of), at)) for v, at in dosed_at.items()]
    event_occupancy = occupancy(intervals, report.occupancy.seats)

    def by(items: Iterable[Any]) -> dict[Any, int]:
        return dict(sorted(Counter(items).items()))

    return [
        Check("check-ins", report.totals["checked_in"], kinds.get(EventKind.CHECKED_IN, 0)),
        Check(
            "check-ins by hour",
            {h.hour: h.checked_in for h in report.hours if h.checked_in},
            by(local_hour(at, zone) for at in checked_in_at.values()),
        ),
        Check("releases", report.totals["released"], kinds.get(EventKind.RELEASED, 0)),
        Check("doses", report.totals["doses"], len(dosed)),
        Check(
            "doses by product",
            by(d.product for d in rows.doses),
            by(e.payload.get("product") for e in dosed),
        ),
        Check(
            "doses by station",
            by((d.site_id, d.station_id) for d in rows.doses),
            by((e.site_id, e.payload.get("station_id")) for e in dosed),
        ),
        Check(
            "doses by lot",
            by(d.lot for d in rows.doses),
            by(e.payload.get("lot") for e in dosed),
        ),
        Check(
            "doses by hour",
            {h.hour: h.doses for h in report.hours if h.doses},
            by(local_hour(e.at, zone) for e in dosed),
        ),
        *(
            Check(state.replace("_", "-") + "s", report.totals[state], kinds.get(state, 0))
            for state in ("deferred", "referred", "no_show", "cancelled")
        ),
        Check(
            "waits p50/p90 by hour",
            {
                h: (percentile(w, 50), percentile(w, 90), len(w))
                for h, w in sorted(table_waits.items())
            },
            {
                h: (percentile(w, 50), percentile(w, 90), len(w))
                for h, w in sorted(event_waits.items())
            },
        ),
        Check(
            "adverse reactions by type and severity",
            {(k, s): n for k, s, n in report.adverse},
            by(
                (e.payload.get("adverse"), e.payload.get("severity"))
                for e in events
                if e.kind == EventKind.ADVERSE_FLAGGED
            ),
        ),
        Check(
            "observation peak",
            (report.occupancy.peak, report.occupancy.peak_at),
            (event_occupancy.peak, event_occupancy.peak_at),
        ),
    ]


# --- the CSV -----------------------------------------------------------------------------

CSV_COLUMNS = (
    "section",
    "site_id",
    "product",
    "manufacturer",
    "dose_number",
    "age_band",
    "sex",
    "hour",
    "station_id",
    "category",
    "detail",
    "metric",
    "value",
)


def csv_rows(report: DailyReport) -> list[dict[str, Any]]:
    """The report as long-form rows (one figure a row) under `CSV_COLUMNS`."""
    site = ",".join(report.sites)
    out: list[dict[str, Any]] = []

    def row(section: str, metric: str, value: Any, **keys: Any) -> None:
        out.append(
            {
                "section": section,
                "site_id": keys.pop("site_id", site),
                **keys,
                "metric": metric,
                "value": "" if value is None else value,
            }
        )

    for name, value in report.totals.items():
        row("totals", name, value)
    for g in report.dose_groups:
        row(
            "doses",
            "doses",
            g.doses,
            site_id=g.site_id,
            product=g.product,
            manufacturer=g.manufacturer,
            dose_number=g.dose_number,
            age_band=g.age_band,
            sex=g.sex,
        )
    for h in report.hours:
        hour = f"{h.hour:02d}:00"
        row("hourly", "checked_in", h.checked_in, hour=hour)
        for product, n in h.doses_by_product.items():
            row("hourly", "doses", n, hour=hour, product=product)
        row("hourly", "waits", h.waits, hour=hour)
        row("hourly", "wait_p50_minutes", h.wait_p50_minutes, hour=hour)
        row("hourly", "wait_p90_minutes", h.wait_p90_minutes, hour=hour)
    for s in report.stations:
        for metric in ("doses", "deferred", "referred", "service_p50_minutes"):
            row("stations", metric, getattr(s, metric), site_id=s.site_id, station_id=s.station_id)
        rate = s.doses_per_hour
        row(
            "stations",
            "doses_per_hour",
            None if rate is None else round(rate, 2),
            site_id=s.site_id,
            station_id=s.station_id,
        )
    for state, reason, n in report.reasons:
        row("outcomes", "visits", n, category=state, detail=reason)
    for kind, severity, n in report.adverse:
        row("adverse", "flags", n, category=kind, detail=severity)
    for outcome, n in report.adverse_outcomes.items():
        row("adverse_outcomes", "flags", n, category=outcome)
    for at, n in report.occupancy.points:
        hour = at.astimezone(ZoneInfo(report.timezone)).strftime("%H:%M")
        row("observation", "occupied", n, hour=hour)
    row("observation", "seats", report.occupancy.seats)
    row("observation", "peak", report.occupancy.peak)
    row("observation", "minutes_over_seats", report.occupancy.minutes_over_seats)
    for summary in report.per_site:
        for metric in ("checked_in", "doses", "deferred", "referred", "no_show", "adverse"):
            row("sites", metric, getattr(summary, metric), site_id=summary.site_id)
    for check in report.checks:
        row("reconciliation", "agrees_with_event_log", int(check.ok), category=check.name)
    return [{column: r.get(column, "") for column in CSV_COLUMNS} for r in out]
