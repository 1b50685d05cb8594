"""market tables: model_market_stats and price_movements

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 05:00:00

Both tables are derived (recomputed by the market assets on every refresh), so they carry no
foreign key to ``imports``: a refresh replaces their whole content.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from glyph_assets.store.columns import market_key_columns, optional, required

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_market_stats",
        *market_key_columns(),
        *required(sa.Integer(), "listings", "imports"),
        *required(sa.Float(), "min_price", "p10_price", "median_price", "p90_price", "max_price"),
        sa.Column("median_price_per_gb_vram", sa.Float(), nullable=True),
        sa.Column("best_import_id", sa.String(length=36), nullable=True),
        sa.Column("best_import_index", sa.Integer(), nullable=True),
        *optional(sa.Float(), "best_price", "best_score"),
        sa.Column("window_imports", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("canonical_model", "currency", name="uq_model_market_stats_model"),
    )
    op.create_table(
        "price_movements",
        *market_key_columns(),
        sa.Column("source", sa.String(length=200), nullable=False),
        # each figure of this import beside the previous import's
        *required(sa.String(length=36), "import_id", "previous_import_id"),
        *required(sa.DateTime(timezone=True), "imported_at", "previous_imported_at"),
        *required(sa.Integer(), "listings", "previous_listings"),
        *required(sa.Float(), "median_price", "previous_median_price", "abs_change"),
        sa.Column("pct_change", sa.Float(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "canonical_model", "currency", "source", "import_id", name="uq_price_movements_step"
        ),
    )
    with op.batch_alter_table("price_movements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_movements_import_id"), ["import_id"], unique=False
        )
        batch_op.create_index(
            "ix_price_movements_model", ["canonical_model", "source"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("price_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_price_movements_model")
        batch_op.drop_index(batch_op.f("ix_price_movements_import_id"))
    op.drop_table("price_movements")
    op.drop_table("model_market_stats")
