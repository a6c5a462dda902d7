"""a visit's events are found without reading the log

The exit prints a certificate only if none was queued for the visit before (a second scan, or
a person the observer released first): that look-up, and a visit's audit history, go by
(site_id, visit_id).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_site_id_visit_id", "events", ["site_id", "visit_id"])


def downgrade() -> None:
    op.drop_index("ix_events_site_id_visit_id", table_name="events")
