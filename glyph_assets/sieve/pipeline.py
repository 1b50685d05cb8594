"""The stage sequence, chunk-wise: used by the Dagster assets and by ``glyph pipeline`` alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd

from glyph_assets.sieve.clean import DEFAULT_MAX_FIELD_CHARS, clean
from glyph_assets.sieve.columns import (
    ENRICHED_COLUMNS,
    ERROR_COLUMNS,
    NORMALIZED_COLUMNS,
    SCORED_COLUMNS,
)
from glyph_assets.sieve.enrich import enrich, fill_specs
from glyph_assets.sieve.listing_key import listing_keys
from glyph_assets.sieve.normalize import normalize
from glyph_assets.sieve.read import iter_raw_chunks
from glyph_assets.sieve.score import ScoreConfig, market_reference, score
from glyph_assets.sieve.scored import ScoreScale, adopt_scored, normalize_scores


def normalize_chunk(
    raw: pd.DataFrame,
    kind: str = "raw",
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
    source: str = "",
) -> pd.DataFrame:
    """Raw strings -> cleaned and matched rows (scored uploads keep their own match columns),
    each with its ``listing_key`` (``source``: the import's source label, for rows without URL)."""
    if kind == "scored":
        out = adopt_scored(raw, max_field_chars=max_field_chars)
    else:
        out = normalize(clean(raw, max_field_chars=max_field_chars))
    out["listing_key"] = listing_keys(out, source)
    columns = SCORED_COLUMNS if kind == "scored" else NORMALIZED_COLUMNS
    return out[columns + ERROR_COLUMNS]


def enrich_chunk(normalized: pd.DataFrame, kind: str = "raw") -> pd.DataFrame:
    """Registry specs for matched rows; scored rows keep theirs and get only what they lack."""
    if kind == "scored":
        return fill_specs(normalized)[SCORED_COLUMNS + ERROR_COLUMNS]
    return enrich(normalized)[ENRICHED_COLUMNS + ERROR_COLUMNS]


def score_chunks(
    make_chunks: Callable[[], Iterable[pd.DataFrame]],
    kind: str = "raw",
    config: ScoreConfig | None = None,
    score_scale: str | None = None,
    on_scale: Callable[[ScoreScale], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """Two passes: the import's per-model market first, then each chunk scored against it.

    Scored uploads keep the client's score; the first pass decides its scale instead."""
    if kind == "scored":
        for chunk in normalize_scores(make_chunks, score_scale, on_scale):
            yield chunk[SCORED_COLUMNS + ERROR_COLUMNS]
        return
    reference = market_reference(make_chunks())
    for chunk in make_chunks():
        yield score(chunk, config=config, reference=reference)[SCORED_COLUMNS + ERROR_COLUMNS]


def run_offline(
    path: Path,
    filename: str | None = None,
    kind: str | None = None,
    config: ScoreConfig | None = None,
    chunk_rows: int = 200_000,
    score_scale: str | None = None,
) -> pd.DataFrame:
    """Every stage on one file, no Dagster, no database: one output row per input data row."""
    from glyph_assets.sieve.inspect import detect_kind

    enriched: list[pd.DataFrame] = []
    resolved_kind = kind
    for raw in iter_raw_chunks(path, chunk_rows=chunk_rows, filename=filename):
        if resolved_kind is None:
            resolved_kind = detect_kind([str(c) for c in raw.columns])
        enriched.append(enrich_chunk(normalize_chunk(raw, resolved_kind), resolved_kind))
    scored = list(score_chunks(lambda: enriched, resolved_kind or "raw", config, score_scale))
    if not scored:
        return pd.DataFrame(columns=SCORED_COLUMNS + ERROR_COLUMNS)
    return pd.concat(scored, ignore_index=True)
