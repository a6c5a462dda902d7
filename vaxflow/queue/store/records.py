"""Reading a site day's records for the daily report and the registry exports (queries only)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select

from vaxflow.queue.core import engine
from vaxflow.queue.core.model import AdverseOutcome
from vaxflow.queue.core.report import AdverseRow, DayRows, DoseRow, EventRow, VisitRow
from vaxflow.queue.store import tables as t


@dataclass(frozen=True)
class DoseRecord:
    """One dose with the person it went into and the reactions flagged after it."""

    dose_id: int
    dose: DoseRow
    site_day: date
    ticket: str
    person_name: str
    id_type: str | None
    id_number: str
    birth_date: date | None
    sex: str | None
    reactions: tuple[AdverseRow, ...]
    struck_at: datetime | None = None
    """When the dose was struck out as given in error (issue 15); None: it stands."""


def sites_on(conn: Connection, day: date) -> list[str]:
    """Every site with visits on `day` (a regional database holds many)."""
    rows = conn.execute(
        select(t.visits.c.site_id).where(t.visits.c.site_day == day).distinct()
    ).scalars()
    return sorted(rows)


def _day_visits(day: date, sites: Sequence[str]) -> Select[Any]:
    return select(t.visits.c.id).where(t.visits.c.site_day == day, t.visits.c.site_id.in_(sites))


def day_bounds(
    day: date, timezone: str, turns_at: time = engine.DAY_TURNS_AT
) -> tuple[datetime, datetime]:
    """The site day's start and end as timezone-aware instants (its turns, by the schedule)."""
    return engine.day_start(day, timezone, turns_at), engine.next_turn(day, timezone, turns_at)


def day_rows(
    conn: Connection,
    day: date,
    sites: Sequence[str],
    *,
    timezone: str,
    as_of: datetime,
    seats: dict[str, int] | None = None,
    site_names: dict[str, str] | None = None,
) -> DayRows:
    """The visits, doses, adverse flags and events of `day` at `sites`."""
    v = t.visits
    visits = [
        VisitRow(
            r.site_id,
            r.id,
            r.state,
            r.product,
            r.dose_number,
            r.birth_date,
            r.sex,
            r.checked_in_at,
            r.called_at,
            r.station_id,
            r.dosed_at,
            r.finished_at,
            r.reason,
        )
        for r in conn.execute(
            select(v).where(v.c.site_day == day, v.c.site_id.in_(sites)).order_by(v.c.id)
        )
    ]
    doses = [_dose_row(r) for r in conn.execute(_doses_query(day, sites))]
    adverse = [
        _adverse_row(r)
        for r in conn.execute(
            select(t.adverse_events)
            .where(
                t.adverse_events.c.visit_id.in_(_day_visits(day, sites)),
                t.adverse_events.c.outcome.is_distinct_from(AdverseOutcome.WITHDRAWN.value),
            )
            .order_by(t.adverse_events.c.id)
        )
    ]
    start, end = day_bounds(day, timezone)
    e = t.events
    events: list[EventRow] = []
    for site in sites:
        low, high = seq_window(conn, site, start - MARGIN, end + MARGIN)
        events.extend(
            EventRow(r.site_id, r.seq, r.at, r.kind, r.visit_id, json.loads(r.payload))
            for r in conn.execute(
                select(e)
                .where(
                    e.c.site_id == site,
                    e.c.seq.between(low, high),
                    e.c.visit_id.in_(_day_visits(day, [site])),
                )
                .order_by(e.c.seq)
            )
        )
    return DayRows(
        day=day,
        timezone=timezone,
        sites=tuple(sites),
        as_of=as_of,
        visits=visits,
        doses=doses,
        adverse=adverse,
        events=events,
        seats=dict(seats or {}),
        site_names=dict(site_names or {}),
        struck=frozenset(
            conn.execute(
                select(t.doses.c.visit_id).where(
                    t.doses.c.visit_id.in_(_day_visits(day, sites)),
                    t.doses.c.struck_at.is_not(None),
                )
            ).scalars()
        ),
    )


#: How far around the site day to look for its visits' events (clocks step, visits overrun).
MARGIN = timedelta(hours=12)


def seq_window(conn: Connection, site_id: str, start: datetime, end: datetime) -> tuple[int, int]:
    """The event numbers of a site written in [start, end), found by binary search on the
    (site_id, seq) index: one site's events are numbered in time order (one writer, one
    clock), so a day's report reads its own events, not the whole log of a regional database.
    """
    e = t.events
    bounds = conn.execute(
        select(func.min(e.c.seq), func.max(e.c.seq)).where(e.c.site_id == site_id)
    ).one()
    if bounds[0] is None:
        return (0, -1)
    first, last = int(bounds[0]), int(bounds[1])

    def first_at_or_after(at: datetime) -> int:
        """The smallest seq whose event (or the next one after it) is at or after `at`."""
        lo, hi = first, last + 1
        while lo < hi:
            mid = (lo + hi) // 2
            row = conn.execute(
                select(e.c.seq, e.c.at)
                .where(e.c.site_id == site_id, e.c.seq >= mid)
                .order_by(e.c.seq)
                .limit(1)
            ).first()
            if row is None or row.at >= at:
                hi = mid
            else:
                lo = int(row.seq) + 1
        return lo

    return first_at_or_after(start), first_at_or_after(end) - 1


def _doses_query(day: date, sites: Sequence[str]) -> Select[Any]:
    d, v = t.doses, t.visits
    return (
        select(d, v.c.site_day, v.c.ticket, v.c.person_name, v.c.id_type, v.c.id_number)
        .add_columns(v.c.birth_date, v.c.sex)
        .join(v, v.c.id == d.c.visit_id)
        .where(v.c.site_day == day, v.c.site_id.in_(sites), d.c.struck_at.is_(None))
        .order_by(d.c.given_at, d.c.id)
    )


def _dose_row(r: Row[Any]) -> DoseRow:
    return DoseRow(
        r.site_id,
        r.visit_id,
        r.product,
        r.manufacturer,
        r.lot,
        r.dose_number,
        r.station_id,
        r.vaccinator,
        r.given_at,
    )


def _adverse_row(r: Row[Any]) -> AdverseRow:
    return AdverseRow(
        r.site_id,
        r.visit_id,
        r.kind,
        r.severity,
        r.outcome,
        r.flagged_at,
    )


def dose_records(conn: Connection, day: date, sites: Sequence[str]) -> list[DoseRecord]:
    """Every dose of `day` at `sites` with its person and reactions, in the order given."""
    reactions: dict[int, list[AdverseRow]] = defaultdict(list)
    for r in conn.execute(
        select(t.adverse_events)
        .where(t.adverse_events.c.visit_id.in_(_day_visits(day, sites)))
        .order_by(t.adverse_events.c.id)
    ):
        reactions[r.visit_id].append(_adverse_row(r))
    return [
        DoseRecord(
            r.id,
            _dose_row(r),
            r.site_day,
            r.ticket,
            r.person_name,
            r.id_type,
            r.id_number,
            r.birth_date,
            r.sex,
            tuple(reactions.get(r.visit_id, ())),
        )
        for r in conn.execute(_doses_query(day, sites))
    ]
