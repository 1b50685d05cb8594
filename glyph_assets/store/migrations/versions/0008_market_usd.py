"""USD-equivalents beside the market figures

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 05:00:00

``model_market_stats`` and ``price_movements`` stay per currency; where a rate table is
configured (``GLYPH_FX_RATES_PATH``, ``glyph_assets/sieve/fx.py``) the market assets add each
price's USD-equivalent beside it, with the rate used, the rate's date and, where there is no
rate, why. Only new nullable columns: both tables are replaced on the next refresh, rows written
before keep NULLs until then.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RATE_COLUMNS = [
    ("usd_rate", sa.Float()),
    ("usd_rate_date", sa.Date()),
    ("usd_reason", sa.String(length=40)),
]
COLUMNS = {
    "model_market_stats": [
        *RATE_COLUMNS,
        ("min_price_usd", sa.Float()),
        ("p10_price_usd", sa.Float()),
        ("median_price_usd", sa.Float()),
        ("p90_price_usd", sa.Float()),
        ("max_price_usd", sa.Float()),
    ],
    "price_movements": [
        *RATE_COLUMNS,
        ("median_price_usd", sa.Float()),
        *[(f"previous_{name}", kind) for name, kind in RATE_COLUMNS],
        ("previous_median_price_usd", sa.Float()),
        ("abs_change_usd", sa.Float()),
    ],
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for name, kind in columns:
            op.add_column(table, sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in reversed(columns):
                batch_op.drop_column(name)
