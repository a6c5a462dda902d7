"""Rows to records and back, and the queries the operations need; no decisions here."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, fields
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from vaxflow.queue.core import engine
from vaxflow.queue.core.errors import NotFound
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.model import (
    AdverseOutcome,
    LaneHead,
    StationState,
    StationStatus,
    Visit,
    VisitState,
)
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.prepared import Prepared

_VISIT_FIELDS = [f.name for f in fields(Visit)]


def visit_from_row(row: Any) -> Visit:
    data = {name: getattr(row, name) for name in _VISIT_FIELDS}
    data["state"] = VisitState(data["state"])
    return Visit(**data)


# Hot statements are built once with bind parameters: SQLAlchemy then reuses the compiled
# form without rebuilding cache keys, which measured about twice as fast per check-in.
# The ones every check-in or station call runs are `Prepared` (see prepared.py).
_GET_VISIT = Prepared(
    select(t.visits).where(
        t.visits.c.site_id == bindparam("site_id"), t.visits.c.id == bindparam("visit_id")
    )
)
_FIND_TICKET = Prepared(
    select(t.visits).where(
        t.visits.c.site_id == bindparam("site_id"),
        t.visits.c.site_day == bindparam("day"),
        t.visits.c.ticket == bindparam("ticket"),
    )
)
#: The columns a check-in sets; the others start empty.
VISIT_INSERT_COLUMNS = (
    "site_id",
    "site_day",
    "ticket",
    "lane",
    "number",
    "state",
    "product",
    "dose_number",
    "person_name",
    "id_number",
    "id_type",
    "birth_date",
    "sex",
    "booking_code",
    "walk_in",
    "checked_in_at",
    "call_count",
    "adverse_open",
    "print_failed",
    "device",
    "screening",
    "consent_version",
    "review_reasons",
    "dose_kind",
    "schedule_notes",
)
_INSERT_VISIT = Prepared(insert(t.visits).returning(t.visits.c.id), columns=VISIT_INSERT_COLUMNS)
_BUMP_COUNTER = Prepared(
    update(t.ticket_counters)
    .where(
        t.ticket_counters.c.site_id == bindparam("k_site"),
        t.ticket_counters.c.site_day == bindparam("k_day"),
        t.ticket_counters.c.lane == bindparam("k_lane"),
    )
    .values(last_number=t.ticket_counters.c.last_number + 1)
    .returning(t.ticket_counters.c.last_number)
)
_INSERT_COUNTER = insert(t.ticket_counters)
_READ_COUNTER = Prepared(
    select(t.ticket_counters.c.last_number).where(
        t.ticket_counters.c.site_id == bindparam("site_id"),
        t.ticket_counters.c.site_day == bindparam("day"),
        t.ticket_counters.c.lane == bindparam("lane"),
    )
)


def _last_day_word(kind: EventKind) -> Any:
    """The payload of the site's newest event of `kind`, by the (site, kind, seq) index."""
    return (
        select(t.events.c.payload)
        .where(t.events.c.site_id == bindparam("site_id"), t.events.c.kind == kind.value)
        .order_by(t.events.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


#: One statement: `kind IN (closed, opened)` walked every event of the site (57 ms on 200k).
_DAY_MARKS = Prepared(
    select(
        select(func.max(t.ticket_counters.c.site_day))
        .where(t.ticket_counters.c.site_id == bindparam("site_id"))
        .scalar_subquery()
        .label("numbered"),
        _last_day_word(EventKind.DAY_CLOSED).label("closed"),
        _last_day_word(EventKind.DAY_OPENED).label("opened"),
    )
)


@dataclass(frozen=True, slots=True)
class DayMarks:
    """What the site has written about its days: the newest day that issued a number and
    staff's last word (a day they closed, or a day they opened)."""

    numbered: date | None
    closed: date | None
    opened: date | None

    @property
    def floor(self) -> date | None:
        """The earliest the site day can be now: a clock set back never goes before it."""
        return max((d for d in (self.numbered, self.closed, self.opened) if d), default=None)


def day_marks(conn: Connection, site_id: str) -> DayMarks:
    """The newest numbered day and staff's last close or open (issue 18), in one prepared
    statement: it runs in every check-in and call (SQLAlchemy's own execution cost about
    0.3 ms a call, which halved the check-ins a second)."""
    row = _DAY_MARKS.first(conn, {"site_id": site_id})
    assert row is not None  # a SELECT without FROM: always one row
    numbered = closed = opened = None
    if row.numbered is not None:  # SQLite gives the text, PostgreSQL a date
        numbered = (
            row.numbered if isinstance(row.numbered, date) else date.fromisoformat(row.numbered)
        )
    if row.closed is not None:
        closed = date.fromisoformat(json.loads(row.closed)["day"])
    if row.opened is not None:
        opened = date.fromisoformat(json.loads(row.opened)["day"])
    # Staff's last word: an open is always of the day after the last close; a close is of
    # the open day, never before the last opened one.
    if closed is not None and (opened is None or closed >= opened):
        return DayMarks(numbered, closed, None)
    return DayMarks(numbered, None, opened)


def day_floor(conn: Connection, site_id: str) -> date | None:
    """The earliest the site day can be now: the newest day that issued a number, the day
    staff last closed (it stays the site day, closed, until the next one opens) or the day
    they last opened. A clock set back never goes before it (issue 18)."""
    return day_marks(conn, site_id).floor


def unfinished_visits(conn: Connection, site_id: str, day: date, final: frozenset[str]) -> int:
    """How many of a site day's visits are not in one of the `final` states yet."""
    count = conn.execute(
        select(func.count())
        .select_from(t.visits)
        .where(
            t.visits.c.site_id == site_id,
            t.visits.c.site_day == day,
            t.visits.c.state.not_in(final),
        )
    ).scalar()
    return int(count or 0)


def site_day(
    conn: Connection,
    site_id: str,
    now: datetime,
    timezone: str,
    turns_at: time = engine.DAY_TURNS_AT,
) -> date:
    """The open site day: `engine.site_day` (turning at the site file's `day_turns_at`),
    never before `day_floor`."""
    return engine.site_day(now, timezone, turns_at, floor=day_floor(conn, site_id))


def site_day_state(
    conn: Connection,
    site_id: str,
    now: datetime,
    timezone: str,
    turns_at: time = engine.DAY_TURNS_AT,
) -> tuple[date, bool]:
    """The open site day and whether staff have closed it (no check-ins until the next day
    opens, by the schedule's turn or by staff)."""
    marks = day_marks(conn, site_id)
    day = engine.site_day(now, timezone, turns_at, floor=marks.floor)
    return day, marks.closed == day


def get_visit(conn: Connection, site_id: str, visit_id: int) -> Visit:
    row = _GET_VISIT.first(conn, {"site_id": site_id, "visit_id": visit_id})
    if row is None:
        raise NotFound("unknown_visit", f"There is no visit {visit_id}.")
    return visit_from_row(row)


def find_ticket(conn: Connection, site_id: str, day: date, ticket: str) -> Visit | None:
    """The visit numbered `ticket` on site day `day`; None when the day has no such number."""
    row = _FIND_TICKET.first(conn, {"site_id": site_id, "day": day, "ticket": ticket.upper()})
    return visit_from_row(row) if row is not None else None


def insert_visit(conn: Connection, values: dict[str, Any]) -> int:
    key = _INSERT_VISIT.scalar(conn, values)
    assert isinstance(key, int)
    return key


def save_visit(conn: Connection, before: Visit, after: Visit) -> None:
    """Write the fields that changed."""
    changed = tuple(
        name
        for name in _VISIT_FIELDS
        if name != "id" and getattr(after, name) != getattr(before, name)
    )
    if changed:
        values: dict[str, Any] = {f"v_{name}": getattr(after, name) for name in changed}
        if "state" in changed:
            values["v_state"] = after.state.value
        values["k_id"] = after.id
        _update_visit(changed).run(conn, values)


@functools.lru_cache(maxsize=256)
def _update_visit(columns: tuple[str, ...]) -> Prepared:
    """One prepared UPDATE per set of changed columns (a station step changes the same few)."""
    return Prepared(
        update(t.visits)
        .where(t.visits.c.id == bindparam("k_id"))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


def allocate_number(conn: Connection, site_id: str, day: date, lane: str) -> int:
    """The next ticket number of a lane for a site day; the counter never goes back."""
    key = {"k_site": site_id, "k_day": day, "k_lane": lane}
    number = _BUMP_COUNTER.scalar(conn, key)
    if number is None:
        conn.execute(
            _INSERT_COUNTER, {"site_id": site_id, "site_day": day, "lane": lane, "last_number": 1}
        )
        return 1
    return int(number)


def issued_in_lane(conn: Connection, site_id: str, day: date, lane: str) -> int:
    """Tickets a lane has issued today (its counter: cancelled tickets still count)."""
    number = _READ_COUNTER.scalar(conn, {"site_id": site_id, "day": day, "lane": lane})
    return int(number or 0)


#: The counter row that counts walk-in places used, whatever lane the walk-in was sent to
#: (a walk-in of review age goes to the review lane but still takes a walk-in place).
WALK_IN_PLACES = "*"


def use_walk_in_place(conn: Connection, site_id: str, day: date) -> int:
    """Count one walk-in place used today; the number of places used so far."""
    return allocate_number(conn, site_id, day, WALK_IN_PLACES)


def walk_in_places_used(conn: Connection, site_id: str, day: date, walk_in_lane: str) -> int:
    """Walk-in places used today: every walk-in, in any lane. A day begun before this counter
    existed has only its walk-in lane's numbers, hence the larger of the two."""
    return max(
        issued_in_lane(conn, site_id, day, WALK_IN_PLACES),
        issued_in_lane(conn, site_id, day, walk_in_lane),
    )


_LANE_HEAD_QUERY = (
    select(t.visits.c.id, t.visits.c.checked_in_at)
    .where(
        t.visits.c.site_id == bindparam("site_id"),
        t.visits.c.site_day == bindparam("day"),
        t.visits.c.state == VisitState.CHECKED_IN.value,
        t.visits.c.lane == bindparam("lane"),
        t.visits.c.product == bindparam("product"),
    )
    .order_by(t.visits.c.checked_in_at, t.visits.c.id)
    .limit(1)
)
_LANE_HEAD = Prepared(_LANE_HEAD_QUERY)
#: The same, among people checked in at `since` or later (carried over from the day before).
_LANE_HEAD_SINCE = Prepared(_LANE_HEAD_QUERY.where(t.visits.c.checked_in_at >= bindparam("since")))
_WAITING_SINCE = Prepared(
    select(t.visits.c.id)
    .where(
        t.visits.c.site_id == bindparam("site_id"),
        t.visits.c.site_day == bindparam("day"),
        t.visits.c.state == VisitState.CHECKED_IN.value,
        t.visits.c.checked_in_at >= bindparam("since"),
    )
    .limit(1)
)


def lane_heads(
    conn: Connection,
    site_id: str,
    day: date,
    product: str,
    lanes: list[str],
    *,
    since: datetime | None = None,
) -> list[LaneHead]:
    """The oldest waiting person of each lane who wants `product` (checked in at `since` or
    later, when given)."""
    query = _LANE_HEAD if since is None else _LANE_HEAD_SINCE
    heads = []
    for lane in lanes:
        row = query.first(
            conn,
            {"site_id": site_id, "day": day, "lane": lane, "product": product, "since": since},
        )
        if row is not None:
            heads.append(LaneHead(row.id, lane, row.checked_in_at))
    return heads


def anyone_waiting_since(conn: Connection, site_id: str, day: date, since: datetime) -> bool:
    """Whether anyone of site day `day` checked in at `since` or later still waits (one index
    probe: call-next asks it of the day before on every call)."""
    return _WAITING_SINCE.first(conn, {"site_id": site_id, "day": day, "since": since}) is not None


# --- stations ----------------------------------------------------------------------------


_GET_STATION = Prepared(
    select(t.stations).where(
        t.stations.c.site_id == bindparam("site_id"),
        t.stations.c.station_id == bindparam("station_id"),
    )
)
_STATION_COLUMNS = tuple(f.name for f in fields(StationStatus))
_UPDATE_STATION = Prepared(
    update(t.stations)
    .where(
        t.stations.c.site_id == bindparam("k_site"),
        t.stations.c.station_id == bindparam("k_station"),
    )
    .values({name: bindparam(f"v_{name}") for name in _STATION_COLUMNS})
)
_INSERT_STATION = Prepared(insert(t.stations), columns=_STATION_COLUMNS)


def get_station(conn: Connection, site_id: str, station_id: str) -> StationStatus:
    row = _GET_STATION.first(conn, {"site_id": site_id, "station_id": station_id})
    if row is None:
        return StationStatus(site_id, station_id, StationState.CLOSED)
    return _station_from_row(row)


def all_stations(conn: Connection, site_id: str) -> dict[str, StationStatus]:
    rows = conn.execute(select(t.stations).where(t.stations.c.site_id == site_id))
    return {row.station_id: _station_from_row(row) for row in rows}


def _station_from_row(row: Row[Any]) -> StationStatus:
    return StationStatus(
        row.site_id,
        row.station_id,
        StationState(row.state),
        row.product,
        row.lot,
        row.vaccinator,
        row.visit_id,
        row.changed_at,
    )


def save_station(conn: Connection, station: StationStatus) -> None:
    values = {name: getattr(station, name) for name in _STATION_COLUMNS}
    values["state"] = station.state.value
    changed = {f"v_{name}": value for name, value in values.items()}
    changed.update(k_site=station.site_id, k_station=station.station_id)
    if _UPDATE_STATION.run(conn, changed) == 0:
        _INSERT_STATION.run(conn, values)


def recent_service_minutes(
    conn: Connection, site_id: str, since: datetime, limit: int
) -> list[float]:
    """Minutes from call to dose of the latest doses: what a station really takes per person."""
    rows = conn.execute(
        select(t.visits.c.called_at, t.visits.c.dosed_at)
        .where(
            t.visits.c.site_id == site_id,
            t.visits.c.dosed_at.is_not(None),
            t.visits.c.dosed_at >= since,
        )
        .order_by(t.visits.c.dosed_at.desc())
        .limit(limit)
    )
    return [
        (row.dosed_at - row.called_at).total_seconds() / 60
        for row in rows
        if row.called_at is not None
    ]


_LINK_BOOKING = Prepared(
    update(t.bookings)
    .where(t.bookings.c.site_id == bindparam("k_site"), t.bookings.c.code == bindparam("k_code"))
    .values(visit_id=bindparam("new_visit_id"))
)


def link_booking(conn: Connection, site_id: str, code: str, visit_id: int) -> None:
    _LINK_BOOKING.run(conn, {"k_site": site_id, "k_code": code, "new_visit_id": visit_id})


def visit_from_values(visit_id: int, values: dict[str, Any]) -> Visit:
    """The record just inserted, without reading it back."""
    data: dict[str, Any] = {name: values.get(name) for name in _VISIT_FIELDS}
    data["id"] = visit_id
    data["state"] = VisitState(values["state"])
    return Visit(**data)


# --- doses, reactions and devices ------------------------------------------------------


def insert_dose(conn: Connection, values: dict[str, Any]) -> None:
    """Record one dose given (site, visit, product, manufacturer, lot, dose number,
    vaccinator, station, time)."""
    conn.execute(insert(t.doses).values(**values))


def strike_dose(
    conn: Connection, site_id: str, dose_id: int, at: datetime, by: str, why: str
) -> None:
    """Mark a dose given in error as struck out (the row stays: the registries are told)."""
    d = t.doses
    conn.execute(
        update(d)
        .where(d.c.site_id == site_id, d.c.id == dose_id)
        .values(struck_at=at, struck_by=by, struck_reason=why)
    )


def insert_adverse(conn: Connection, values: dict[str, Any]) -> None:
    """Record one reaction flagged in observation."""
    conn.execute(insert(t.adverse_events).values(**values))


def resolve_adverse(
    conn: Connection, site_id: str, visit_id: int, outcome: str, at: datetime, by: str
) -> None:
    """Close this visit's open reactions with their outcome."""
    conn.execute(
        update(t.adverse_events)
        .where(
            t.adverse_events.c.site_id == site_id,
            t.adverse_events.c.visit_id == visit_id,
            t.adverse_events.c.outcome.is_(None),
        )
        .values(outcome=outcome, resolved_at=at, resolved_by=by)
    )


def open_reaction(
    conn: Connection, site_id: str, visit_id: int
) -> tuple[datetime, str, str | None] | None:
    """This visit's open reaction (the newest): when it was flagged, by whom and from which
    device (that of its `adverse_flagged` event); None without one."""
    a, e = t.adverse_events, t.events
    row = conn.execute(
        select(a)
        .where(a.c.site_id == site_id, a.c.visit_id == visit_id, a.c.outcome.is_(None))
        .order_by(a.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    device = conn.execute(
        select(e.c.device)
        .where(
            e.c.site_id == site_id,
            e.c.visit_id == visit_id,
            e.c.kind == EventKind.ADVERSE_FLAGGED.value,
        )
        .order_by(e.c.seq.desc())
        .limit(1)
    ).scalar()
    return row.flagged_at, row.flagged_by, device


def withdraw_adverse(conn: Connection, site_id: str, visit_id: int, at: datetime, by: str) -> None:
    """Mark this visit's open reactions withdrawn (flagged by mistake)."""
    resolve_adverse(conn, site_id, visit_id, AdverseOutcome.WITHDRAWN.value, at, by)


def save_device_health(conn: Connection, site_id: str, values: dict[str, Any]) -> str | None:
    """Keep a device's latest report (`values` with its device_id); the state it had before,
    None for a device not seen yet."""
    key = (t.device_health.c.site_id == site_id) & (
        t.device_health.c.device_id == values["device_id"]
    )
    previous = conn.execute(select(t.device_health.c.state).where(key)).scalar()
    if previous is None:
        conn.execute(insert(t.device_health).values(**values))
    else:
        conn.execute(update(t.device_health).where(key).values(**values))
    return None if previous is None else str(previous)


# --- one person, one ticket ---------------------------------------------------------------


#: What one-person-one-ticket needs of a visit (`ops/checkin.py` `_already_here`).
_HERE_COLUMNS = select(
    t.visits.c.id,
    t.visits.c.ticket,
    t.visits.c.state,
    t.visits.c.site_day,
    t.visits.c.checked_in_at,
)
_VISITS_OF_PERSON = Prepared(
    _HERE_COLUMNS.where(
        t.visits.c.id_number == bindparam("id_number"), t.visits.c.site_id == bindparam("site_id")
    )
)
_VISITS_OF_BOOKING = Prepared(
    _HERE_COLUMNS.where(
        t.visits.c.site_id == bindparam("site_id"), t.visits.c.booking_code == bindparam("code")
    )
)


def visits_of_person(conn: Connection, site_id: str, id_number: str) -> list[Any]:
    """Every visit of this ID number here (id, ticket, state, day, check-in), by its index."""
    return _VISITS_OF_PERSON.rows(conn, {"id_number": id_number, "site_id": site_id})


def visits_of_booking(conn: Connection, site_id: str, code: str) -> list[Any]:
    """Every visit of this booking here (id, ticket, state, day, check-in), by its index."""
    return _VISITS_OF_BOOKING.rows(conn, {"site_id": site_id, "code": code})


def latest_visit_of_person(
    conn: Connection, site_id: str, day: date, id_number: str
) -> Visit | None:
    """This ID number's latest visit of the day (the last checked in); None without one."""
    v = t.visits
    row = conn.execute(
        select(v)
        .where(v.c.id_number == id_number, v.c.site_id == site_id)
        .where(v.c.site_day == day)
        .order_by(v.c.checked_in_at.desc())
        .limit(1)
    ).first()
    return visit_from_row(row) if row is not None else None
