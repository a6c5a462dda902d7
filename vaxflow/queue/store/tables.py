"""The store's tables (SQLAlchemy Core). Every row carries its site; migrations create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the store; pass timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

bookings = Table(
    "bookings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(40), nullable=False),
    Column("code", String(64), nullable=False),
    Column("person_name", String(100), nullable=False),
    Column("id_type", String(20), nullable=False),
    Column("id_number", String(40), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("sex", String(10), nullable=True),
    Column("product", String(40), nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("visit_date", Date, nullable=False),
    Column("window_start", UTCDateTime, nullable=True),
    Column("window_end", UTCDateTime, nullable=True),
    Column("visit_id", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("prior_doses", Text, nullable=True),
    Column("source", String(20), nullable=True),
    Column("answers", Text, nullable=True),  # JSON {question id: yes} from the booking app
    UniqueConstraint("site_id", "code"),
    Index(None, "site_id", "id_number", "visit_date"),
)

visits = Table(
    "visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(40), nullable=False),
    Column("site_day", Date, nullable=False),
    Column("ticket", String(10), nullable=False),
    Column("lane", String(1), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("product", String(40), nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("person_name", String(100), nullable=False),
    Column("id_number", String(40), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("booking_code", String(64), nullable=True),
    Column("walk_in", Boolean, nullable=False),
    Column("checked_in_at", UTCDateTime, nullable=False),
    Column("call_count", Integer, nullable=False),
    Column("called_at", UTCDateTime, nullable=True),
    Column("station_id", String(20), nullable=True),
    Column("service_started_at", UTCDateTime, nullable=True),
    Column("dosed_at", UTCDateTime, nullable=True),
    Column("observation_minutes", Integer, nullable=True),
    Column("observation_ends_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("adverse_open", Boolean, nullable=False),
    Column("print_failed", Boolean, nullable=False),
    Column("reason", String(200), nullable=True),
    Column("device", String(64), nullable=True),
    Column("id_type", String(20), nullable=True),
    Column("sex", String(10), nullable=True),
    Column("screening", Text, nullable=True),
    Column("consent_version", String(40), nullable=True),
    Column("review_reasons", Text, nullable=True),
    Column("dose_kind", String(10), nullable=True),
    Column("schedule_notes", Text, nullable=True),
    UniqueConstraint("site_id", "site_day", "ticket"),
    Index(None, "id_number", "site_id"),
    Index(None, "site_id", "site_day", "state", "lane", "product", "checked_in_at"),
    Index(None, "site_id", "booking_code"),
    Index(None, "site_id", "state", "dosed_at"),
)

visit_identity = Table(
    "visit_identity",
    metadata,
    # How a visit's person was identified when it was not simply their own card at the kiosk:
    # a number typed by staff (`entered_by`) from the household register, and a minor's
    # guardian who consented (full ID like the person's; views mask it). One row per visit.
    Column("visit_id", Integer, ForeignKey("visits.id"), primary_key=True),
    Column("site_id", String(40), nullable=False),
    Column("id_source", String(20), nullable=False),
    Column("entered_by", String(64), nullable=True),
    Column("guardian_id_type", String(20), nullable=True),
    Column("guardian_id_number", String(40), nullable=True),
    Column("guardian_name", String(100), nullable=True),
    Column("guardian_birth_date", Date, nullable=True),
    Column("guardian_relation", String(20), nullable=True),
    Column("guardian_consent_version", String(40), nullable=True),
    Column("consented_at", UTCDateTime, nullable=True),
)

ticket_counters = Table(
    "ticket_counters",
    metadata,
    Column("site_id", String(40), primary_key=True),
    Column("site_day", Date, primary_key=True),
    Column("lane", String(1), primary_key=True),
    Column("last_number", Integer, nullable=False),
)

stations = Table(
    "stations",
    metadata,
    Column("site_id", String(40), primary_key=True),
    Column("station_id", String(20), primary_key=True),
    Column("state", String(10), nullable=False),
    Column("product", String(40), nullable=True),
    Column("lot", String(40), nullable=True),
    Column("vaccinator", String(100), nullable=True),
    Column("visit_id", Integer, nullable=True),
    Column("changed_at", UTCDateTime, nullable=True),
)

doses = Table(
    "doses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(40), nullable=False),
    Column("visit_id", Integer, ForeignKey("visits.id"), nullable=False, unique=True),
    Column("product", String(40), nullable=False),
    Column("manufacturer", String(100), nullable=False),
    Column("lot", String(40), nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("vaccinator", String(100), nullable=False),
    Column("station_id", String(20), nullable=False),
    Column("given_at", UTCDateTime, nullable=False),
    # a dose given in error, struck out by the marshal or admin (issue 15): who, why, when
    Column("struck_at", UTCDateTime, nullable=True),
    Column("struck_by", String(64), nullable=True),
    Column("struck_reason", String(200), nullable=True),
)

adverse_events = Table(
    "adverse_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(40), nullable=False),
    Column("visit_id", Integer, ForeignKey("visits.id"), nullable=False),
    Column("kind", String(60), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("notes", Text, nullable=True),
    Column("flagged_at", UTCDateTime, nullable=False),
    Column("flagged_by", String(64), nullable=False),
    Column("outcome", String(20), nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolved_by", String(64), nullable=True),
    Index(None, "site_id", "visit_id"),
)

doctor_decisions = Table(
    "doctor_decisions",
    metadata,
    # A doctor's recorded decision at the station for one visit (switch.py): completing a
    # series with another manufacturer, approved or declined, by whom and why. One per kind.
    Column("visit_id", Integer, ForeignKey("visits.id"), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("site_id", String(40), nullable=False),
    Column("approve", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("previous_manufacturer", String(100), nullable=True),
    Column("booked_manufacturer", String(100), nullable=True),
    Column("dose_number", Integer, nullable=True),
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    # 64-bit on PostgreSQL (migration 0003); SQLite's rowid is 64-bit as INTEGER PRIMARY KEY
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("site_id", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("device", String(64), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("visit_id", Integer, nullable=True),
    Column("payload", Text, nullable=False),
    Index(None, "site_id", "seq"),
    Index(None, "site_id", "kind", "seq"),
    Index(None, "site_id", "visit_id"),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("site_id", String(40), primary_key=True),
    Column("actor", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

device_health = Table(
    "device_health",
    metadata,
    Column("site_id", String(40), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("url", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("reason", String(60), nullable=False),
    Column("detail", String(300), nullable=False),
    Column("reported_by", String(64), nullable=False),
    Column("reported_at", UTCDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    # What must leave the site (issue 15), written in the transaction of the change it reports:
    # a dose (added, updated by a reaction, struck out) for each registry target, a booking's
    # write-off for the booking service. One worker per target sends its rows in `id` order.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(40), nullable=False),
    Column("target", String(20), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("record_key", String(120), nullable=False),
    Column("action", String(1), nullable=False),
    Column("visit_id", Integer, nullable=True),
    Column("dose_id", Integer, nullable=True),
    Column("booking_code", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index(None, "site_id", "target", "state", "id"),
    Index(None, "site_id", "record_key"),
)
