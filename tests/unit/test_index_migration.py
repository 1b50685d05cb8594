"""Migration 0005: a warehouse numbered from 0 is renumbered to the established 1-based
import_index, and back on downgrade, on a real SQLite file (PostgreSQL takes the same SQL)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from tests.support.warehouse import insert_rows, warehouse_at

IMPORT_ID = "00000000-0000-4000-8000-000000000001"


def _indexes(url: str) -> tuple[list[int], list[int], list[int]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        listings = [
            r[0] for r in conn.execute(text("SELECT import_index FROM listings ORDER BY 1"))
        ]
        errors = [
            r[0] for r in conn.execute(text("SELECT import_index FROM row_errors ORDER BY 1"))
        ]
        best = [
            r[0] for r in conn.execute(text("SELECT best_import_index FROM model_market_stats"))
        ]
    engine.dispose()
    return listings, errors, best


def test_an_old_warehouse_is_renumbered_from_one_and_back(tmp_path: Path) -> None:
    url, config = warehouse_at(tmp_path, "0004", IMPORT_ID)
    engine = create_engine(url)
    insert_rows(
        engine, "listings", [{"import_id": IMPORT_ID, "import_index": n} for n in (0, 1, 2, 4)]
    )
    error = {"import_id": IMPORT_ID, "import_index": 3, "stage": "clean"}
    insert_rows(engine, "row_errors", [{**error, "reason": "price is missing"}])
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO model_market_stats (canonical_model, currency, listings, imports, "
                "min_price, p10_price, median_price, p90_price, max_price, best_import_id, "
                "best_import_index, window_imports, computed_at) VALUES ('B200', 'USD', 1, 1, "
                "1, 1, 1, 1, 1, :i, 2, 1, '2026-01-01')"
            ),
            {"i": IMPORT_ID},
        )
    engine.dispose()

    command.upgrade(config, "0005")
    assert _indexes(url) == ([1, 2, 3, 5], [4], [3])
    command.downgrade(config, "0004")
    assert _indexes(url) == ([0, 1, 2, 4], [3], [2])
