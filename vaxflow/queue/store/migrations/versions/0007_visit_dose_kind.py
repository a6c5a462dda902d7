"""visits record the dose kind the schedule decided and its notes for the station

The dose number is decided from the person's whole dose history (vaxflow.queue.core.schedule);
a booster is stored as its number with dose_kind "booster", and an overdue dose's note
("complete as soon as possible") goes with the visit to the station console.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dose_kind", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("schedule_notes", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("schedule_notes")
        batch_op.drop_column("dose_kind")
