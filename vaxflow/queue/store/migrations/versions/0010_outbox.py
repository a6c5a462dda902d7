"""outbox: records that must leave the site, written with the change they report (issue 15)

One row per record and target (a dose for the FHIR or HL7 registry, a booking write-off),
sent in order by one worker per target; its state, attempts, next attempt and last error.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("record_key", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=1), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("dose_id", sa.Integer(), nullable=True),
        sa.Column("booking_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        op.f("ix_outbox_site_id_target_state_id"),
        "outbox",
        ["site_id", "target", "state", "id"],
    )
    op.create_index(op.f("ix_outbox_site_id_record_key"), "outbox", ["site_id", "record_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_site_id_record_key"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_site_id_target_state_id"), table_name="outbox")
    op.drop_table("outbox")
