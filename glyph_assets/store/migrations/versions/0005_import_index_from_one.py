"""import_index counts from 1, the established glyphd ordinal

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 23:45:00

Rows written before this revision were numbered from 0. Every stored index moves up by one:
listings and row errors (their (import_id, import_index) identity stays unique), and the best
listing a market figure points at. The shift goes through negative numbers first, so no
intermediate row ever collides with its neighbour under the unique constraints (SQLite checks
them row by row during an UPDATE). A downgrade moves them back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NUMBERED = [sa.table(name, sa.column("import_index")) for name in ("listings", "row_errors")]
MARKET = sa.table("model_market_stats", sa.column("best_import_index"))


def _shift(by: int) -> None:
    for table in NUMBERED:
        index = table.c.import_index
        op.execute(table.update().values(import_index=-index - 1))
        op.execute(table.update().values(import_index=-index - 1 + by))
    best = MARKET.c.best_import_index
    op.execute(MARKET.update().where(best.is_not(None)).values(best_import_index=best + by))


def upgrade() -> None:
    _shift(1)


def downgrade() -> None:
    _shift(-1)
