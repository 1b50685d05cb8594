"""model_market_stats.mean_price: the one market table serves every market figure

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:10:00

``GET /api/models`` answers the established ``avg_price`` beside min / median / max; it now reads
``model_market_stats`` (written by the market assets) instead of aggregating every listing, so
the table carries the mean price of one card too. Rows written before this revision have NULL
until the next refresh of the asset replaces the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_market_stats", sa.Column("mean_price", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_market_stats", schema=None) as batch_op:
        batch_op.drop_column("mean_price")
