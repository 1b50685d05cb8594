"""listings: an index that serves an import's best-first page

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:00:00

``ORDER BY score DESC NULLS LAST, import_index`` within one import is read straight from
``(import_id, score DESC, import_index)``; it replaces ``(import_id, score)``, whose prefix it
covers. SQLite puts NULLs last in a descending index already and has no ``NULLS LAST`` in index
DDL; PostgreSQL needs it spelled out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    score = sa.text("score DESC NULLS LAST" if postgres else "score DESC")
    op.create_index(
        "ix_listings_import_score_desc", "listings", ["import_id", score, "import_index"]
    )
    op.drop_index("ix_listings_import_score", table_name="listings")


def downgrade() -> None:
    op.create_index("ix_listings_import_score", "listings", ["import_id", "score"])
    op.drop_index("ix_listings_import_score_desc", table_name="listings")
