"""Every stage leaves the frames it is given as they were.

pandas' copy-on-write is off here, so a frame a stage returns may share arrays with the frame it
was given (``with_columns``, ``copy(deep=False)``), and a write into one of those arrays in place
(``.loc[rows, column] = ...``) would change the caller's frame too. The stages' frames are kept
and read again (the offline pipeline's chunks in memory, the score's two passes), so such a
write would show as a note added twice or a value changed behind a caller's back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from glyph_assets.settings import PROJECT_ROOT
from glyph_assets.sieve.clean import clean
from glyph_assets.sieve.enrich import enrich, fill_specs
from glyph_assets.sieve.listing_key import listing_keys
from glyph_assets.sieve.normalize import normalize
from glyph_assets.sieve.pipeline import read_chunks
from glyph_assets.sieve.score import market_reference, score
from glyph_assets.sieve.scored import adopt_scored, normalize_scores

SAMPLE = PROJECT_ROOT / "data" / "samples" / "gpu_listings_sample.csv"

# Already-scored rows (the established GPUListingDTO) with what makes each stage write: a score
# outside the scale (a capping note), a carried spec that contradicts the registry, a missing
# spec to fill, a row that fails validation.
SCORED_ROWS = [
    {"canonical_model": "H100_PCIE_80GB", "vram_gb": 80, "price": 25000, "score": 140},
    {"canonical_model": "RTX_4090", "vram_gb": 48, "price": 1900, "score": 55, "warnings": "x"},
    {"canonical_model": "A100_SXM4_80GB", "price": 9000, "score": 70},
    {"canonical_model": "NOT_A_MODEL", "price": "abc", "score": 20},
]


def _raw() -> pd.DataFrame:
    return pd.concat(list(read_chunks(SAMPLE)), ignore_index=True)


def _raw_scored(tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "scored.json"
    path.write_text(json.dumps(SCORED_ROWS))
    return pd.concat(list(read_chunks(path)), ignore_index=True)


def _unchanged(stage: Callable[[pd.DataFrame], object], frame: pd.DataFrame) -> None:
    before = frame.copy(deep=True)
    stage(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_the_raw_path_leaves_each_stage_input_as_it_was() -> None:
    raw = _raw()
    _unchanged(clean, raw)
    cleaned = clean(raw)
    _unchanged(normalize, cleaned)
    matched = normalize(cleaned)
    _unchanged(listing_keys, matched)
    _unchanged(enrich, matched)
    enriched = enrich(matched)
    _unchanged(lambda f: market_reference([f]), enriched)
    _unchanged(lambda f: score(f, reference=market_reference([f])), enriched)


def test_the_scored_path_leaves_each_stage_input_as_it_was(tmp_path: Path) -> None:
    raw = _raw_scored(tmp_path)
    _unchanged(adopt_scored, raw)
    adopted = adopt_scored(raw)
    _unchanged(fill_specs, adopted)
    filled = fill_specs(adopted)
    assert filled["warnings"].notna().any()  # a contradiction was noted: fill_specs wrote
    _unchanged(lambda f: list(normalize_scores(lambda _columns: [f], "0-100")), filled)


@pytest.mark.parametrize("declared", ["0-100", "0-1", None])
def test_reading_the_scores_twice_gives_the_same_rows(tmp_path: Path, declared: str | None) -> None:
    filled = fill_specs(adopt_scored(_raw_scored(tmp_path)))
    first, again = (
        # a deep copy: the rows as they were read, whatever a later read does to shared arrays
        pd.concat(list(normalize_scores(lambda _columns: [filled], declared))).copy(deep=True)
        for _ in range(2)
    )
    pd.testing.assert_frame_equal(first, again)
