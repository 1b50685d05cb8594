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

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("listings", "row_errors")


def _shift(by: int) -> None:
    for table in TABLES:
        op.execute(f"UPDATE {table} SET import_index = -import_index - 1")  # noqa: S608
        op.execute(f"UPDATE {table} SET import_index = -import_index - 1 + {by}")  # noqa: S608
    op.execute(
        "UPDATE model_market_stats SET best_import_index = best_import_index + "  # noqa: S608
        f"{by} WHERE best_import_index IS NOT NULL"
    )


def upgrade() -> None:
    _shift(1)


def downgrade() -> None:
    _shift(-1)
