"""Prepared statements give what SQLAlchemy gives, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, insert, select, update

from vaxflow.queue.store import tables as t
from vaxflow.queue.store.db import database_url, make_engine, migrate
from vaxflow.queue.store.prepared import Prepared, release, rollback_to, savepoint

_COLUMNS = ("site_id", "site_day", "lane", "last_number")
_INSERT = Prepared(insert(t.ticket_counters), columns=_COLUMNS)
_BUMP = Prepared(
    update(t.ticket_counters)
    .where(
        t.ticket_counters.c.site_id == bindparam("k_site"),
        t.ticket_counters.c.lane == bindparam("k_lane"),
    )
    .values(last_number=t.ticket_counters.c.last_number + 1)
    .returning(t.ticket_counters.c.last_number, t.ticket_counters.c.site_day)
)
_READ = Prepared(
    select(t.ticket_counters).where(
        t.ticket_counters.c.site_id == bindparam("site_id"),
        t.ticket_counters.c.lane != "Z",  # a value bound inside the statement
    )
)
_EVENT = Prepared(
    insert(t.events).returning(t.events.c.seq, t.events.c.at),
    columns=("site_id", "at", "actor", "device", "kind", "visit_id", "payload"),
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url(db_url), writer=True)
    migrate(engine)
    yield engine
    engine.dispose()


def _event(at: datetime) -> dict[str, Any]:
    return {
        "site_id": "s",
        "at": at,
        "actor": "test",
        "device": None,
        "kind": "k",
        "visit_id": None,
        "payload": "{}",
    }


def test_rows_match_sqlalchemy_with_types_converted(engine: Engine) -> None:
    day = date(2026, 11, 21)
    with engine.connect() as conn, conn.begin():
        _INSERT.run(conn, {"site_id": "s", "site_day": day, "lane": "A", "last_number": 1})
        bumped = _BUMP.first(conn, {"k_site": "s", "k_lane": "A"})
        assert bumped is not None
        assert (bumped.last_number, bumped.site_day) == (2, day)
        mine = _READ.rows(conn, {"site_id": "s"})
        theirs = conn.execute(select(t.ticket_counters).where(t.ticket_counters.c.site_id == "s"))
        assert [tuple(r) for r in mine] == [tuple(r) for r in theirs]
        at = datetime(2026, 11, 21, 8, 30, 15, 123456, tzinfo=UTC)
        returned = _EVENT.first(conn, _event(at))
        assert returned is not None
        seq, back = returned
        assert isinstance(seq, int)
        assert back == at and back.tzinfo is not None


def test_an_insert_with_other_columns_is_refused_before_it_runs(engine: Engine) -> None:
    refused = pytest.raises(ValueError, match=r"missing \['last_number'\].*unexpected \['x'\]")
    with engine.connect() as conn, conn.begin(), refused:
        _INSERT.run(conn, {"site_id": "s", "site_day": date.today(), "lane": "A", "x": 1})


def test_rollback_to_a_savepoint_undoes_only_what_came_after(engine: Engine) -> None:
    day = date(2026, 11, 21)
    with engine.connect() as conn, conn.begin():
        _INSERT.run(conn, {"site_id": "s", "site_day": day, "lane": "A", "last_number": 1})
        savepoint(conn, "request")
        _BUMP.run(conn, {"k_site": "s", "k_lane": "A"})
        rollback_to(conn, "request")
        release(conn, "request")
        row = _READ.first(conn, {"site_id": "s"})
        assert row is not None and row.last_number == 1
    with engine.connect() as conn:  # committed: the insert, not the bump
        assert _READ.scalar(conn, {"site_id": "s"}) == "s"
        row = _READ.first(conn, {"site_id": "s"})
        assert row is not None and row.last_number == 1
