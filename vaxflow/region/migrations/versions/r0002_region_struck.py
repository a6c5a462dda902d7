"""region strike-outs: a dose struck out at its site leaves the region's history and counts

`region_doses.visit_id` (the site's visit, one dose each: the site's `doses.visit_id` is
unique), filled in for the doses already held from their `dosed` events; `region_struck`
holds each `dose_struck` event by (site, visit), whichever arrives first. Like r0001, a
database whose tables were made from the newest metadata is adopted as it is.

Revision ID: r0002
Revises: r0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("region_doses")}
    if "visit_id" not in columns:
        op.add_column("region_doses", sa.Column("visit_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE region_doses SET visit_id = (SELECT e.visit_id FROM region_events e"
        " WHERE e.site_id = region_doses.site_id AND e.seq = region_doses.seq)"
        " WHERE visit_id IS NULL"
    )
    if "region_struck" not in set(inspector.get_table_names()):
        op.create_table(
            "region_struck",
            sa.Column("site_id", sa.String(length=40), nullable=False),
            sa.Column("visit_id", sa.Integer(), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("struck_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("dose", sa.String(length=80), nullable=True),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("site_id", "visit_id"),
        )


def downgrade() -> None:
    op.drop_table("region_struck")
    op.drop_column("region_doses", "visit_id")
