"""Every corpus file through ``glyph pipeline``: no crash, no silently dropped row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from glyph_assets.offline import write_offline_outputs
from glyph_assets.sieve.columns import MATCH_COLUMNS
from glyph_assets.sieve.pipeline import Stages, read_chunks, run_offline
from glyph_assets.sieve.read import read_raw
from glyph_assets.sieve.registry import clear_registry_cache
from glyph_assets.sieve.title_helpers import TitleHelpers
from glyph_assets.tooling.cli import app

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FILES = sorted(
    p for p in CORPUS.rglob("*") if p.suffix in {".csv", ".json", ".tsv"} and p.is_file()
)
REQUIRED = [
    "import_index",
    "title",
    "price",
    "currency",
    *MATCH_COLUMNS,
    "vram_gb",
    "tdp_watts",
    "mig_instances",
    "nvlink",
    "score",
]


@pytest.mark.skipif(not FILES, reason="corpus not present beside the checkout")
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_pipeline_accounts_for_every_row(path: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["pipeline", str(path), "-o", str(output), "--report"])
    assert result.exit_code == 0, result.output
    listings = pd.read_csv(output, dtype={"canonical_model": str})
    errors = pd.read_csv(tmp_path / "out.errors.csv")
    expected = len(read_raw(path))
    assert len(listings) + len(errors) == expected
    indexes = sorted([*listings["import_index"], *errors["import_index"]])
    assert indexes == list(range(1, expected + 1))
    assert set(REQUIRED) <= set(listings.columns)
    assert listings["score"].dropna().between(0, 100).all()
    assert "match_type" in result.output


EXPORT = CORPUS / "shopify_store_export.csv"


@pytest.mark.skipif(not EXPORT.exists(), reason="corpus not present beside the checkout")
def test_streamed_files_hold_the_in_memory_rows_and_title_helpers_change_nothing(
    tmp_path: Path,
) -> None:
    expected = run_offline(EXPORT, filename=EXPORT.name)
    result = write_offline_outputs(EXPORT, tmp_path / "out.csv", chunk_rows=3_000)
    written = pd.read_csv(tmp_path / "out.csv", dtype={"canonical_model": str})
    assert result.rows == len(expected) == len(written) + result.errors
    good = expected[expected["error_stage"].isna()].reset_index(drop=True)
    for column in ("import_index", "canonical_model", "listing_key", "score", "vram_gb"):
        left, right = good[column].astype(object), written[column].astype(object)
        assert ((left == right) | (left.isna() & right.isna())).all(), column

    tables = []
    helped = TitleHelpers(2, batch=50, least=1)  # small batches, so that the helpers take some
    for titles in (None, helped):
        clear_registry_cache()  # a fresh title cache: every title is new again
        if titles is not None:
            titles.start()
        spill = tmp_path / f"spill-{len(tables)}"
        spill.mkdir()
        chunks = read_chunks(EXPORT, EXPORT.name, 4_000)
        tables.append(list(Stages(kind=None).stream(chunks, spill, titles)))
    assert helped.offloaded > 0
    for serial, parallel in zip(*tables, strict=True):
        assert serial.equals(parallel)
