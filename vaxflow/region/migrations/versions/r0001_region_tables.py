"""region tables: sites (cursor, live status), events by (site, seq), doses by person key

A region database made before the region had migrations (`create_all`) already has these
tables: each is created only if missing, so the first upgrade adopts it as it is.

Revision ID: r0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "region_sites" not in present:
        op.create_table(
            "region_sites",
            sa.Column("site_id", sa.String(length=40), nullable=False),
            sa.Column("last_seq", sa.BigInteger(), nullable=False),
            sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("status", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("site_id"),
        )
    if "region_events" not in present:
        op.create_table(
            "region_events",
            sa.Column("site_id", sa.String(length=40), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("kind", sa.String(length=40), nullable=False),
            sa.Column("actor", sa.String(length=64), nullable=False),
            sa.Column("device", sa.String(length=64), nullable=True),
            sa.Column("visit_id", sa.Integer(), nullable=True),
            sa.Column("payload", sa.Text(), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("site_id", "seq"),
        )
    if "region_doses" not in present:
        op.create_table(
            "region_doses",
            sa.Column("site_id", sa.String(length=40), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("person_key", sa.String(length=64), nullable=True),
            sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("given_on", sa.Date(), nullable=False),
            sa.Column("product", sa.String(length=40), nullable=False),
            sa.Column("manufacturer", sa.String(length=80), nullable=False),
            sa.Column("dose_number", sa.Integer(), nullable=True),
            sa.Column("lot", sa.String(length=60), nullable=True),
            sa.PrimaryKeyConstraint("site_id", "seq"),
        )
        op.create_index("ix_region_doses_person_key", "region_doses", ["person_key"])


def downgrade() -> None:
    op.drop_index("ix_region_doses_person_key", table_name="region_doses")
    op.drop_table("region_doses")
    op.drop_table("region_events")
    op.drop_table("region_sites")
