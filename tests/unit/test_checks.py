"""The asset checks' evaluations and the stage schemas, on frames built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glyph_assets.checks import (
    index_report,
    parquet_chunks,
    sample_step,
    scan_chunks,
    scan_frames,
    scores_outside,
    unknown_model_report,
)
from glyph_assets.io_managers import ParquetParts, write_parts
from glyph_assets.settings import PROJECT_ROOT
from glyph_assets.sieve.clean import clean
from glyph_assets.sieve.columns import SCORE_COLUMNS
from glyph_assets.sieve.read import read_raw
from glyph_assets.sieve.schemas import (
    STAGE_COLUMNS,
    STAGE_SCHEMAS,
    CleanedListings,
    PersistedListings,
    RawListings,
    ScoredListings,
    validate_stage,
)

SAMPLE = PROJECT_ROOT / "data" / "samples" / "gpu_listings_sample.csv"


def test_every_stage_model_covers_its_columns() -> None:
    for stage, model in STAGE_SCHEMAS.items():
        declared = set(model.to_schema().columns)
        assert set(STAGE_COLUMNS[stage]) <= declared, stage


@pytest.mark.parametrize(
    ("indexes", "passed", "duplicates", "missing"),
    [
        ([1, 2, 3, 4], True, 0, 0),
        ([4, 2, 1, 3], True, 0, 0),
        ([], True, 0, 0),
        ([1, 2, 2, 3], False, 1, 0),
        ([1, 2, 4], False, 0, 1),
        ([2, 3, 4], False, 0, 1),
        ([0, 1, 2], False, 0, 0),  # numbered from 0: not the established 1-based ordinal
    ],
)
def test_index_report(indexes: list[int], passed: bool, duplicates: int, missing: int) -> None:
    ok, figures = index_report(np.array(indexes, dtype=np.int64))
    assert ok is passed
    assert (figures["duplicates"], figures["missing_in_range"]) == (duplicates, missing)


@pytest.mark.parametrize("seed", range(6))
def test_index_report_counts_like_np_unique(seed: int) -> None:
    """The counting pass and the sorting fallback agree with np.unique on every figure."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    spread = [n, 2 * n, 10**9, -5][seed % 4]  # within bincount's range, far beyond, negative
    indexes = rng.integers(min(0, spread), max(1, spread), size=n).astype(np.int64)
    if seed == 0:
        indexes = rng.permutation(n).astype(np.int64) + 1  # the healthy case: 1..n
    unique = np.unique(indexes)
    ok, figures = index_report(indexes)
    assert figures["duplicates"] == n - len(unique)
    assert (figures["min_index"], figures["max_index"]) == (int(unique[0]), int(unique[-1]))
    in_range = int((unique >= 1).sum())
    assert figures["missing_in_range"] == max(0, int(unique[-1]) - in_range)
    assert ok is bool(len(unique) == n and unique[0] == 1 and unique[-1] == n)


def test_scores_outside_ignores_row_errors() -> None:
    frame = pd.DataFrame(
        {
            "import_index": [0, 1, 2, 3],
            "score": [50.0, 101.0, None, 150.0],
            "score_value": [0.0, 10.0, -1.0, 10.0],
            "error_stage": [None, None, None, "score"],
        }
    )
    outside, examples = scores_outside(frame)
    assert outside == 2  # row 1 (score) and row 2 (a component); row 3 is a row error
    assert [e["import_index"] for e in examples] == [1, 2]


def test_unknown_model_share_threshold() -> None:
    assert unknown_model_report(100, 25, threshold=0.25)[0] is True
    passed, figures = unknown_model_report(100, 26, threshold=0.25)
    assert passed is False and figures["share"] == 0.26
    assert unknown_model_report(0, 0, threshold=0.25)[0] is True


def test_raw_and_cleaned_sample_pass_their_schema() -> None:
    raw = read_raw(SAMPLE)
    raw = raw.astype({c: "string" for c in raw.columns if c != "import_index"})
    assert validate_stage(RawListings, raw).passed
    cleaned = clean(read_raw(SAMPLE))
    assert cleaned["error_stage"].notna().any()  # the sample has row errors on purpose
    report = validate_stage(CleanedListings, cleaned)
    assert report.passed, report.sample


def _scored_rows() -> pd.DataFrame:
    cleaned = clean(read_raw(SAMPLE)).reset_index(drop=True)
    frame = cleaned.assign(
        canonical_model="h100-pcie-80gb",
        match_type="exact",
        match_score=1.0,
        vendor="nvidia",
        is_gpu=True,
        reject_reason=None,
        listing_key=None,
        match_alternatives=None,
        segment="datacenter",
        architecture="hopper",
        vram_gb=80.0,
        memory_type="HBM2e",
        tdp_watts=350.0,
        mig_instances=7,
        nvlink=False,
        pcie_gen=5,
        form_factor="pcie",
        launch_year=2022,
        warnings=None,
    )
    for column in SCORE_COLUMNS:
        frame[column] = 42.0
    frame["client_score"] = float("nan")  # glyph scored these rows itself
    return frame


def test_a_chunk_without_row_errors_is_checked_by_every_rule_in_one_pass() -> None:
    frame = _scored_rows()
    clean = frame.loc[frame["error_stage"].isna()].reset_index(drop=True)
    assert len(clean) >= 2 and validate_stage(ScoredListings, clean).passed
    broken = clean.copy()
    broken.loc[0, "score"] = 120.0  # a field rule
    broken.loc[1, "error_reason"] = "a reason without a stage is fine"
    broken["error_field"] = broken["error_field"].astype(object)
    broken.loc[1, "error_field"] = 7  # an error column's own rule: text
    report = validate_stage(ScoredListings, broken)
    assert not report.passed
    failed = {(case["column"], case["index"]) for case in report.sample}
    assert ("score", "0") in failed
    assert ("error_field", "1") in failed
    assert report.failing_rows == 2
    assert report.failure_cases == 2  # the error column's failure counted once

    # Beside row errors (two passes), the same failure is counted once too.
    with_errors = frame.copy()
    good = with_errors.index[with_errors["error_stage"].isna()]
    with_errors["error_field"] = with_errors["error_field"].astype(object)
    with_errors.loc[good[0], "error_field"] = 7
    mixed = validate_stage(ScoredListings, with_errors)
    assert (mixed.failing_rows, mixed.failure_cases) == (1, 1)


def test_scored_schema_catches_bad_rows_but_not_row_errors() -> None:
    frame = _scored_rows()
    assert validate_stage(ScoredListings, frame).passed
    errors = frame.index[frame["error_stage"].notna()]
    broken = frame.copy()
    broken.loc[errors, "score"] = 500.0  # a row error may hold anything
    assert validate_stage(ScoredListings, broken).passed
    good = frame.index[frame["error_stage"].isna()]
    broken.loc[good[0], "score"] = 120.0
    broken.loc[good[1], "currency"] = "dollars"
    broken["is_gpu"] = broken["is_gpu"].astype(object)
    broken.loc[good[2], "is_gpu"] = "maybe"
    broken.loc[errors[0], "error_reason"] = None  # an error without its reason
    report = validate_stage(ScoredListings, broken)
    assert not report.passed
    assert report.failing_rows == 4
    failed = {(case["column"], case["index"]) for case in report.sample}
    assert ("score", str(good[0])) in failed
    assert ("currency", str(good[1])) in failed


def test_scan_frames_over_parts(tmp_path: Path) -> None:
    frame = _scored_rows()
    parts = [frame.iloc[:20], frame.iloc[20:]]
    scan = scan_frames("scored_listings", iter(parts))
    assert scan.rows == len(frame)
    assert index_report(scan.all_indexes)[0]
    assert scan.schema.passed and scan.score_outside == 0
    shifted = [frame.iloc[:20], frame.iloc[19:]]  # one row written twice
    scan = scan_frames("scored_listings", iter(shifted))
    ok, figures = index_report(scan.all_indexes)
    assert not ok and figures["duplicates"] == 1


def test_large_stages_validate_an_even_sample_but_count_every_row() -> None:
    assert sample_step(50_000, limit=50_000) == 1
    assert sample_step(50_001, limit=50_000) == 2
    assert sample_step(5_000_000, limit=50_000) == 100
    frame = _scored_rows()
    broken = frame.copy()
    good = broken.index[broken["error_stage"].isna()]
    broken.loc[good[1], "currency"] = "dollars"  # an odd row: outside a sample of every 2nd
    scan = scan_frames("scored_listings", [broken], step=2)
    assert scan.rows == len(frame) and scan.schema.rows == (len(frame) + 1) // 2
    assert index_report(scan.all_indexes)[0]
    broken.loc[good[1], "score"] = 200.0  # ranges still cover every row
    assert scan_frames("scored_listings", [broken], step=2).score_outside == 1


def test_parquet_chunks_read_every_row_and_sample(tmp_path: Path) -> None:
    frame = _scored_rows()
    write_parts([frame.iloc[:20], frame.iloc[20:]], tmp_path / "parts")
    parts = ParquetParts(tmp_path / "parts")
    chunks = list(parquet_chunks(parts, step=3))
    assert [len(c.rows) for c in chunks] == [20, len(frame) - 20]
    assert [len(c.sample) for c in chunks] == [7, (len(frame) - 20 + 2) // 3]
    assert set(chunks[0].rows.columns) == {"import_index", "error_stage", *SCORE_COLUMNS}
    scan = scan_chunks("scored_listings", parquet_chunks(parts, step=1))
    assert scan.schema.passed and scan.rows == len(frame)


def test_persisted_schema() -> None:
    rows = pd.DataFrame(
        {
            "import_id": ["00000000-0000-4000-8000-000000000001"] * 2,
            "import_index": [1, 2],
            "title": ["a", "b"],
            "price": [1.0, None],
            "unit_price": [0.5, None],
            "currency": ["USD", None],
            "canonical_model": ["x", None],
            "match_type": ["exact", "none"],
            "is_gpu": [True, False],
            "reject_reason": [None, "not_gpu"],
            "vram_gb": [80.0, None],
            "score": [10.0, None],
        }
    )
    assert validate_stage(PersistedListings, rows).passed
    assert not validate_stage(PersistedListings, rows.assign(import_index=[0, 0])).passed
