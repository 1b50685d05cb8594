"""unit price and match alternatives on listings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 00:00:00

``listings.unit_price`` is the price of one card: the listing's price divided by the lot it buys
("Lot of 4", "4pcs", "2x RTX 3090"); the score's value component and the market figures read it.
Rows stored before this revision get ``unit_price = price``: they were scored and counted as one
card each, and keeping that makes the market figures over old and new imports agree with what
was published before. ``listings.match_alternatives`` holds the ids a title leaves open, the
chosen one first ("RTX_3080_10GB|RTX_3080_12GB" for an inferred match); NULL for old rows.
Plain ``ADD COLUMN`` on both dialects, then one ``UPDATE``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from glyph_assets.store.columns import add_columns, drop_columns

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_columns(
        "listings",
        sa.Column("unit_price", sa.Float(), nullable=True),
        sa.Column("match_alternatives", sa.Text(), nullable=True),
    )
    op.execute("UPDATE listings SET unit_price = price WHERE unit_price IS NULL")


def downgrade() -> None:
    drop_columns("listings", "match_alternatives", "unit_price")
