"""doctor_decisions: a doctor's recorded decision at the station (another manufacturer)

One row per visit and kind: completing a series with another manufacturer's product, approved
or declined, the reason given, both manufacturers, the dose number decided, who and when.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "doctor_decisions",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("approve", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous_manufacturer", sa.String(length=100), nullable=True),
        sa.Column("booked_manufacturer", sa.String(length=100), nullable=True),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_doctor_decisions_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("visit_id", "kind", name=op.f("pk_doctor_decisions")),
    )


def downgrade() -> None:
    op.drop_table("doctor_decisions")
