"""bookings carry earlier doses and their source; visits carry identity, screening, consent

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prior_doses", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=20), nullable=True))
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("sex", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("screening", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("consent_version", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("review_reasons", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_visits_id_number_site_id"), ["id_number", "site_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_id_number_site_id"))
        batch_op.drop_column("review_reasons")
        batch_op.drop_column("consent_version")
        batch_op.drop_column("screening")
        batch_op.drop_column("sex")
        batch_op.drop_column("id_type")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("source")
        batch_op.drop_column("prior_doses")
