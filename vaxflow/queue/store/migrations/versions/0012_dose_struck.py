"""dose_struck: a dose given in error is struck out, not deleted (issue 15)

Who struck it, why and when; the registries get the same dose key with RXA-21 D (HL7) and
status entered-in-error (FHIR), and the site's counts, exports and histories leave it out.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("doses") as batch_op:
        batch_op.add_column(sa.Column("struck_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("struck_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("struck_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("doses") as batch_op:
        batch_op.drop_column("struck_reason")
        batch_op.drop_column("struck_by")
        batch_op.drop_column("struck_at")
