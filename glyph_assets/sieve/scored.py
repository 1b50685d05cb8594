"""Uploads that another pipeline already scored: keep their match, specs and score, but check them.

Such rows skip normalize/enrich/score; they are cleaned like any row and their own columns are
validated (types, ranges, known model ids). A row that fails becomes a row error.
"""

from __future__ import annotations

import pandas as pd

from glyph_assets.sieve.clean import DEFAULT_MAX_FIELD_CHARS, _header_key, clean
from glyph_assets.sieve.columns import (
    ERROR_COLUMNS,
    MATCH_COLUMNS,
    SCORE_COLUMNS,
    SCORED_COLUMNS,
    SPEC_COLUMNS,
)

NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "match_score": (0.0, 1.0),
    "vram_gb": (0.0, 1024.0),
    "tdp_watts": (0.0, 5000.0),
    "mig_instances": (0.0, 7.0),
    "pcie_gen": (1.0, 7.0),
    "launch_year": (1990.0, 2100.0),
    "score": (0.0, 100.0),
    "score_capacity": (0.0, 100.0),
    "score_features": (0.0, 100.0),
    "score_efficiency": (0.0, 100.0),
    "score_value": (0.0, 100.0),
}
BOOLEAN_COLUMNS = ("is_gpu", "nvlink")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _source(raw: pd.DataFrame) -> dict[str, str]:
    return {_header_key(c): c for c in raw.columns}


def adopt_scored(raw: pd.DataFrame, max_field_chars: int = DEFAULT_MAX_FIELD_CHARS) -> pd.DataFrame:
    """Raw strings of a scored upload -> SCORED_COLUMNS + ERROR_COLUMNS, validated."""
    from glyph_assets.sieve.registry import load_registry

    out = clean(raw, max_field_chars=max_field_chars)
    source = _source(raw)
    problems = pd.Series(None, index=out.index, dtype=object)
    fields = pd.Series(None, index=out.index, dtype=object)

    def flag(mask: pd.Series, field: str, reason: str) -> None:
        todo = mask.reset_index(drop=True) & problems.isna()
        problems[todo] = reason
        fields[todo] = field

    for column in MATCH_COLUMNS + SPEC_COLUMNS + SCORE_COLUMNS:
        values = raw[source[column]].reset_index(drop=True) if column in source else None
        if values is None:
            out[column] = None
            continue
        text = values.astype(object).where(values.notna(), None)
        text = text.map(lambda v: v.strip() if isinstance(v, str) else v).replace("", None)
        if column in NUMERIC_RANGES:
            number = pd.to_numeric(text, errors="coerce")
            flag(text.notna() & number.isna(), column, f"{column} is not a number")
            low, high = NUMERIC_RANGES[column]
            flag(
                number.notna() & ((number < low) | (number > high)),
                column,
                f"{column} is " f"outside [{low:g}, {high:g}]",
            )
            out[column] = number
        elif column in BOOLEAN_COLUMNS:
            lowered = text.map(lambda v: v.lower() if isinstance(v, str) else v)
            known = lowered.isna() | lowered.isin(_TRUE | _FALSE)
            flag(~known, column, f"{column} is not true/false")
            out[column] = lowered.map(
                lambda v: True if v in _TRUE else (False if v in _FALSE else None)
            )
        else:
            out[column] = text
    flag(out["score"].isna(), "score", "score is missing")
    registry_ids = set(load_registry().specs.index)
    model = out["canonical_model"]
    flag(
        model.notna() & ~model.isin(registry_ids),
        "canonical_model",
        "canonical_model is not in the registry",
    )
    out["is_gpu"] = out["is_gpu"].where(out["is_gpu"].notna(), model.notna())

    mark = problems.notna() & out["error_stage"].isna()
    out.loc[mark, "error_stage"] = "validate"
    out.loc[mark, "error_field"] = fields[mark]
    out.loc[mark, "error_reason"] = problems[mark]
    if mark.any():
        originals = [c for c in raw.columns if c not in ("import_index", "_error")]
        subset = raw.reset_index(drop=True).loc[mark, originals]
        out.loc[mark, "raw_row"] = subset.apply(lambda r: r.dropna().to_json(), axis=1)
    return out[SCORED_COLUMNS + ERROR_COLUMNS]
