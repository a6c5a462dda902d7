"""Read-only queries behind the boards, the dashboard, the marshal's stats and certificates.

Reads only: the writes live in repo.py and writer.py. Rows come back as SQLAlchemy rows
(attribute access by column name) or records of the core; the views that shape them for
people are in `queue/ops/boards.py` and `queue/ops/service.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, bindparam, func, or_, select

from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.model import (
    CALLED_STATES,
    FINAL_STATES,
    OBSERVATION_STATES,
    Visit,
    VisitState,
)
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.prepared import Prepared
from vaxflow.queue.store.records import day_bounds, seq_window
from vaxflow.queue.store.repo import WALK_IN_PLACES, visit_from_row

#: Kind of the event that records the marshal's walk-in capacity for the day.
WALK_IN_CAPACITY_EVENT = EventKind.WALK_IN_CAPACITY_SET


def last_seq(conn: Connection, site_id: str) -> int:
    """The newest event number: a snapshot read with it lets a feed resume exactly after it."""
    value = conn.execute(
        select(func.max(t.events.c.seq)).where(t.events.c.site_id == site_id)
    ).scalar()
    return int(value or 0)


def last_event_at(conn: Connection, site_id: str) -> datetime | None:
    """When the newest event happened (served time): a restarted server never starts before
    it, whatever its wall clock says (issue 18)."""
    row = conn.execute(
        select(t.events.c.at)
        .where(t.events.c.site_id == site_id)
        .order_by(t.events.c.seq.desc())
        .limit(1)
    ).first()
    return None if row is None else row[0]


def observing_count(conn: Connection, site_id: str) -> int:
    value = conn.execute(
        select(func.count())
        .select_from(t.visits)
        .where(
            t.visits.c.site_id == site_id,
            t.visits.c.state.in_([s.value for s in OBSERVATION_STATES]),
        )
    ).scalar()
    return int(value or 0)


def observation_rows(conn: Connection, site_id: str) -> Iterable[Row[Any]]:
    """Everyone in observation, soonest end first: only the columns a board shows."""
    v = t.visits
    return conn.execute(
        select(
            v.c.id,
            v.c.ticket,
            v.c.lane,
            v.c.state,
            v.c.product,
            v.c.person_name,
            v.c.station_id,
            v.c.call_count,
            v.c.observation_ends_at,
            v.c.adverse_open,
            v.c.print_failed,
        )
        .where(v.c.site_id == site_id, v.c.state.in_([s.value for s in OBSERVATION_STATES]))
        .order_by(v.c.observation_ends_at)
    )


def observation_visits(conn: Connection, site_id: str) -> list[Visit]:
    """Everyone in observation, soonest end first, as whole visits."""
    rows = conn.execute(
        select(t.visits)
        .where(
            t.visits.c.site_id == site_id,
            t.visits.c.state.in_([s.value for s in OBSERVATION_STATES]),
        )
        .order_by(t.visits.c.observation_ends_at)
    )
    return [visit_from_row(row) for row in rows]


def _here(day: date, carry: engine.Carry | None) -> ColumnElement[bool]:
    """Visits of the open day, and with `carry` those carried over from the day before (the
    caller filters out finished states)."""
    v = t.visits
    if carry is None:
        return v.c.site_day == day
    # `site_day IN` keeps the (site, day, state, ...) index in use; an OR of the two days
    # made SQLite scan every day's visits of the site.
    return and_(
        v.c.site_day.in_([carry.day, day]),
        or_(v.c.site_day == day, v.c.checked_in_at >= carry.since),
    )


def recent_calls(
    conn: Connection, site_id: str, day: date, limit: int, carry: engine.Carry | None = None
) -> list[Visit]:
    """The people being called today (and carried over from the day before), newest first."""
    v = t.visits
    called = v.c.state.in_([s.value for s in CALLED_STATES])
    of_day = _here(day, carry)
    rows = conn.execute(
        select(v)
        .where(v.c.site_id == site_id, of_day, called)
        .order_by(v.c.called_at.desc())
        .limit(limit)
    )
    return [visit_from_row(row) for row in rows]


def carried_over_counts(
    conn: Connection, site_id: str, carry: engine.Carry
) -> list[tuple[str, str, int]]:
    """Unfinished visits carried over from the day before, counted by (state, lane)."""
    v = t.visits
    rows = conn.execute(
        select(v.c.state, v.c.lane, func.count())
        .where(
            v.c.site_id == site_id,
            v.c.site_day == carry.day,
            # the unfinished states by name: seeks in the (site, day, state) index, where
            # NOT IN read the whole day (1 ms for 5,000 visits, benchmarks/day_turn.py)
            v.c.state.in_(sorted(s.value for s in VisitState if s not in FINAL_STATES)),
            v.c.checked_in_at >= carry.since,
        )
        .group_by(v.c.state, v.c.lane)
    )
    return [(state, lane, count) for state, lane, count in rows]


_LATEST_CAPACITY = Prepared(
    select(t.events.c.payload)
    .where(
        t.events.c.site_id == bindparam("site_id"),
        t.events.c.kind == WALK_IN_CAPACITY_EVENT,
        t.events.c.at >= bindparam("start"),
        t.events.c.at < bindparam("end"),
    )
    .order_by(t.events.c.seq.desc())
    .limit(1)
)


def walk_in_capacity(conn: Connection, settings: Settings, site_id: str, day: date) -> int:
    """Today's walk-in capacity: the marshal's latest setting for the day, else the site file's.

    Read on every walk-in check-in; found through the (site, kind, seq) index.
    """
    start, end = day_bounds(day, settings.site.timezone, settings.site.day_turns_at)
    payload = _LATEST_CAPACITY.scalar(conn, {"site_id": site_id, "start": start, "end": end})
    if payload is None:
        return settings.walk_in.daily_capacity
    return int(json.loads(payload)["capacity"])


def dose_of_visit(conn: Connection, site_id: str, visit_id: int) -> Row[Any] | None:
    """A visit's dose with the person's name, ID number and ticket; None without a dose."""
    return conn.execute(
        select(t.doses, t.visits.c.person_name, t.visits.c.id_number, t.visits.c.ticket)
        .join(t.visits, t.visits.c.id == t.doses.c.visit_id)
        .where(t.doses.c.site_id == site_id, t.doses.c.visit_id == visit_id)
    ).first()


def dose_struck(conn: Connection, site_id: str, dose_id: int) -> Row[Any, Any, Any] | None:
    """When, by whom and why a dose was struck out; None when it stands (or is unknown)."""
    d = t.doses
    return conn.execute(
        select(d.c.struck_at, d.c.struck_by, d.c.struck_reason).where(
            d.c.site_id == site_id, d.c.id == dose_id, d.c.struck_at.is_not(None)
        )
    ).first()


# --- the marshal's dashboard and stats ---------------------------------------------------


def called_since(conn: Connection, site_id: str, day: date, since: datetime) -> list[Row[Any]]:
    """Lane, check-in and call time of everyone called today since `since`."""
    v = t.visits
    return list(
        conn.execute(
            select(v.c.lane, v.c.checked_in_at, v.c.called_at).where(
                v.c.site_id == site_id,
                v.c.site_day == day,
                v.c.called_at.is_not(None),
                v.c.called_at >= since,
            )
        )
    )


def oldest_waiting(
    conn: Connection, site_id: str, day: date, carry: engine.Carry | None = None
) -> dict[str, datetime]:
    """Each lane's earliest check-in among the people still waiting (carried over too)."""
    v = t.visits
    waiting = conn.execute(
        select(v.c.lane, func.min(v.c.checked_in_at))
        .where(
            v.c.site_id == site_id,
            _here(day, carry),
            v.c.state == VisitState.CHECKED_IN.value,
        )
        .group_by(v.c.lane)
    ).all()
    return {lane: first for lane, first in waiting}


def doses_since(conn: Connection, site_id: str, start: datetime) -> list[tuple[str, datetime]]:
    """Station and time of every dose given since `start`."""
    d = t.doses
    rows = conn.execute(
        select(d.c.station_id, d.c.given_at).where(d.c.site_id == site_id, d.c.given_at >= start)
    )
    return [(station_id, given_at) for station_id, given_at in rows]


def open_adverse(conn: Connection, site_id: str) -> list[Row[Any]]:
    """Reactions flagged and not resolved, oldest first, with the person's ticket, name and
    the station that dosed them."""
    a, v = t.adverse_events, t.visits
    return list(
        conn.execute(
            select(
                a.c.visit_id,
                a.c.kind,
                a.c.severity,
                a.c.flagged_at,
                v.c.ticket,
                v.c.station_id,
                v.c.person_name,
            )
            .join(v, v.c.id == a.c.visit_id)
            .where(a.c.site_id == site_id, a.c.outcome.is_(None))
            .order_by(a.c.flagged_at)
        )
    )


def no_shows(conn: Connection, site_id: str, day: date, limit: int) -> list[Row[Any]]:
    """Today's latest no-shows, newest first."""
    v = t.visits
    return list(
        conn.execute(
            select(v.c.id, v.c.ticket, v.c.finished_at)
            .where(
                v.c.site_id == site_id,
                v.c.site_day == day,
                v.c.state == VisitState.NO_SHOW.value,
            )
            .order_by(v.c.finished_at.desc())
            .limit(limit)
        )
    )


def skipped(
    conn: Connection, site_id: str, day: date, limit: int, carry: engine.Carry | None = None
) -> list[Row[Any]]:
    """Today's skipped people (they may be recalled; carried over ones first), in order."""
    v = t.visits
    return list(
        conn.execute(
            select(v.c.id, v.c.ticket)
            .where(
                v.c.site_id == site_id,
                _here(day, carry),
                v.c.state == VisitState.SKIPPED.value,
            )
            .order_by(v.c.id)
            .limit(limit)
        )
    )


def visit_counts(conn: Connection, site_id: str, day: date) -> list[tuple[str, str, int]]:
    """Today's visits counted by (state, lane)."""
    rows = conn.execute(
        select(t.visits.c.state, t.visits.c.lane, func.count())
        .where(t.visits.c.site_id == site_id, t.visits.c.site_day == day)
        .group_by(t.visits.c.state, t.visits.c.lane)
    )
    return [(state, lane, count) for state, lane, count in rows]


def tickets_issued(conn: Connection, site_id: str, day: date) -> int:
    """Tickets issued today in every lane (the walk-in places counter is not a lane)."""
    issued = conn.execute(
        select(func.coalesce(func.sum(t.ticket_counters.c.last_number), 0)).where(
            t.ticket_counters.c.site_id == site_id,
            t.ticket_counters.c.site_day == day,
            t.ticket_counters.c.lane != WALK_IN_PLACES,
        )
    ).scalar_one()
    return int(issued)


def device_rows(conn: Connection, site_id: str) -> list[Row[Any]]:
    """Every device's latest health report, by device id."""
    return list(
        conn.execute(
            select(t.device_health)
            .where(t.device_health.c.site_id == site_id)
            .order_by(t.device_health.c.device_id)
        )
    )


# --- certificates ------------------------------------------------------------------------


_FIRST_OF_KIND = Prepared(
    select(t.events.c.seq)
    .where(
        t.events.c.site_id == bindparam("site_id"),
        t.events.c.visit_id == bindparam("visit_id"),
        t.events.c.kind == bindparam("kind"),
    )
    .limit(1)
)


def first_event_of(conn: Connection, site_id: str, visit_id: int, kind: str) -> int | None:
    """The number of the first event of `kind` about this visit; None when there is none."""
    row = _FIRST_OF_KIND.first(conn, {"site_id": site_id, "visit_id": visit_id, "kind": kind})
    return None if row is None else int(row.seq)


def day_visit_events(
    conn: Connection, settings: Settings, site_id: str, day: date, kinds: Iterable[str]
) -> list[Row[Any]]:
    """Today's events of these kinds about a visit, in order (read within the day's event
    numbers only): visit id, kind, time and payload."""
    first, last = seq_window(
        conn, site_id, *day_bounds(day, settings.site.timezone, settings.site.day_turns_at)
    )
    e = t.events
    return list(
        conn.execute(
            select(e.c.visit_id, e.c.kind, e.c.at, e.c.payload)
            .where(
                e.c.site_id == site_id,
                e.c.seq >= first,
                e.c.seq <= last,
                e.c.kind.in_(list(kinds)),
                e.c.visit_id.is_not(None),
            )
            .order_by(e.c.seq)
        )
    )


# --- lots --------------------------------------------------------------------------------


def lot_doses(
    conn: Connection, site_id: str, day: date, product: str | None
) -> list[tuple[str, str, int, datetime]]:
    """Today's doses by (product, lot) of one product or all: count and the last one's time."""
    d, v = t.doses, t.visits
    dosed = (
        select(d.c.product, d.c.lot, func.count().label("doses"), func.max(d.c.given_at))
        .select_from(d.join(v, v.c.id == d.c.visit_id))
        .where(d.c.site_id == site_id, v.c.site_id == site_id, v.c.site_day == day)
        .where(d.c.struck_at.is_(None))
        .group_by(d.c.product, d.c.lot)
    )
    if product is not None:
        dosed = dosed.where(d.c.product == product)
    return [(code, lot, doses, last) for code, lot, doses, last in conn.execute(dosed)]


def loaded_lots(
    conn: Connection, site_id: str, states: Iterable[str], product: str | None
) -> list[tuple[str, str | None, str, str]]:
    """The stations in `states` with a lot loaded (of one product or any), by station id:
    station id, product, lot and state."""
    s = t.stations
    loaded = select(s.c.station_id, s.c.product, s.c.lot, s.c.state).where(
        s.c.site_id == site_id, s.c.state.in_(list(states)), s.c.lot.is_not(None)
    )
    if product is not None:
        loaded = loaded.where(s.c.product == product)
    return [
        (station_id, code, lot, state)
        for station_id, code, lot, state in conn.execute(loaded.order_by(s.c.station_id))
    ]


# --- staff sign-in -----------------------------------------------------------------------


def events_since(
    conn: Connection, site_id: str, kinds: Iterable[str], since: datetime
) -> list[Row[Any]]:
    """Events of these kinds since `since`, in order: kind, time and payload."""
    e = t.events
    return list(
        conn.execute(
            select(e.c.kind, e.c.at, e.c.payload)
            .where(
                e.c.site_id == site_id,
                e.c.kind.in_(list(kinds)),
                e.c.at >= since,
            )
            .order_by(e.c.seq)
        )
    )
