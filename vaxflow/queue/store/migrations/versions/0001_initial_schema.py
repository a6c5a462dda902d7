"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("person_name", sa.String(length=100), nullable=False),
        sa.Column("id_type", sa.String(length=20), nullable=False),
        sa.Column("id_number", sa.String(length=40), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=10), nullable=True),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_bookings_site_id_code")),
    )
    op.create_table(
        "device_health",
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "device_id", name=op.f("pk_device_health")),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_site_id_seq"), ["site_id", "seq"], unique=False)

    op.create_table(
        "idempotency",
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "actor", "key", name=op.f("pk_idempotency")),
    )
    op.create_table(
        "stations",
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("station_id", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=True),
        sa.Column("lot", sa.String(length=40), nullable=True),
        sa.Column("vaccinator", sa.String(length=100), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("site_id", "station_id", name=op.f("pk_stations")),
    )
    op.create_table(
        "ticket_counters",
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("site_day", sa.Date(), nullable=False),
        sa.Column("lane", sa.String(length=1), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "site_day", "lane", name=op.f("pk_ticket_counters")),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("site_day", sa.Date(), nullable=False),
        sa.Column("ticket", sa.String(length=10), nullable=False),
        sa.Column("lane", sa.String(length=1), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("person_name", sa.String(length=100), nullable=False),
        sa.Column("id_number", sa.String(length=40), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("booking_code", sa.String(length=64), nullable=True),
        sa.Column("walk_in", sa.Boolean(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_count", sa.Integer(), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("station_id", sa.String(length=20), nullable=True),
        sa.Column("service_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dosed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("observation_minutes", sa.Integer(), nullable=True),
        sa.Column("observation_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adverse_open", sa.Boolean(), nullable=False),
        sa.Column("print_failed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint(
            "site_id", "site_day", "ticket", name=op.f("uq_visits_site_id_site_day_ticket")
        ),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visits_site_id_booking_code"), ["site_id", "booking_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_visits_site_id_site_day_state_lane_product_checked_in_at"),
            ["site_id", "site_day", "state", "lane", "product", "checked_in_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_visits_site_id_state_dosed_at"),
            ["site_id", "state", "dosed_at"],
            unique=False,
        )

    op.create_table(
        "adverse_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flagged_by", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_adverse_events_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_events")),
    )
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adverse_events_site_id_visit_id"), ["site_id", "visit_id"], unique=False
        )

    op.create_table(
        "doses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("manufacturer", sa.String(length=100), nullable=False),
        sa.Column("lot", sa.String(length=40), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("vaccinator", sa.String(length=100), nullable=False),
        sa.Column("station_id", sa.String(length=20), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_doses_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doses")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_doses_visit_id")),
    )


def downgrade() -> None:

    op.drop_table("doses")
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_events_site_id_visit_id"))

    op.drop_table("adverse_events")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_site_id_state_dosed_at"))
        batch_op.drop_index(
            batch_op.f("ix_visits_site_id_site_day_state_lane_product_checked_in_at")
        )
        batch_op.drop_index(batch_op.f("ix_visits_site_id_booking_code"))

    op.drop_table("visits")
    op.drop_table("ticket_counters")
    op.drop_table("stations")
    op.drop_table("idempotency")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_site_id_seq"))

    op.drop_table("events")
    op.drop_table("device_health")
    op.drop_table("bookings")
