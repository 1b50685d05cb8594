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

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_market_stats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("canonical_model", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("listings", sa.Integer(), nullable=False),
        sa.Column("imports", sa.Integer(), nullable=False),
        sa.Column("min_price", sa.Float(), nullable=False),
        sa.Column("p10_price", sa.Float(), nullable=False),
        sa.Column("median_price", sa.Float(), nullable=False),
        sa.Column("p90_price", sa.Float(), nullable=False),
        sa.Column("max_price", sa.Float(), nullable=False),
        sa.Column("median_price_per_gb_vram", sa.Float(), nullable=True),
        sa.Column("best_import_id", sa.String(length=36), nullable=True),
        sa.Column("best_import_index", sa.Integer(), nullable=True),
        sa.Column("best_price", sa.Float(), nullable=True),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("window_imports", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("canonical_model", "currency", name="uq_model_market_stats_model"),
    )
    op.create_table(
        "price_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("canonical_model", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("previous_import_id", sa.String(length=36), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("listings", sa.Integer(), nullable=False),
        sa.Column("previous_listings", sa.Integer(), nullable=False),
        sa.Column("median_price", sa.Float(), nullable=False),
        sa.Column("previous_median_price", sa.Float(), nullable=False),
        sa.Column("abs_change", sa.Float(), nullable=False),
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
