"""a booking is found by the person's ID number

A booked person who brings only the ID card is checked in as their booking: the kiosk's
card-only request looks up today's bookings by (site_id, id_number, visit_date).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_bookings_site_id_id_number_visit_date",
        "bookings",
        ["site_id", "id_number", "visit_date"],
    )


def downgrade() -> None:
    op.drop_index("ix_bookings_site_id_id_number_visit_date", table_name="bookings")
