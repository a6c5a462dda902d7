"""The outbox's rows: written with each change, then taken in order by one worker per target.

The outbox is the database: a worker keeps nothing in memory that a restart (or SIGKILL)
would lose. It reads the oldest pending row of its target, sends it, and settles it in a
write; killed in between, the row is still pending and is sent again with the same ids,
which the receivers store once (FHIR PUT by id, HL7 MSH-10 and ORC-3).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, exists, func, insert, literal, select, update

from vaxflow.queue.core.model import AdverseOutcome
from vaxflow.queue.core.outbox import (
    ACKNOWLEDGED,
    DOSE_STANDINGS,
    Action,
    Kind,
    OutboxState,
    Outcome,
    Target,
    Verdict,
    dose_standing,
)
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.db import NotADatabase, database_url, make_engine
from vaxflow.queue.store.records import DoseRecord, _adverse_row, _dose_row

T = TypeVar("T")


@dataclass(frozen=True)
class OutboxRow:
    """One record waiting for (or done with) one target."""

    id: int
    site_id: str
    target: str
    kind: str
    record_key: str
    action: str
    visit_id: int | None
    dose_id: int | None
    booking_code: str | None
    created_at: datetime
    state: str
    attempts: int
    due_at: datetime
    sent_at: datetime | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "kind": self.kind,
            "record_key": self.record_key,
            "action": self.action,
            "visit_id": self.visit_id,
            "dose_id": self.dose_id,
            "booking_code": self.booking_code,
            "created_at": self.created_at.isoformat(),
            "state": self.state,
            "attempts": self.attempts,
            "due_at": self.due_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "last_error": self.last_error,
        }


def _row(r: Any) -> OutboxRow:
    return OutboxRow(
        r.id,
        r.site_id,
        r.target,
        r.kind,
        r.record_key,
        r.action,
        r.visit_id,
        r.dose_id,
        r.booking_code,
        r.created_at,
        r.state,
        r.attempts,
        r.due_at,
        r.sent_at,
        r.last_error,
    )


def enqueue(
    conn: Connection,
    site_id: str,
    now: datetime,
    *,
    target: Target,
    kind: Kind,
    record_key: str,
    action: Action = Action.ADD,
    visit_id: int | None = None,
    dose_id: int | None = None,
    booking_code: str | None = None,
) -> int:
    """Add a pending row, due now; its id orders it and names it (HL7 MSH-10)."""
    result = conn.execute(
        insert(t.outbox).values(
            site_id=site_id,
            target=target.value,
            kind=kind.value,
            record_key=record_key,
            action=action.value,
            visit_id=visit_id,
            dose_id=dose_id,
            booking_code=booking_code,
            created_at=now,
            state=OutboxState.PENDING.value,
            attempts=0,
            due_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def has_row(conn: Connection, site_id: str, record_key: str) -> bool:
    """Whether a row with this key was ever written (a write-off is written once)."""
    o = t.outbox
    found = conn.execute(
        select(o.c.id).where(o.c.site_id == site_id, o.c.record_key == record_key).limit(1)
    ).first()
    return found is not None


def dose_rows_sent(conn: Connection, site_id: str, dose_id: int) -> bool:
    """Whether any row for this dose exists already (a later one is an update)."""
    o = t.outbox
    found = conn.execute(
        select(o.c.id).where(o.c.site_id == site_id, o.c.dose_id == dose_id).limit(1)
    ).first()
    return found is not None


def head(conn: Connection, site_id: str, target: Target) -> OutboxRow | None:
    """The oldest pending row of a target (sent in order: later rows wait for it)."""
    o = t.outbox
    r = conn.execute(
        select(o)
        .where(
            o.c.site_id == site_id,
            o.c.target == target.value,
            o.c.state == OutboxState.PENDING.value,
        )
        .order_by(o.c.id)
        .limit(1)
    ).first()
    return _row(r) if r is not None else None


def settle(
    conn: Connection, row_id: int, verdict: Verdict, now: datetime, retry_at: datetime
) -> None:
    """Record one attempt: sent, needs fixing (with the receiver's words), or retry at."""
    o = t.outbox
    values: dict[str, Any] = {"attempts": o.c.attempts + 1}
    if verdict.outcome is Outcome.DONE:
        values |= {"state": OutboxState.SENT.value, "sent_at": now, "last_error": None}
    elif verdict.outcome is Outcome.NEEDS_FIXING:
        values |= {"state": OutboxState.NEEDS_FIXING.value, "last_error": verdict.detail}
    else:
        values |= {"due_at": retry_at, "last_error": verdict.detail}
    conn.execute(
        update(o).where(o.c.id == row_id, o.c.state == OutboxState.PENDING.value).values(values)
    )


def retry(conn: Connection, site_id: str, now: datetime, row_id: int | None = None) -> int:
    """Put rows that need fixing (one, or all) back in line, due now; how many."""
    o = t.outbox
    query = update(o).where(o.c.site_id == site_id, o.c.state == OutboxState.NEEDS_FIXING.value)
    if row_id is not None:
        query = query.where(o.c.id == row_id)
    return conn.execute(query.values(state=OutboxState.PENDING.value, due_at=now)).rowcount


def rows(
    conn: Connection, site_id: str, state: OutboxState | None = None, limit: int = 200
) -> list[OutboxRow]:
    """Rows of a state (all when None), oldest first."""
    o = t.outbox
    query = select(o).where(o.c.site_id == site_id)
    if state is not None:
        query = query.where(o.c.state == state.value)
    return [_row(r) for r in conn.execute(query.order_by(o.c.id).limit(limit))]


def summary(conn: Connection, site_id: str) -> dict[str, dict[str, Any]]:
    """Per target: counts by state and the oldest pending row's time."""
    o = t.outbox
    out: dict[str, dict[str, Any]] = defaultdict(
        lambda: {s.value: 0 for s in OutboxState} | {"oldest_pending": None}
    )
    for r in conn.execute(
        select(o.c.target, o.c.state, func.count(), func.min(o.c.created_at))
        .where(o.c.site_id == site_id)
        .group_by(o.c.target, o.c.state)
    ):
        target, state, count, oldest = r
        out[target][state] = int(count)
        if state == OutboxState.PENDING.value:
            out[target]["oldest_pending"] = oldest
    return dict(out)


def dose_record(conn: Connection, dose_id: int) -> DoseRecord | None:
    """One dose with its person and reactions, as the registry gets it (None: gone)."""
    d, v = t.doses, t.visits
    r = conn.execute(
        select(d, v.c.site_day, v.c.ticket, v.c.person_name, v.c.id_type, v.c.id_number)
        .add_columns(v.c.birth_date, v.c.sex)
        .join(v, v.c.id == d.c.visit_id)
        .where(d.c.id == dose_id)
    ).first()
    if r is None:
        return None
    reactions = tuple(
        _adverse_row(a)
        for a in conn.execute(
            select(t.adverse_events)
            .where(
                t.adverse_events.c.visit_id == r.visit_id,
                t.adverse_events.c.outcome.is_distinct_from(AdverseOutcome.WITHDRAWN.value),
            )
            .order_by(t.adverse_events.c.id)
        )
    )
    return DoseRecord(
        r.id,
        _dose_row(r),
        r.site_day,
        r.ticket,
        r.person_name,
        r.id_type,
        r.id_number,
        r.birth_date,
        r.sex,
        reactions,
        r.struck_at,
    )


def dose_id_of_visit(conn: Connection, visit_id: int) -> int | None:
    """The dose given in a visit, if any."""
    d = t.doses
    return conn.execute(select(d.c.id).where(d.c.visit_id == visit_id)).scalar()


def bookings_past_window(
    conn: Connection, site_id: str, now: datetime, limit: int = 500
) -> list[str]:
    """Booking codes whose window has ended with no visit and no write-off row yet."""
    b, o = t.bookings, t.outbox
    written = exists().where(
        o.c.site_id == site_id,
        o.c.record_key == literal(Kind.BOOKING_NO_SHOW.value + "/") + b.c.code,
    )
    return list(
        conn.execute(
            select(b.c.code)
            .where(
                b.c.site_id == site_id,
                b.c.visit_id.is_(None),
                b.c.window_end.is_not(None),
                b.c.window_end < now,
                ~written,
            )
            .order_by(b.c.window_end)
            .limit(limit)
        ).scalars()
    )


def write_once(db: str, fn: Callable[[Connection], T]) -> T:
    """One transaction on a site database from outside the server (`vaxflow uplink retry`);
    SQLite's busy timeout waits for a running server's writer."""
    if "://" not in db and not Path(db).exists():
        raise NotADatabase(f"there is no database at {db}")
    engine = make_engine(database_url(db), writer=True)
    try:
        with engine.connect() as conn, conn.begin():
            return fn(conn)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class DayDose:
    """One dose of a day as the daily summary counts it, with its standing per registry."""

    dose_id: int
    product: str
    dose_number: int
    lot: str
    struck: bool
    standing: dict[str, str]  # target -> acknowledged, waiting, needs_fixing, never_queued


def day_doses(conn: Connection, site_id: str, day: date, targets: Sequence[str]) -> list[DayDose]:
    """The doses of site day `day` (struck ones too, marked) and where each stands with each
    registry, from the states of its outbox rows there.

    A dose belongs to its visit's site day, as in the daily report: a person carried over
    at the day's turn and dosed at 04:10 counts on the day they checked in, once, in both.
    """
    d, v, o = t.doses, t.visits, t.outbox
    given = conn.execute(
        select(d.c.id, d.c.product, d.c.dose_number, d.c.lot, d.c.struck_at)
        .join(v, v.c.id == d.c.visit_id)
        .where(v.c.site_id == site_id, v.c.site_day == day, d.c.site_id == site_id)
        .order_by(d.c.id)
    ).all()
    ids = [r.id for r in given]
    states: dict[tuple[str, int], set[str]] = defaultdict(set)
    for target, dose_id, state in conn.execute(
        select(o.c.target, o.c.dose_id, o.c.state).where(
            o.c.site_id == site_id, o.c.target.in_(list(targets)), o.c.dose_id.in_(ids)
        )
    ):
        states[(target, dose_id)].add(state)
    return [
        DayDose(
            r.id,
            r.product,
            r.dose_number,
            r.lot,
            r.struck_at is not None,
            {target: dose_standing(states.get((target, r.id), set())) for target in targets},
        )
        for r in given
    ]


def reconcile(
    conn: Connection, site_id: str, day: date, targets: Sequence[str]
) -> dict[str, dict[str, int]]:
    """The day's doses against what each registry acknowledged: per target, the doses of
    site day `day` that stand (struck ones left out), those whose every row was
    acknowledged, those waiting, those needing fixing, and those with no row at all (given
    before the target was configured); then the doses struck out and how many of those
    strike-outs the registry acknowledged."""
    doses = day_doses(conn, site_id, day, targets)
    out: dict[str, dict[str, int]] = {}
    for target in targets:
        standing = [x.standing[target] for x in doses if not x.struck]
        struck = [x.standing[target] for x in doses if x.struck]
        out[target] = {
            "doses": len(standing),
            **{name: standing.count(name) for name in DOSE_STANDINGS},
            "struck": len(struck),
            "struck_acknowledged": struck.count(ACKNOWLEDGED),
        }
    return out
