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

from glyph_assets.store.columns import optional, required

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_summaries",
        *required(sa.String(length=36), "import_id"),
        *required(
            sa.Integer(),
            "persisted_rows",
            "error_rows",
            "not_gpu_rows",
            "unknown_model_rows",
            "warning_rows",
        ),
        *optional(
            sa.Float(),
            "score_min",
            "score_max",
            "score_mean",
            "client_score_min",
            "client_score_max",
        ),
        *required(sa.Integer(), "scored_rows"),
        *optional(sa.Float(), "price_min", "price_max"),
        *optional(sa.String(length=64), "first_model", "last_model"),
        *required(sa.JSON(), "top_models"),
        *required(sa.DateTime(timezone=True), "computed_at"),
        sa.ForeignKeyConstraint(["import_id"], ["imports.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id"),
    )


def downgrade() -> None:
    op.drop_table("import_summaries")
