"""import_summaries.keyed_rows: an import's rows with a listing_key, stored with its figures

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 01:00:00

``listing_changes`` asks of the import and of the previous import of its source whether they
have any keyed row (already-scored rows without URL or title have none, and then there is
nothing to compare). It counted them over the import's rows each time: 0.17 s of a 100,000-row
persist that an established client waits for. The count is now one more figure of the pass
``summaries.record_figures`` already makes when the import ends. Summaries stored before this
revision keep NULL (counting every import's rows here would make the migration as long as the
warehouse is large); for those the diff counts the rows as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("import_summaries", sa.Column("keyed_rows", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_summaries", schema=None) as batch_op:
        batch_op.drop_column("keyed_rows")
