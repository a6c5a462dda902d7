"""visit_identity: a number typed at the desk (household register) and a minor's guardian

One row per visit whose person was not simply identified by their own card at the kiosk:
where the number came from, the staff member who typed it, and the guardian who consented
for a minor (document, name, birth date, relation, consent version, when).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visit_identity",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("id_source", sa.String(length=20), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=True),
        sa.Column("guardian_id_type", sa.String(length=20), nullable=True),
        sa.Column("guardian_id_number", sa.String(length=40), nullable=True),
        sa.Column("guardian_name", sa.String(length=100), nullable=True),
        sa.Column("guardian_birth_date", sa.Date(), nullable=True),
        sa.Column("guardian_relation", sa.String(length=20), nullable=True),
        sa.Column("guardian_consent_version", sa.String(length=40), nullable=True),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_identity_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_visit_identity")),
    )


def downgrade() -> None:
    op.drop_table("visit_identity")
