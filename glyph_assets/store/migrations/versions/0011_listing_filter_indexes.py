"""listings: indexes for the documented filters and sorts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 05:20:00

Each serves one documented read without reading an import (or the warehouse) row by row:

- ``ix_listings_import_model (import_id, canonical_model, import_index)``: one import's page of
  one model (``GET /api/imports/{id}/listings?model=...``) in import order, and its count;
- ``ix_listings_vendor_score (lower(vendor), score DESC, import_id, import_index)``: listings of
  one vendor above a score, best first (``GET /api/listings?vendor=&min_score=&sort=-score``);
- ``ix_listings_model_score (canonical_model, score DESC, import_id, import_index)`` replaces
  ``(canonical_model, score)``: one model's listings best first across imports, in the page's
  full order (the old one left a sort of every row of the model).

On PostgreSQL the score columns are ``DESC NULLS LAST``, the order the pages ask for; SQLite
puts NULLs last in a descending index already and has no NULLS clause in index DDL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _score() -> sa.TextClause:
    postgres = op.get_bind().dialect.name == "postgresql"
    return sa.text("score DESC NULLS LAST" if postgres else "score DESC")


def upgrade() -> None:
    score = _score()
    op.create_index(
        "ix_listings_import_model", "listings", ["import_id", "canonical_model", "import_index"]
    )
    op.create_index(
        "ix_listings_vendor_score",
        "listings",
        [sa.text("lower(vendor)"), score, "import_id", "import_index"],
    )
    op.drop_index("ix_listings_model_score", table_name="listings")
    op.create_index(
        "ix_listings_model_score",
        "listings",
        ["canonical_model", score, "import_id", "import_index"],
    )


def downgrade() -> None:
    op.drop_index("ix_listings_model_score", table_name="listings")
    op.create_index("ix_listings_model_score", "listings", ["canonical_model", "score"])
    op.drop_index("ix_listings_vendor_score", table_name="listings")
    op.drop_index("ix_listings_import_model", table_name="listings")
