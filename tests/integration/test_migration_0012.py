"""Migration 0012 converts a warehouse written by the release before it (revision 0011) in place,
on SQLite and on PostgreSQL: every listing, row error, summary and value the API shows reads
back unchanged through the store's reads at head, row ids included, and a downgrade gives the
0011 rows back.

The 0011 warehouse is written as that release wrote it: the import recorded as
``create_import`` did, every listing and row error as ``replace_import_rows`` inserted them (the
pipeline's own rows for a generated file, plus the cases the lean schema must not lose: a lot's
unit price, a client's own specs, a title's VRAM, rows without specs or price), the summary as
``finish_import`` stored it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text

from glyph_assets.sieve.columns import LISTING_COLUMNS
from glyph_assets.sieve.pipeline import Stages, read_chunks
from glyph_assets.store import changes, pages, repository, summaries
from glyph_assets.store.db import alembic_config, dispose_engines, migrate
from glyph_assets.tooling.bench.datagen import generate_realistic_csv
from tests.support import pg

IMPORTS = ["7b0e0000-0000-4000-8000-000000000002", "1a0e0000-0000-4000-8000-000000000001"]
# 0011's listings columns: the integer ones of the specs bind as integers there.
INTEGER_COLUMNS = {"import_index", "quantity", "mig_instances", "pcie_gen", "launch_year"}
BOOLEAN_COLUMNS = {"is_gpu", "nvlink"}
ERROR_COLUMNS = ["import_index", "stage", "field", "reason", "raw_row"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A generated file of real-looking uploads through every stage of the pipeline."""
    path = generate_realistic_csv(tmp_path_factory.mktemp("gen") / "uploads.csv", 400)
    return pd.concat(list(Stages(kind="raw", source="t").run(read_chunks(path))))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'release.db'}"
        return
    pg.require_postgres()
    with pg.fresh_databases("glyph_0012") as databases:
        yield databases.database_url
        dispose_engines()


def _value(name: str, value: Any) -> Any:
    """A frame's value as 0011's writer bound it: None for missing, integers and booleans for
    their columns, floats as floats, text as text."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if name in INTEGER_COLUMNS:
        return int(round(float(value)))
    if name in BOOLEAN_COLUMNS:
        return bool(value)
    if isinstance(value, float):
        return float(value)
    return value


def _import_rows(scored: pd.DataFrame, n: int) -> pd.DataFrame:
    """The import's rows: the pipeline's, with the cases a lean row must keep exactly."""
    frame = scored.reset_index(drop=True).copy()
    failed = frame.index[-3:]  # rows the clean stage refused
    frame.loc[failed, ["error_stage", "error_field", "error_reason", "raw_row"]] = [
        "clean",
        "price",
        "price is not a number",
        '{"title": "RTX 4090", "price": "call us"}',
    ]
    listings = frame.index[frame["error_stage"].isna()]
    gpus = [i for i in listings if pd.notna(frame.at[i, "canonical_model"])]
    frame.loc[gpus[0], "unit_price"] = frame.at[gpus[0], "price"] / 4  # "Lot of 4"
    frame.loc[gpus[1], ["tdp_watts", "nvlink"]] = [123.0, True]  # a client's own specs
    frame.loc[gpus[2], "vram_gb"] = 3.0  # the title's VRAM where the registry has none
    frame.loc[gpus[3], ["price", "unit_price", "score", "score_value"]] = None
    frame.loc[gpus[4], "client_score"] = 0.87
    if n:  # the later import: prices moved, so history and deltas have something to show
        frame.loc[gpus[5:40], "price"] = frame.loc[gpus[5:40], "price"] * 1.1
        frame.loc[gpus[5:40], "unit_price"] = frame.loc[gpus[5:40], "price"]
    return frame


def _write_release(engine: Engine, scored: pd.DataFrame) -> None:
    """Two imports, their listings, row errors and summaries, as revision 0011's store wrote."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    listing_columns = ["import_id", *LISTING_COLUMNS]
    error_columns = ["import_id", *ERROR_COLUMNS]
    for n, import_id in enumerate(IMPORTS):
        frame = _import_rows(scored, n)
        good = frame.loc[frame["error_stage"].isna()]
        bad = frame.loc[frame["error_stage"].notna()].rename(
            columns={"error_stage": "stage", "error_field": "field", "error_reason": "reason"}
        )
        created = now + timedelta(hours=n)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO imports (import_id, source, sha256, size_bytes, kind, status,"
                    " created_at, updated_at, total_rows, persisted_rows, error_rows,"
                    " not_gpu_rows, unknown_model_rows) VALUES (:i, 'shop', :h, 1, 'raw',"
                    " 'partially_succeeded', :c, :c, :t, :p, :e, :g, :u)"
                ),
                {
                    "i": import_id,
                    "h": "0" * 64,
                    "c": created,
                    "t": len(frame),
                    "p": len(good),
                    "e": len(bad),
                    "g": int((good["is_gpu"] == False).sum()),  # noqa: E712
                    "u": int((good["reject_reason"] == "unknown_model").sum()),
                },
            )
            for table, columns, rows in (
                ("listings", listing_columns, good.assign(import_id=import_id)),
                ("row_errors", error_columns, bad.assign(import_id=import_id)),
            ):
                marks = ", ".join(f":{c}" for c in columns)
                conn.execute(
                    text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"),
                    [{c: _value(c, row[c]) for c in columns} for _, row in rows.iterrows()],
                )
        # finish_import stored the figures the same way at 0011: computed from the rows in SQL.
        with engine.begin() as conn:
            figures = conn.execute(
                text(
                    "SELECT count(*), sum(CASE WHEN warnings IS NOT NULL THEN 1 ELSE 0 END),"
                    " min(score), max(score), avg(score), count(score), min(price), max(price)"
                    " FROM listings WHERE import_id = :i"
                ),
                {"i": import_id},
            ).one()
            conn.execute(
                text(
                    "INSERT INTO import_summaries (import_id, persisted_rows, error_rows,"
                    " not_gpu_rows, unknown_model_rows, warning_rows, score_min, score_max,"
                    " score_mean, client_score_min, client_score_max, scored_rows, price_min,"
                    " price_max, first_model, last_model, top_models, computed_at) VALUES"
                    " (:i, :p, :e, 0, 0, :w, :smin, :smax, :smean, 0.87, 0.87, :scored,"
                    " :pmin, :pmax, 'A', 'B', '[]', :c)"
                ),
                {
                    "i": import_id,
                    "p": figures[0],
                    "e": len(bad),
                    "w": figures[1],
                    "smin": figures[2],
                    "smax": figures[3],
                    "smean": float(figures[4]),
                    "scored": figures[5],
                    "pmin": figures[6],
                    "pmax": figures[7],
                    "c": created,
                },
            )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite returns booleans as 0 / 1 from raw SQL."""
    return {k: (bool(v) if k in BOOLEAN_COLUMNS and v is not None else v) for k, v in row.items()}


def _read_release(engine: Engine) -> dict[str, Any]:
    """Everything the 0011 warehouse holds that a client can see, read with plain SQL."""
    found: dict[str, Any] = {}
    keys = ", ".join(pages.LISTING_KEYS)
    with engine.connect() as conn:
        for import_id in IMPORTS:
            found[import_id] = {
                "listings": [
                    _plain(dict(r._mapping))
                    for r in conn.execute(
                        text(
                            f"SELECT {keys} FROM listings WHERE import_id = :i"
                            " ORDER BY import_index"
                        ),
                        {"i": import_id},
                    )
                ],
                "ids": [
                    tuple(r)
                    for r in conn.execute(
                        text(
                            "SELECT import_index, id FROM listings WHERE import_id = :i ORDER BY 1"
                        ),
                        {"i": import_id},
                    )
                ],
                "errors": [
                    dict(r._mapping)
                    for r in conn.execute(
                        text(
                            "SELECT import_index, stage, field, reason, raw_row FROM row_errors"
                            " WHERE import_id = :i ORDER BY import_index"
                        ),
                        {"i": import_id},
                    )
                ],
                "summary": dict(
                    conn.execute(
                        text("SELECT * FROM import_summaries WHERE import_id = :i"),
                        {"i": import_id},
                    )
                    .one()
                    ._mapping
                ),
            }
    return found


def test_a_release_warehouse_is_converted_in_place_and_reads_back_unchanged(
    url: str, scored: pd.DataFrame, glyph_env: object
) -> None:
    config = alembic_config(url)
    command.upgrade(config, "0011")
    release = create_engine(url)
    _write_release(release, scored)
    before = _read_release(release)
    release.dispose()

    engine = migrate(url)  # what any glyph process does on start: upgrade to head
    with engine.connect() as conn:
        keys = conn.execute(
            text("SELECT import_id, import_key FROM imports ORDER BY import_key")
        ).all()
        spec_sets = conn.execute(text("SELECT count(*) FROM spec_sets")).scalar_one()
        stored_units = conn.execute(
            text("SELECT count(*) FROM listings WHERE unit_price IS NOT NULL")
        ).scalar_one()
    # Keys in order of creation; a handful of spec sets; a unit price only for the lot.
    assert [tuple(k) for k in keys] == [(IMPORTS[0], 1), (IMPORTS[1], 2)]
    assert 1 < spec_sets < 60
    assert stored_units == 2  # the lot of 4, in each import

    for import_id in IMPORTS:
        was = before[import_id]
        listings = was["listings"]
        assert len(listings) > 300
        # The CSV export's read and the API's two page paths give every value back.
        batches = [row for batch in pages.listing_batches(engine, import_id, 97) for row in batch]
        assert [dict(zip(pages.LISTING_KEYS, row, strict=True)) for row in batches] == [
            {k: v for k, v in row.items()} for row in _with_raw_booleans(listings, engine)
        ]
        whole = pages.ListingWindow(limit=1000)
        found = pages.list_listings(engine, pages.ListingFilters(import_id=import_id), whole)
        assert (found.items, found.total) == (listings, len(listings))
        plain = pages.import_listing_page(engine, pages.ListingFilters(import_id=import_id), whole)
        assert plain == (listings, len(listings))
        best = pages.list_listings(
            engine,
            pages.ListingFilters(import_id=import_id),
            pages.ListingWindow(sort="-score", limit=1000),
        ).items
        assert sorted(best, key=lambda r: r["import_index"]) == listings
        errors, error_total = pages.list_errors(
            engine, import_id, window=pages.PageWindow("import_index", 1000)
        )
        assert (errors, error_total) == (was["errors"], len(was["errors"]))
        assert error_total > 0
        with engine.connect() as conn:
            ids = conn.execute(
                text(
                    "SELECT l.import_index, l.id FROM listings l JOIN imports i"
                    " ON i.import_key = l.import_key WHERE i.import_id = :i ORDER BY 1"
                ),
                {"i": import_id},
            ).all()
        assert [tuple(r) for r in ids] == was["ids"]
        # 0013 drops the stored summaries (to store them again with their price points): the
        # first read stores them again from the lean rows.
        stored = summaries.import_figures(engine, import_id, ended=True)
        assert (stored["persisted_rows"], stored["score_max"]) == (
            was["summary"]["persisted_rows"],
            was["summary"]["score_max"],
        )
        with engine.connect() as conn:
            summary = conn.execute(
                text("SELECT * FROM import_summaries WHERE import_id = :i"), {"i": import_id}
            ).one()
        assert summary.persisted_rows == was["summary"]["persisted_rows"] == len(listings)
        with engine.connect() as conn:  # the figures read from the lean rows agree
            figures = summaries.row_figures(conn, import_id, summaries.ROW_FIGURES)
        assert figures["persisted_rows"] == len(listings)
        assert figures["price_max"] == was["summary"]["price_max"]
        assert figures["score_mean"] == pytest.approx(was["summary"]["score_mean"])

    # A listing across both imports: its history shows what each import stored.
    moved = next(
        row
        for row, later in zip(
            before[IMPORTS[0]]["listings"], before[IMPORTS[1]]["listings"], strict=True
        )
        if row["price"] != later["price"] and row["listing_key"]
    )
    seen = changes.history(engine, moved["listing_key"])
    assert [(s["import_id"], s["price"], s["unit_price"]) for s in seen] == [
        (import_id, row["price"], row["unit_price"])
        for import_id in IMPORTS
        for row in before[import_id]["listings"]
        if row["listing_key"] == moved["listing_key"]
    ]
    deltas = changes.price_deltas(engine, changes.DeltaFilters(), limit=1000)
    later_ids = dict(before[IMPORTS[1]]["ids"])
    assert deltas and all(d["id"] in later_ids.values() for d in deltas)

    # An import recorded after the conversion gets the next key; its rows are written lean.
    record = repository.create_import(
        engine,
        import_id="00000000-0000-4000-8000-000000000012",
        source="shop",
        sha256="1" * 64,
        size_bytes=1,
        kind="raw",
    )
    assert record.import_key == 3

    command.downgrade(alembic_config(url), "0011")
    dispose_engines()
    old = create_engine(url)
    back = _read_release(old)
    old.dispose()

    def rows_only(read: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # The summaries are not compared: 0013 drops them and the first read stores them anew.
        return {i: {k: v for k, v in d.items() if k != "summary"} for i, d in read.items()}

    assert rows_only(back) == rows_only(before)


def _with_raw_booleans(rows: list[dict[str, Any]], engine: Engine) -> list[dict[str, Any]]:
    """``listing_batches`` hands back what the driver gives: 0 / 1 for booleans on SQLite."""
    if engine.dialect.name != "sqlite":
        return rows
    return [
        {k: (int(v) if k in BOOLEAN_COLUMNS and v is not None else v) for k, v in row.items()}
        for row in rows
    ]
