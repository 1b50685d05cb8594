"""An import's figures are computed once, when it ends, and read from import_summaries after
(glyph_assets.store.summaries, repository.finish_import, migration 0009)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, select, text, update

from glyph_assets.settings import Settings
from glyph_assets.store import repository, summaries
from glyph_assets.store.models import ImportSummary, Listing
from glyph_assets.store.status import ImportStatus
from tests.support.warehouse import insert_rows, warehouse_at, warehouse_with_import

IMPORT_ID = "00000000-0000-4000-8000-000000000016"


@pytest.fixture
def engine(glyph_env: Settings) -> Iterator[Engine]:
    yield warehouse_with_import(glyph_env.sqlalchemy_url, IMPORT_ID)


def _write(engine: Engine) -> None:
    n = 4
    frame = pd.DataFrame(
        {
            "import_index": [1, 2, 3, 4],
            "title": ["RTX 4090", "RTX 4090 b", "H100", "a mouse"],
            "canonical_model": ["RTX_4090", "RTX_4090", "H100_PCIE_80GB", None],
            "price": [1800.0, 2000.0, 30000.0, 10.0],
            "unit_price": [900.0, 2000.0, 30000.0, 10.0],
            "score": [80.0, 70.0, 95.0, None],
            "is_gpu": [True, True, True, False],
            "reject_reason": [None, None, None, "not_gpu:accessory"],
            "warnings": [None, "odd", None, None],
            "error_stage": [None] * n,
            "error_field": [None] * n,
            "error_reason": [None] * n,
        }
    )
    repository.replace_import_rows(engine, IMPORT_ID, [frame])


def _stored(engine: Engine) -> list[ImportSummary]:
    with engine.connect() as conn:
        return list(conn.execute(select(ImportSummary.__table__)).all())


def test_the_end_of_an_import_stores_its_figures(engine: Engine) -> None:
    _write(engine)
    assert not _stored(engine)  # nothing before the import ends
    repository.finish_import(engine, IMPORT_ID, ImportStatus.SUCCEEDED)
    [row] = _stored(engine)
    assert (row.persisted_rows, row.error_rows, row.not_gpu_rows, row.warning_rows) == (4, 0, 1, 1)
    assert (row.score_min, row.score_max, row.first_model, row.last_model) == (
        70.0,
        95.0,
        "RTX_4090",
        "UNKNOWN",
    )
    assert row.top_models[0] == {
        "canonical_model": "RTX_4090",
        "listings": 2,
        "min_price": 900.0,
        "max_price": 2000.0,
    }
    assert [m["canonical_model"] for m in row.top_models] == ["RTX_4090", "H100_PCIE_80GB"]


def test_the_summary_reads_the_stored_figures_not_the_rows(engine: Engine) -> None:
    _write(engine)
    repository.finish_import(engine, IMPORT_ID, ImportStatus.SUCCEEDED)
    with engine.begin() as conn:  # rows changed behind the store's back are not re-read
        conn.execute(update(Listing).values(score=1.0))
    figures = summaries.import_figures(engine, IMPORT_ID, ended=True)
    assert (figures["score_min"], figures["score_max"]) == (70.0, 95.0)
    with engine.connect() as conn:
        assert summaries.compute_figures(conn, IMPORT_ID)["score_max"] == 1.0


def test_a_retry_forgets_the_figures_and_its_end_records_new_ones(engine: Engine) -> None:
    _write(engine)
    repository.finish_import(engine, IMPORT_ID, ImportStatus.FAILED)
    assert _stored(engine)[0].persisted_rows == 4  # a failed run's rows are counted as they are
    repository.reopen_import(engine, IMPORT_ID)
    assert not _stored(engine)
    running = summaries.import_figures(engine, IMPORT_ID, ended=False)
    assert running["persisted_rows"] == 4 and not _stored(engine)  # live, not stored
    repository.finish_import(engine, IMPORT_ID, ImportStatus.CANCELED)
    [row] = _stored(engine)
    assert (row.persisted_rows, row.top_models, row.first_model) == (0, [], None)


def test_writing_rows_again_drops_the_stored_figures(engine: Engine) -> None:
    _write(engine)
    repository.finish_import(engine, IMPORT_ID, ImportStatus.SUCCEEDED)
    _write(engine)
    assert not _stored(engine)


def test_an_import_ended_before_0009_gets_its_figures_on_first_read(
    glyph_env: object, tmp_path: Path
) -> None:
    url, config = warehouse_at(tmp_path, "0007", IMPORT_ID)
    engine = create_engine(url)
    row = {"import_id": IMPORT_ID}
    insert_rows(
        engine,
        "listings",
        [
            {**row, "import_index": 1, "canonical_model": "B200", "score": 50.0, "price": 10.0},
            {**row, "import_index": 2, "canonical_model": None, "score": 60.0, "price": 20.0},
        ],
    )
    command.upgrade(config, "head")  # the store's reads are head's (0012 rekeyed listings)
    figures = summaries.import_figures(engine, IMPORT_ID, ended=True)
    assert (figures["persisted_rows"], figures["first_model"], figures["last_model"]) == (
        2,
        "B200",
        "UNKNOWN",
    )
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(ImportSummary)).scalar_one()
    assert stored == 1
    assert summaries.import_figures(engine, IMPORT_ID, ended=True)["score_max"] == 60.0
    command.downgrade(config, "0008")
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
    assert "import_summaries" not in tables
    engine.dispose()


def test_0013_clears_the_summaries_stored_without_price_points(
    glyph_env: object, tmp_path: Path
) -> None:
    """A summary stored before 0013 has no price points: the migration deletes it, and the
    first reader that needs it stores it again with its points."""
    url, config = warehouse_at(tmp_path, "0011", IMPORT_ID)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO listings (import_id, import_index, canonical_model, currency, price,"
                " is_gpu) VALUES (:i, 1, 'B200', 'USD', 10.0, 1), (:i, 2, 'B200', 'USD', 30.0, 1)"
            ),
            {"i": IMPORT_ID},
        )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO import_summaries (import_id, persisted_rows, error_rows,"
                " not_gpu_rows, unknown_model_rows, warning_rows, scored_rows, top_models,"
                " computed_at) VALUES (:i, 2, 0, 0, 0, 0, 0, '[]', '2026-12-01 00:00:00')"
            ),
            {"i": IMPORT_ID},
        )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ImportSummary)).scalar_one() == 0
    assert summaries.fill_missing(engine, ["succeeded", "partially_succeeded"]) == 1
    with engine.connect() as conn:
        points = conn.execute(
            text("SELECT canonical_model, currency, listings, median_price FROM model_price_points")
        ).all()
    assert [tuple(p) for p in points] == [("B200", "USD", 2, 20.0)]
    engine.dispose()


@pytest.mark.parametrize("chunk_rows", [7, 10_000])
def test_the_written_figures_equal_those_read_back(engine: Engine, chunk_rows: int) -> None:
    """The ingest run hands the figures its writer added up to the summary (no read back): they
    and the price points are those the stored listings give, whatever the chunking."""
    from glyph_assets.settings import PROJECT_ROOT
    from glyph_assets.sieve.pipeline import Stages, read_chunks

    sample = PROJECT_ROOT / "data" / "samples" / "gpu_listings_sample.csv"
    chunks = Stages(source="shop").run(read_chunks(sample, sample.name, chunk_rows))
    written = summaries.WrittenFigures()
    counts = repository.replace_import_rows(engine, IMPORT_ID, chunks, written)
    with engine.connect() as conn:
        read_back = summaries.price_point_rows(conn, IMPORT_ID)
        given = summaries.price_point_rows(conn, IMPORT_ID, pd.concat(written.points))
        figures = summaries.compute_figures(conn, IMPORT_ID)
    assert len(read_back) >= 5 and len(figures["top_models"]) >= 5
    assert given == read_back
    assert written.figures() == {**figures, "score_mean": pytest.approx(figures["score_mean"])}
    assert counts == {key: figures[key] for key in repository.COUNT_KEYS}
    repository.finish_import(engine, IMPORT_ID, ImportStatus.SUCCEEDED, written=written)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM model_price_points WHERE import_id = :i"), {"i": IMPORT_ID}
        ).scalar_one()
    assert stored == len(read_back)


def _odd_chunk(rng: np.random.Generator, start: int, rows: int) -> pd.DataFrame:
    """Listings with every figure's awkward cases: missing scores, prices and models, lots
    (unit_price differs), ties in the model counts, row errors, empty warnings."""
    models = np.array(["RTX_4090", "H100_PCIE_80GB", "A100_PCIE_40GB", "B200", None], dtype=object)
    price = rng.uniform(10, 40_000, rows).round(2)
    price[rng.random(rows) < 0.1] = np.nan
    lot = rng.integers(1, 4, rows)
    score = rng.uniform(0, 100, rows)
    score[rng.random(rows) < 0.2] = np.nan
    failed = rng.random(rows) < 0.1
    return pd.DataFrame(
        {
            "import_index": np.arange(start, start + rows),
            "title": [f"listing {i % 17}" for i in range(rows)],
            "canonical_model": models[rng.integers(0, len(models), rows)],
            "price": price,
            "unit_price": price / lot,
            "currency": np.where(rng.random(rows) < 0.9, "USD", None),
            "score": score,
            "client_score": np.where(rng.random(rows) < 0.5, rng.random(rows), np.nan),
            "is_gpu": rng.choice(np.array([True, False, None], dtype=object), rows),
            "reject_reason": rng.choice(
                np.array(["unknown_model", "not_gpu:box", None], dtype=object), rows
            ),
            "warnings": rng.choice(np.array(["", "odd", None], dtype=object), rows),
            "listing_key": np.where(rng.random(rows) < 0.7, "k", None),
            "error_stage": np.where(failed, "clean", None),
            "error_field": np.where(failed, "price", None),
            "error_reason": np.where(failed, "bad price", None),
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_figure_of_odd_rows_is_the_same_written_or_read_back(
    engine: Engine, seed: int
) -> None:
    """Each figure's two forms (``summaries.Figure``: SQL over the stored rows, and added up
    chunk by chunk from what the writer stores) agree on rows with nulls, ties and errors."""
    rng = np.random.default_rng(seed)
    chunks = [_odd_chunk(rng, 1 + 40 * i, 40) for i in range(3)]
    written = summaries.WrittenFigures()
    repository.replace_import_rows(engine, IMPORT_ID, chunks, written)
    with engine.connect() as conn:
        figures = summaries.compute_figures(conn, IMPORT_ID)
    assert figures["error_rows"] and figures["not_gpu_rows"] and figures["score_min"] is not None
    assert written.figures() == {**figures, "score_mean": pytest.approx(figures["score_mean"])}


def test_ranks_ties_and_edges_are_the_same_written_or_read_back(engine: Engine) -> None:
    """Chunks written out of import_index order, twelve models tied two by two (ids that a
    PostgreSQL collation orders otherwise: ``A100X`` / ``A100_PCIE_40GB``, case), the cut at
    ten, and first and last rows without a model: the written figures are the rows' figures."""
    models = ["A100X", "A100_PCIE_40GB", "b200", "B200", "H100", "H100_SXM5_80GB"]
    models += ["L4", "L40S", "RTX_4090", "RTX_4090D", "T4", "V100"]
    rows = [None] + [m for m in models for _ in range(2)] + models[:3] + [None]
    frame = pd.DataFrame(
        {
            "import_index": range(1, len(rows) + 1),
            "title": [f"t{i}" for i in range(len(rows))],
            "canonical_model": rows,
            "price": [100.0 + i for i in range(len(rows))],
            "score": [float(i % 7) for i in range(len(rows))],
            "is_gpu": [m is not None for m in rows],
            "error_stage": [None] * len(rows),
            "error_field": [None] * len(rows),
            "error_reason": [None] * len(rows),
        }
    )
    chunks = [frame.iloc[20:], frame.iloc[:9], frame.iloc[9:20]]  # the last rows first
    written = summaries.WrittenFigures()
    repository.replace_import_rows(engine, IMPORT_ID, chunks, written)
    with engine.connect() as conn:
        figures = summaries.compute_figures(conn, IMPORT_ID)
    assert (figures["first_model"], figures["last_model"]) == ("UNKNOWN", "UNKNOWN")
    # three rows each, then two each in code-point order, cut at ten
    top = "A100X A100_PCIE_40GB b200 B200 H100 H100_SXM5_80GB L4 L40S RTX_4090 RTX_4090D"
    assert [m["canonical_model"] for m in figures["top_models"]] == top.split()
    assert written.figures() == {**figures, "score_mean": pytest.approx(figures["score_mean"])}


def test_an_import_without_listings_has_the_figures_of_none(engine: Engine) -> None:
    rng = np.random.default_rng(4)
    chunk = _odd_chunk(rng, 1, 5).assign(error_stage="clean", error_reason="bad price")
    written = summaries.WrittenFigures()
    repository.replace_import_rows(engine, IMPORT_ID, [chunk], written)
    with engine.connect() as conn:
        figures = summaries.compute_figures(conn, IMPORT_ID)
    assert figures["persisted_rows"] == 0 and figures["error_rows"] == 5
    assert written.figures() == figures
