"""import_diffs.by_model and import_diff_runs: the recorded diff, read instead of recomputed

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06 08:10:00

``GET /api/imports/{id}/diff`` answers the counts and the per-model counts of a diff; for the
default pair (the previous import of the same source) the listing_changes asset has already
compared both imports, so it keeps the per-model counts beside the counts and the API reads them
instead of comparing two million-row imports again per request. ``import_diff_runs`` keeps
where each kind of change lies in the import (stretches of consecutive rows of one kind), so a
page of new, gone, repriced or unchanged listings is found without comparing either. Diffs
recorded before this revision have NULL and no runs: the API compares those pairs on demand, and
the asset's next run records them.

Numbered 0013 because 0012 is another branch's; whoever merges second points ``down_revision``
at the other's revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("import_diffs", sa.Column("by_model", sa.JSON(), nullable=True))
    op.create_table(
        "import_diff_runs",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("members_before", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("first_index", sa.Integer(), nullable=False),
        sa.Column("last_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["import_diffs.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id", "change", "members_before"),
    )
    op.create_index(
        "ix_import_diff_runs_last",
        "import_diff_runs",
        ["import_id", "change", "last_index"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_import_diff_runs_last", table_name="import_diff_runs")
    op.drop_table("import_diff_runs")
    with op.batch_alter_table("import_diffs", schema=None) as batch_op:
        batch_op.drop_column("by_model")
