"""scored contract: the client's score kept as sent, and an import's score scale and warnings

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 23:40:00

``listings.client_score`` holds the score an already-scored row arrived with, exactly as sent
(0.92 stays 0.92); ``listings.score`` stays glyph's 0-100 figure. ``imports.score_scale`` records
the scale the client scores were read on (declared or detected) and ``imports.warnings`` the
import-level warnings a summary shows. Plain ``ADD COLUMN`` on both dialects: nullable columns,
so existing rows need no rewrite.
"""

from __future__ import annotations

import sqlalchemy as sa

from glyph_assets.store.columns import add_columns, drop_columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_columns("listings", sa.Column("client_score", sa.Float(), nullable=True))
    add_columns(
        "imports",
        sa.Column("score_scale", sa.String(length=8), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    drop_columns("imports", "warnings", "score_scale")
    drop_columns("listings", "client_score")
