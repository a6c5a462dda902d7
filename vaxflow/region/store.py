"""The region database: every site's events once, by (site, seq), on a Patroni cluster.

SQLAlchemy Core over psycopg with a libpq multi-host URL and `target_session_attrs=read-write`,
so a connection always reaches the current leader. A failover shows up as a lost connection
or a "read-only transaction" on the old leader; each unit of work is retried whole, with a
bounded deadline, and is idempotent (`ON CONFLICT DO NOTHING` on the key; the cursor only
moves forward), so a retry or a site's resend never doubles anything.

A dose struck out at its site (`dose_struck`, issue 15) is kept apart in `region_struck` by
(site, visit) and every read of doses leaves the struck ones out, so it does not matter
whether the strike arrives after the dose, in the same batch, again, or before it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    exists,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from vaxflow.queue.core.events import EventKind

log = logging.getLogger(__name__)
T = TypeVar("T")

metadata = MetaData()

#: The region's migrations and their version table (a site's are `alembic_version`).
MIGRATIONS = "vaxflow.region:migrations"
VERSION_TABLE = "region_alembic_version"
#: One region server upgrades at a time (several may start together after a failover).
_MIGRATION_LOCK = 7410016

sites = Table(
    "region_sites",
    metadata,
    Column("site_id", String(40), primary_key=True),
    Column("last_seq", BigInteger, nullable=False, default=0),  # the cursor: applied up to here
    Column("last_event_at", DateTime(timezone=True), nullable=True),
    Column("last_received_at", DateTime(timezone=True), nullable=True),
    Column("status", Text, nullable=True),  # the site's own live figures, JSON, as last sent
)

events = Table(
    "region_events",
    metadata,
    Column("site_id", String(40), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("device", String(64), nullable=True),
    Column("visit_id", Integer, nullable=True),
    Column("payload", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

doses = Table(
    "region_doses",
    metadata,
    # One row per `dosed` event; `person_key` is the site's keyed hash of the ID number
    # (HMAC with the city's history key): the region never holds an ID number.
    Column("site_id", String(40), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("person_key", String(64), nullable=True, index=True),
    Column("given_at", DateTime(timezone=True), nullable=False),
    Column("given_on", Date, nullable=False),
    Column("product", String(40), nullable=False),
    Column("manufacturer", String(80), nullable=False),
    Column("dose_number", Integer, nullable=True),
    Column("lot", String(60), nullable=True),
    Column("visit_id", Integer, nullable=True),  # the site's visit: one dose each (r0002)
)

struck = Table(
    "region_struck",
    metadata,
    # One row per `dose_struck` event: the dose of (site, visit) was given in error and no
    # longer counts, whether its `dosed` row arrived before or after this one.
    Column("site_id", String(40), primary_key=True),
    Column("visit_id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("struck_at", DateTime(timezone=True), nullable=False),
    Column("dose", String(80), nullable=True),  # the dose key, `{site}/{dose id}`
    Column("reason", Text, nullable=True),
)

#: A dose that was not struck out: every read of doses keeps to these.
STANDING = ~exists().where(
    struck.c.site_id == doses.c.site_id, struck.c.visit_id == doses.c.visit_id
)

#: SQLSTATEs a failover gives: connection failures, the server shutting down or not yet
#: accepting, and a write on a node that just became (or still is) a standby.
RETRYABLE_STATES = frozenset({"25006", "57P01", "57P02", "57P03", "40001", "40P01"})


class RegionUnavailable(Exception):
    """The region database did not take the work before the deadline (the site resends)."""


@dataclass(frozen=True)
class Applied:
    """What one ingest did: the site's cursor after it, and how many events were new."""

    cursor: int
    new: int


def is_failover_error(err: DBAPIError) -> bool:
    """A lost connection or a standby's refusal: worth retrying on the (new) leader."""
    if err.connection_invalidated:
        return True
    state = getattr(err.orig, "sqlstate", None)
    if state is not None:
        return state in RETRYABLE_STATES or state.startswith("08")
    return err.__class__.__name__ == "OperationalError"


class RegionStore:
    """The region's tables on the cluster; every call is one retried transaction."""

    def __init__(self, url: str, *, deadline: float = 30.0, pool_size: int = 8) -> None:
        self.url = url
        self.deadline = deadline  # seconds one call may spend retrying a failover
        self.engine: Engine = create_engine(
            url, pool_size=pool_size, max_overflow=4, pool_pre_ping=True, pool_recycle=600
        )

    def migrate(self) -> str:
        """Bring the region's schema to the newest migration (idempotent, retried whole on a
        failover like any other work); the revision it is at afterwards."""

        def work(conn: Connection) -> str:
            if conn.dialect.name == "postgresql":  # SQLite: the refusal tests' stand-in
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config = Config()
            config.set_main_option("script_location", MIGRATIONS)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            return head_revision()

        return self._retry(work)

    def revision(self) -> str | None:
        """The revision the region database is at (None before the first migration)."""

        def work(conn: Connection) -> str | None:
            if not conn.dialect.has_table(conn, VERSION_TABLE):
                return None
            return conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()

        return self._retry(work)

    def close(self) -> None:
        self.engine.dispose()

    def _retry(self, work: Callable[[Connection], T]) -> T:
        """`work` in one transaction, again after a failover error, until the deadline."""
        stop = time.monotonic() + self.deadline
        pause = 0.1
        while True:
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except DBAPIError as err:
                if not is_failover_error(err):
                    raise
                if time.monotonic() + pause > stop:
                    raise RegionUnavailable(str(err.orig or err)) from err
                log.info("region database failing over (%s); retrying", type(err.orig).__name__)
                self.engine.dispose()  # drop connections to the old leader
                time.sleep(pause)
                pause = min(1.0, pause * 2)

    # --- ingest ---

    def apply(
        self,
        site_id: str,
        batch: Sequence[dict[str, Any]],
        status: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Applied:
        """Apply a site's events (ascending seq) at most once each; the new cursor."""
        received = now or datetime.now(UTC)
        rows = [_event_row(site_id, e, received) for e in batch]
        dose_rows = [d for d in (_dose_row(site_id, e) for e in batch) if d is not None]
        struck_rows = [s for s in (_struck_row(site_id, e) for e in batch) if s is not None]

        def work(conn: Connection) -> Applied:
            conn.execute(insert(sites).values(site_id=site_id, last_seq=0).on_conflict_do_nothing())
            cursor = conn.execute(
                select(sites.c.last_seq).where(sites.c.site_id == site_id).with_for_update()
            ).scalar_one()
            fresh = [r for r in rows if r["seq"] > cursor]
            if fresh:
                conn.execute(insert(events).on_conflict_do_nothing(), fresh)
                seqs = {r["seq"] for r in fresh}
                new_doses = [d for d in dose_rows if d["seq"] in seqs]
                if new_doses:
                    conn.execute(insert(doses).on_conflict_do_nothing(), new_doses)
                new_struck = [s for s in struck_rows if s["seq"] in seqs]
                if new_struck:
                    conn.execute(insert(struck).on_conflict_do_nothing(), new_struck)
            values: dict[str, Any] = {"last_received_at": received}
            if fresh:
                values["last_seq"] = max(cursor, fresh[-1]["seq"])
                values["last_event_at"] = fresh[-1]["at"]
            if status is not None:
                values["status"] = json.dumps(status, sort_keys=True)
            conn.execute(sites.update().where(sites.c.site_id == site_id).values(**values))
            return Applied(values.get("last_seq", cursor), len(fresh))

        return self._retry(work)

    def cursor(self, site_id: str) -> int:
        """The last seq of the site the region holds (0: none)."""
        found = self._retry(
            lambda conn: conn.execute(
                select(sites.c.last_seq).where(sites.c.site_id == site_id)
            ).scalar()
        )
        return int(found or 0)

    # --- reads ---

    def site_rows(self) -> list[dict[str, Any]]:
        """Every site the region has heard of, with its cursor and last status."""
        rows = self._retry(lambda conn: list(conn.execute(select(sites).order_by(sites.c.site_id))))
        return [
            {
                "site_id": r.site_id,
                "last_seq": r.last_seq,
                "last_event_at": r.last_event_at,
                "last_received_at": r.last_received_at,
                "status": json.loads(r.status) if r.status else {},
            }
            for r in rows
        ]

    def doses_by_site(self, start: datetime, end: datetime) -> dict[str, int]:
        """Doses given in [start, end) per site."""

        def work(conn: Connection) -> dict[str, int]:
            q = (
                select(doses.c.site_id, func.count())
                .where(doses.c.given_at >= start, doses.c.given_at < end, STANDING)
                .group_by(doses.c.site_id)
            )
            return {site: int(n) for site, n in conn.execute(q)}

        return self._retry(work)

    def struck_by_site(self, start: datetime, end: datetime) -> dict[str, int]:
        """Doses given in [start, end) and struck out since, per site."""

        def work(conn: Connection) -> dict[str, int]:
            q = (
                select(doses.c.site_id, func.count())
                .where(doses.c.given_at >= start, doses.c.given_at < end, ~STANDING)
                .group_by(doses.c.site_id)
            )
            return {site: int(n) for site, n in conn.execute(q)}

        return self._retry(work)

    def kind_counts(self, kind: str, start: datetime, end: datetime) -> dict[str, int]:
        """Events of one kind in [start, end) per site (e.g. adverse reactions flagged)."""

        def work(conn: Connection) -> dict[str, int]:
            q = (
                select(events.c.site_id, func.count())
                .where(events.c.kind == kind, events.c.at >= start, events.c.at < end)
                .group_by(events.c.site_id)
            )
            return {site: int(n) for site, n in conn.execute(q)}

        return self._retry(work)

    def dose_rows(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every dose given in [start, end) and not struck out, by site and seq."""

        def work(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(doses)
                .where(doses.c.given_at >= start, doses.c.given_at < end, STANDING)
                .order_by(doses.c.site_id, doses.c.seq)
            )
            return [dict(r._mapping) for r in conn.execute(q)]

        return self._retry(work)

    def history(self, person_key: str) -> list[dict[str, Any]]:
        """The person's doses at every site (by keyed hash), oldest first; none struck out."""

        def work(conn: Connection) -> list[dict[str, Any]]:
            q = (
                select(doses)
                .where(doses.c.person_key == person_key, STANDING)
                .order_by(doses.c.given_at, doses.c.site_id)
            )
            return [dict(r._mapping) for r in conn.execute(q)]

        return self._retry(work)

    def event_seqs(self, site_id: str) -> list[int]:
        """The seqs the region holds for a site, in order (tests and checks)."""
        return self._retry(
            lambda conn: [
                int(s)
                for s in conn.execute(
                    select(events.c.seq).where(events.c.site_id == site_id).order_by(events.c.seq)
                ).scalars()
            ]
        )

    def event_count(self, site_id: str) -> int:
        """How many rows the region holds for a site (with a double, more than its seqs)."""
        return int(
            self._retry(
                lambda conn: conn.execute(
                    select(func.count()).select_from(events).where(events.c.site_id == site_id)
                ).scalar_one()
            )
        )


def head_revision() -> str:
    """The newest of the region's migrations."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of a local day, in UTC."""
    zone = ZoneInfo(timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _when(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _event_row(site_id: str, e: dict[str, Any], received: datetime) -> dict[str, Any]:
    payload = e.get("payload") or {}
    return {
        "site_id": site_id,
        "seq": int(e["seq"]),
        "at": _when(e["at"]),
        "kind": str(e["kind"]),
        "actor": str(e.get("actor") or ""),
        "device": e.get("device"),
        "visit_id": e.get("visit_id"),
        "payload": payload if isinstance(payload, str) else json.dumps(payload, sort_keys=True),
        "received_at": received,
    }


def _dose_row(site_id: str, e: dict[str, Any]) -> dict[str, Any] | None:
    """The dose a `dosed` event records, as the site shipped it (`dose` beside the payload)."""
    dose = e.get("dose")
    if e.get("kind") != EventKind.DOSED or not isinstance(dose, dict):
        return None
    given_at = _when(dose.get("given_at") or e["at"])
    return {
        "site_id": site_id,
        "seq": int(e["seq"]),
        "person_key": dose.get("person_key"),
        "given_at": given_at,
        "given_on": date.fromisoformat(dose["given_on"]),
        "product": str(dose.get("product") or ""),
        "manufacturer": str(dose.get("manufacturer") or ""),
        "dose_number": dose.get("dose_number"),
        "lot": dose.get("lot"),
        "visit_id": e.get("visit_id"),
    }


def _struck_row(site_id: str, e: dict[str, Any]) -> dict[str, Any] | None:
    """The strike-out a `dose_struck` event records: which visit's dose, when, why."""
    if e.get("kind") != EventKind.DOSE_STRUCK or e.get("visit_id") is None:
        return None
    payload = e.get("payload") or {}
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            payload = {}
    if not isinstance(payload, dict):
        payload = {}
    dose, reason = payload.get("dose"), payload.get("reason")
    return {
        "site_id": site_id,
        "visit_id": int(e["visit_id"]),
        "seq": int(e["seq"]),
        "struck_at": _when(e["at"]),
        "dose": str(dose)[:80] if dose is not None else None,
        "reason": str(reason) if reason is not None else None,
    }


def ordered(batch: Iterable[dict[str, Any]]) -> bool:
    """True when the seqs strictly increase (the ingest refuses a batch that does not)."""
    last = -1
    for e in batch:
        if int(e["seq"]) <= last:
            return False
        last = int(e["seq"])
    return True
