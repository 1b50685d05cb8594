"""import summaries: an import's figures, computed once when it ends

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 05:00:00

``import_summaries`` holds, per import, the figures its summary shows (row counts, score range,
first and last model, top models) and those the market report adds up (scored rows, price
range): ``store.repository.finish_import`` writes them when the import ends, so
``GET /api/imports/{id}`` reads one row instead of aggregating the import's listings on every
poll. Imports that ended before this revision have no row; the first read of their summary (or
of the market report) computes it and stores it (``store.summaries.import_figures``), so no
backfill has to read every listing of the warehouse inside this migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_summaries",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("persisted_rows", sa.Integer(), nullable=False),
        sa.Column("error_rows", sa.Integer(), nullable=False),
        sa.Column("not_gpu_rows", sa.Integer(), nullable=False),
        sa.Column("unknown_model_rows", sa.Integer(), nullable=False),
        sa.Column("warning_rows", sa.Integer(), nullable=False),
        sa.Column("score_min", sa.Float(), nullable=True),
        sa.Column("score_max", sa.Float(), nullable=True),
        sa.Column("score_mean", sa.Float(), nullable=True),
        sa.Column("client_score_min", sa.Float(), nullable=True),
        sa.Column("client_score_max", sa.Float(), nullable=True),
        sa.Column("scored_rows", sa.Integer(), nullable=False),
        sa.Column("price_min", sa.Float(), nullable=True),
        sa.Column("price_max", sa.Float(), nullable=True),
        sa.Column("first_model", sa.String(length=64), nullable=True),
        sa.Column("last_model", sa.String(length=64), nullable=True),
        sa.Column("top_models", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["imports.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id"),
    )


def downgrade() -> None:
    op.drop_table("import_summaries")
