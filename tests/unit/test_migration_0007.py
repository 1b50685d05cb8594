"""Migration 0007: rows stored before unit_price existed keep counting as one card each."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from tests.support.warehouse import insert_rows, warehouse_at

IMPORT_ID = "00000000-0000-4000-8000-000000000005"


def test_unit_price_of_old_rows_is_their_price_and_downgrade_drops_the_columns(
    glyph_env: object, tmp_path: Path
) -> None:
    url, config = warehouse_at(tmp_path, "0006", IMPORT_ID)
    engine = create_engine(url)
    insert_rows(
        engine,
        "listings",
        [
            {"import_id": IMPORT_ID, "import_index": 0, "price": 1200.0},
            {"import_id": IMPORT_ID, "import_index": 1, "price": None},
        ],
    )
    command.upgrade(config, "0007")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT unit_price, match_alternatives FROM listings ORDER BY import_index")
        ).all()
    assert [tuple(r) for r in rows] == [(1200.0, None), (None, None)]
    command.downgrade(config, "0006")
    with engine.connect() as conn:
        columns = {r[1] for r in conn.execute(text("PRAGMA table_info(listings)"))}
    assert "unit_price" not in columns and "match_alternatives" not in columns
    engine.dispose()
