"""SQLite's two bulk paths (ADBC's C ingest and sqlite3.executemany) store the same rows with
the same SQLite storage classes, replace rather than duplicate, and keep nothing on failure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from glyph_assets.sieve.columns import ERROR_COLUMNS, SCORED_COLUMNS
from glyph_assets.store import pages, repository
from tests.support.warehouse import warehouse_with_import

IMPORT_ID = "00000000-0000-4000-8000-0000000000b1"


def scored_chunk() -> pd.DataFrame:
    """Rows in the shapes a scored chunk takes: Arrow strings, NaN, floats bound for INTEGER
    columns, nullable booleans, a text column of mixed Python values, and row errors."""
    rows = 6
    frame = pd.DataFrame(index=range(rows), columns=SCORED_COLUMNS + ERROR_COLUMNS, dtype=object)
    frame["import_index"] = range(rows)
    frame["title"] = pd.array(
        ["NVIDIA H100 80GB", "=SUM(A1)", None, "RTX 4090 'quoted'", "ä ✓ 中", "x"],
        dtype="string[pyarrow]",
    )
    frame["price"] = [27450.0, float("nan"), 10.5, 1599.99, None, 0.1 + 0.2]
    frame["quantity"] = [1.0, 4.0, None, 2.6, 1.0, 1.0]  # 2.6 rounds to 3 on both paths
    frame["unit_price"] = [27450.0, float("nan"), 2.625, 1599.99, None, 0.1]
    frame["match_alternatives"] = ["RTX_3080_10GB|RTX_3080_12GB", None, None, None, "", "x"]
    frame["is_gpu"] = [True, False, None, True, True, False]
    frame["nvlink"] = pd.array([True, None, False, None, True, False], dtype="boolean")
    frame["seller"] = ["acme", 42, 3.5, None, "b", "c"]  # mixed: a scored upload's free column
    frame["score"] = [71.3, None, 0.0, 100.0, 55.5, 12.25]
    frame["error_stage"] = [None, None, None, None, "clean", None]
    frame["error_field"] = [None, None, None, None, "price", None]
    frame["error_reason"] = [None, None, None, None, "price is missing", None]
    frame["raw_row"] = [None, None, None, None, '{"title": "ä ✓ 中"}', None]
    return frame


def stored(engine: Engine) -> tuple[list[dict], list[dict]]:
    """Each table's rows as stored: every column (but the surrogate id) and its SQLite storage
    class, under ``typeof(column)``."""
    with engine.connect() as conn:
        tables = []
        for table in ("listings", "row_errors"):
            columns = [
                r[1] for r in conn.execute(text(f"PRAGMA table_info({table})")) if r[1] != "id"
            ]
            listed = ", ".join(f'{c}, typeof({c}) AS "typeof({c})"' for c in columns)
            rows = conn.execute(text(f"SELECT {listed} FROM {table} ORDER BY import_index"))
            tables.append([dict(r._mapping) for r in rows])
    return tables[0], tables[1]


def engine_at(path: Path) -> Engine:
    return warehouse_with_import(f"sqlite:///{path}", IMPORT_ID)


def write(engine: Engine, native: bool, chunks: list[pd.DataFrame]) -> None:
    with repository.bulk_writer(engine, native_sqlite=native) as writer:
        repository.write_import_rows(writer, IMPORT_ID, chunks)


def test_both_sqlite_paths_store_identical_rows(glyph_env: object, tmp_path: Path) -> None:
    native, portable = engine_at(tmp_path / "adbc.db"), engine_at(tmp_path / "executemany.db")
    chunk = scored_chunk()
    write(native, True, [chunk.iloc[:3], chunk.iloc[3:]])
    write(portable, False, [chunk.iloc[:3], chunk.iloc[3:]])
    listings, errors = stored(native)
    assert (listings, errors) == stored(portable)
    assert len(listings) == 5 and len(errors) == 1
    assert (listings[0]["import_key"], listings[0]["typeof(import_key)"]) == (1, "integer")
    stored_lot = [
        (r["unit_price"], r["typeof(unit_price)"], r["match_alternatives"]) for r in listings
    ]
    # A unit price equal to the price is not stored again; a lot's is, as a real.
    assert stored_lot[0] == (None, "null", "RTX_3080_10GB|RTX_3080_12GB")
    assert stored_lot[2] == (2.625, "real", None)
    for engine in (native, portable):  # and both read back as written
        [rows] = list(pages.listing_batches(engine, IMPORT_ID, 10))
        read = [dict(zip(pages.LISTING_KEYS, row, strict=True)) for row in rows]
        assert [r["unit_price"] for r in read] == [27450.0, None, 2.625, 1599.99, 0.1]
        assert [r["nvlink"] for r in read] == [1, None, 0, None, 0]


def test_replace_keeps_one_copy_and_a_failure_keeps_the_old_rows(
    glyph_env: object, tmp_path: Path
) -> None:
    engine = engine_at(tmp_path / "glyph.db")
    chunk = scored_chunk()
    for _ in range(2):
        counts = repository.replace_import_rows(engine, IMPORT_ID, [chunk])
    assert counts["persisted_rows"] == 5 and counts["error_rows"] == 1
    before = stored(engine)
    assert len(before[0]) == 5

    def failing() -> object:
        yield chunk.iloc[:2]
        raise RuntimeError("killed mid-persist")

    with pytest.raises(RuntimeError):
        repository.replace_import_rows(engine, IMPORT_ID, failing())
    assert stored(engine) == before
