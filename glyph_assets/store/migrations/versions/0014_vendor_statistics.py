"""listings: PostgreSQL statistics on lower(vendor), so the planner knows how many rows a vendor has

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 15:20:00

``ix_listings_vendor_score`` is a partial expression index (``lower(vendor)``, rows with a
vendor only), and PostgreSQL keeps no statistics on the expression of a partial index: it guessed
that under half a percent of the rows are a vendor's (8,458 of 2,000,000) where 22 % were
(438,890). With that guess, the bounded count of ``GET /api/listings?vendor=...``
(``pages.list_listings``, at most 10,000 matches past the page) was planned as a bitmap scan
that gathers every match before the count can stop, 33 ms on ten 200,000-row imports, where
reading that index until the 10,100th match takes 10 ms. Extended statistics on the expression
(PostgreSQL 14 and later; ``ANALYZE`` and autovacuum fill them) give the planner the real
share. SQLite's planner uses the index as it is: nothing to do there, nor on a PostgreSQL older
than 14 (the statement does not exist there).
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

STATISTICS = "st_listings_lower_vendor"


def _expression_statistics() -> bool:
    """PostgreSQL 14 or later: CREATE STATISTICS takes an expression."""
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.dialect.server_version_info >= (14,)


def upgrade() -> None:
    if _expression_statistics():
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} ON (lower(vendor)) FROM listings")
        op.execute("ANALYZE listings")


def downgrade() -> None:
    if _expression_statistics():
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
