"""events are found by kind without reading the day's log

The day's walk-in capacity is the marshal's latest `walk_in_capacity_set` event, read on
every walk-in check-in: found through (site_id, seq) it read backwards through the whole
log when no such event existed, so a walk-in cost more as the day went on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_site_id_kind_seq", "events", ["site_id", "kind", "seq"])


def downgrade() -> None:
    op.drop_index("ix_events_site_id_kind_seq", table_name="events")
