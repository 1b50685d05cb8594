"""Figures the console and the diff read instead of aggregating rows per request

``model_price_points``: per import, model and currency, the listings and the p10 / median / p90
card price, stored with the import's summary when it ends (``summaries.record_figures``); a
model's price chart (``GET /api/models/{id}/prices``, ``/models/{id}``) read every listing of the
model in every import before. Summaries stored before this revision have no points, so they are
deleted here and stored again, with their points, the first time they are needed (as imports
that ended before 0009 got theirs).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 08:10:00

``import_diffs.by_model`` and ``import_diff_runs``: ``GET /api/imports/{id}/diff`` answers the
counts and the per-model counts of a diff; for the default pair (the previous import of the same
source) the listing_changes asset has already compared both imports, so it keeps the per-model
counts beside the counts and the API reads them instead of comparing two million-row imports
again per request. ``import_diff_runs`` keeps
where each kind of change lies in the import (stretches of consecutive rows of one kind), so a
page of new, gone, repriced or unchanged listings is found without comparing either. Diffs
recorded before this revision have NULL and no runs: the API compares those pairs on demand, and
the asset's next run records them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from glyph_assets.store.columns import required

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("import_diffs", sa.Column("by_model", sa.JSON(), nullable=True))
    op.create_table(
        "import_diff_runs",
        *required(sa.String(length=36), "import_id"),
        *required(sa.String(length=16), "change"),
        sa.Column("members_before", sa.Integer(), autoincrement=False, nullable=False),
        *required(sa.Integer(), "members", "first_index", "last_index"),
        sa.ForeignKeyConstraint(["import_id"], ["import_diffs.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id", "change", "members_before"),
    )
    op.create_index(
        "ix_import_diff_runs_last",
        "import_diff_runs",
        ["import_id", "change", "last_index"],
        unique=False,
    )

    op.create_table(
        "model_price_points",
        *required(sa.String(length=36), "import_id"),
        *required(sa.String(length=64), "canonical_model"),
        *required(sa.String(length=8), "currency"),
        *required(sa.Integer(), "listings"),
        *required(sa.Float(), "p10_price", "median_price", "p90_price"),
        sa.ForeignKeyConstraint(["import_id"], ["import_summaries.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id", "canonical_model", "currency"),
    )
    op.create_index(
        "ix_model_price_points_model", "model_price_points", ["canonical_model"], unique=False
    )
    # A stored summary now comes with its price points: the summaries stored before have none,
    # so they go, and each is stored again with its points the first time it is needed.
    op.execute("DELETE FROM import_summaries")


def downgrade() -> None:
    op.drop_index("ix_model_price_points_model", table_name="model_price_points")
    op.drop_table("model_price_points")
    op.drop_index("ix_import_diff_runs_last", table_name="import_diff_runs")
    op.drop_table("import_diff_runs")
    with op.batch_alter_table("import_diffs", schema=None) as batch_op:
        batch_op.drop_column("by_model")
