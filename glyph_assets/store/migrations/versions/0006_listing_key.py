"""listings.listing_key: the same listing followed across imports

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 23:55:00

``listing_key`` (see ``glyph_assets/sieve/listing_key.py``) names one marketplace item in every
import that saw it. (listing_key, import_id) serves a listing's history and the price deltas; a
diff sorts each import's own rows (found by the (import_id, import_index) index).
``import_diffs`` keeps what changed between an import and the previous import of its source,
written by the ``listing_changes`` asset.
Listings written before this revision have no key (re-run their import to compute it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from glyph_assets.store.columns import drop_columns, required

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("listings", sa.Column("listing_key", sa.String(length=24), nullable=True))
    op.create_index("ix_listings_key_import", "listings", ["listing_key", "import_id"])
    op.create_table(
        "import_diffs",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("against_import_id", sa.String(length=36), nullable=True),
        *required(
            sa.Integer(),
            "new_listings",
            "gone_listings",
            "repriced_listings",
            "unchanged_listings",
            "unkeyed_listings",
        ),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["imports.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id"),
    )


def downgrade() -> None:
    op.drop_table("import_diffs")
    op.drop_index("ix_listings_key_import", table_name="listings")
    drop_columns("listings", "listing_key")
