"""import_diffs.by_model: the recorded diff's per-model summary

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06 08:10:00

``GET /api/imports/{id}/diff`` answers the counts and the per-model counts of a diff; for the
default pair (the previous import of the same source) the listing_changes asset has already
compared both imports, so it keeps the per-model counts beside the counts and the API reads them
instead of comparing two million-row imports again per request. Rows recorded before this
revision have NULL: the API compares those pairs on demand, and the asset's next run fills it.

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


def downgrade() -> None:
    with op.batch_alter_table("import_diffs", schema=None) as batch_op:
        batch_op.drop_column("by_model")
