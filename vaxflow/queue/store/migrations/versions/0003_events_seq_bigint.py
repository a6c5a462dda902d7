"""event numbers are 64-bit on PostgreSQL (a region's shared log outgrows 2^31)

A region of 50 stadium sites writes about 7 million events a day into one `events` table:
a 32-bit serial would run out within a year. SQLite's INTEGER PRIMARY KEY is 64-bit already.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("events", "seq", type_=sa.BigInteger(), existing_nullable=False)
    op.execute("ALTER SEQUENCE events_seq_seq AS bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER SEQUENCE events_seq_seq AS integer")
    op.alter_column("events", "seq", type_=sa.Integer(), existing_nullable=False)
