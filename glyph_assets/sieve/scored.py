"""Uploads that another pipeline already scored: keep their match, specs and score, but check them.

Such rows skip normalize and score; they are cleaned like any row (a title is optional: the
established ``GPUListingDTO`` names its ``canonical_model`` instead) and their own columns are
validated (types, ranges, known model ids). A row that fails becomes a row error.

The client's ``score`` is kept exactly as sent in ``client_score``: clients send 0-100 and, in
places, 0-1. glyph's own ``score`` (0-100, what its sorts, filters and market figures use) is
derived from it by the import's score scale, declared by the client or detected with a warning
(``decide_score_scale``); the client's value is never rewritten.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pandas as pd
import pyarrow as pa

from glyph_assets.sieve.clean import (
    DEFAULT_MAX_FIELD_CHARS,
    clean,
    map_distinct,
    stripped_or_null,
)
from glyph_assets.sieve.columns import (
    ERROR_COLUMNS,
    MATCH_COLUMNS,
    SCORE_COLUMNS,
    SCORE_SCALES,
    SCORED_COLUMNS,
    SCORED_FIELD_ALIASES,
    SPEC_COLUMNS,
    header_key,
    in_order,
)

NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "match_score": (0.0, 1.0),
    "vram_gb": (0.0, 1024.0),
    "tdp_watts": (0.0, 5000.0),
    "mig_instances": (0.0, 7.0),
    "pcie_gen": (1.0, 7.0),
    "launch_year": (1990.0, 2100.0),
    "score_capacity": (0.0, 100.0),
    "score_features": (0.0, 100.0),
    "score_efficiency": (0.0, 100.0),
    "score_value": (0.0, 100.0),
}
BOOLEAN_COLUMNS = ("is_gpu", "nvlink")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
# Pipelines that score on 0-1 add up to a 20 % bonus on top, so their scores reach about 1.2.
UNIT_SCALE_MAX = 1.5


def _source(raw: pd.DataFrame) -> dict[str, str]:
    """glyph column -> the raw column carrying it; established DTO names count as aliases."""
    source = {header_key(c): c for c in raw.columns}
    for alias, target in SCORED_FIELD_ALIASES.items():
        if alias in source and target not in source:
            source[target] = source[alias]
    return source


def stripped_cells(values: pd.Series) -> pd.Series:
    """Each cell stripped as ``str.strip`` does, empty or missing as None (object values).

    An Arrow-backed text column (what ``read_chunks`` gives) is trimmed in one Arrow pass:
    cell by cell in Python, a DTO body's 14 fields of 100,000 rows took 0.2 s here."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        kept = stripped_or_null(pa.chunked_array(pa.array(values, type=pa.string())))
        return pd.Series(kept.to_numpy(), index=values.index, dtype=object)
    cells = values.astype(object).where(values.notna(), None).tolist()
    stripped = [(v.strip() or None) if isinstance(v, str) else v for v in cells]
    return pd.Series(stripped, index=values.index, dtype=object)


def numbers(text: pd.Series) -> pd.Series:
    """``pd.to_numeric(text, errors="coerce")``, parsed once per distinct text
    (``map_distinct``): a client's specs repeat a few values over 100,000 rows, and parsing
    every cell was most of what checking them cost. The same values and dtype."""
    return map_distinct(text, lambda distinct: pd.to_numeric(distinct, errors="coerce"))


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _truth(value: object) -> bool | None:
    return True if value in _TRUE else (False if value in _FALSE else None)


def adopt_scored(raw: pd.DataFrame, max_field_chars: int = DEFAULT_MAX_FIELD_CHARS) -> pd.DataFrame:
    """Raw strings of a scored upload -> SCORED_COLUMNS + ERROR_COLUMNS, validated.

    ``score`` stays empty here: the import's scale is known only once every row has been read
    (``normalize_scores``). The client's value goes to ``client_score`` unchanged."""
    from glyph_assets.sieve.registry import load_registry

    out = clean(raw, max_field_chars=max_field_chars, require_title=False)
    source = _source(raw)
    # A row's first problem is its reason; rows still without one are ``open``.
    problems = np.full(len(out), None, dtype=object)
    fields = np.full(len(out), None, dtype=object)
    open_rows = np.ones(len(out), dtype=bool)

    def flag(mask: pd.Series, field: str, reason: str) -> None:
        todo = mask.to_numpy(dtype=bool) & open_rows
        problems[todo] = reason
        fields[todo] = field
        open_rows[todo] = False

    def text_of(column: str) -> pd.Series | None:
        if column not in source:
            return None
        return stripped_cells(raw[source[column]].reset_index(drop=True))

    out["listing_key"] = None  # set by the stage runner, as for raw rows
    for column in MATCH_COLUMNS + SPEC_COLUMNS + SCORE_COLUMNS:
        text = text_of(column)
        if text is None or column == "score":
            out[column] = None if column != "score" else np.nan
            continue
        if column in NUMERIC_RANGES:
            number = numbers(text)
            flag(text.notna() & number.isna(), column, f"{column} is not a number")
            low, high = NUMERIC_RANGES[column]
            flag(
                number.notna() & ((number < low) | (number > high)),
                column,
                f"{column} is outside [{low:g}, {high:g}]",
            )
            out[column] = number
        elif column in BOOLEAN_COLUMNS:
            lowered = map_distinct(text, lambda v: v.map(_lower))
            known = lowered.isna() | lowered.isin(_TRUE | _FALSE)
            flag(~known, column, f"{column} is not true/false")
            # all true/false is a bool column, as mapping every row gave
            out[column] = map_distinct(lowered, lambda v: v.map(_truth)).infer_objects()
        else:
            out[column] = text
    sent = text_of("score")
    if sent is None:
        sent = pd.Series(None, index=out.index, dtype=object)
    client = numbers(sent).astype(float)
    flag(sent.isna(), "score", "score is missing")
    flag(sent.notna() & client.isna(), "score", "score is not a number")
    flag(client.notna() & ~np.isfinite(client), "score", "score is not a finite number")
    out["client_score"] = client.where(np.isfinite(client))
    registry_ids = set(load_registry().specs.index)
    model = out["canonical_model"]
    # Ids are upper case by the reference rules; "h100_pcie_80gb" names the same model.
    upper = map_distinct(model, lambda v: v.str.upper()) if model.notna().any() else model
    model = model.where(~upper.isin(registry_ids) | model.isna(), upper)
    out["canonical_model"] = model
    flag(model.isna(), "canonical_model", "canonical_model is missing")
    flag(
        model.notna() & ~model.isin(registry_ids),
        "canonical_model",
        "canonical_model is not in the registry",
    )
    out["is_gpu"] = out["is_gpu"].where(out["is_gpu"].notna(), model.notna())

    mark = ~open_rows & out["error_stage"].isna().to_numpy()
    out.loc[mark, "error_stage"] = "validate"
    out.loc[mark, "error_field"] = fields[mark]
    out.loc[mark, "error_reason"] = problems[mark]
    if mark.any():
        originals = [c for c in raw.columns if c not in ("import_index", "_error")]
        subset = raw.reset_index(drop=True).loc[mark, originals]
        out.loc[mark, "raw_row"] = subset.apply(lambda r: r.dropna().to_json(), axis=1)
    return in_order(out, SCORED_COLUMNS + ERROR_COLUMNS)


@dataclass(frozen=True)
class ScoreScale:
    """How an import's client scores were read: the scale, whether the client declared it, and
    the warning a person should see (a declared scale the data contradicts, or a detected one)."""

    scale: str
    declared: bool
    warning: str | None = None

    @property
    def factor(self) -> float:
        return 100.0 if self.scale == "0-1" else 1.0


def decide_score_scale(low: float | None, high: float | None, declared: str | None) -> ScoreScale:
    """The scale of an import's client scores, from their range and what the client declared.

    Never a silent guess: a declared scale is followed, with a warning when every score says the
    other one; without a declaration 0-100 is the default, and an import whose every score lies
    in [0, 1.5] is read as 0-1, with a warning saying so.
    """
    if declared is not None and declared not in SCORE_SCALES:
        raise ValueError(f"score_scale must be one of {', '.join(SCORE_SCALES)}, not {declared!r}")
    known = low is not None and high is not None
    looks_unit = known and low >= 0.0 and high <= UNIT_SCALE_MAX  # type: ignore[operator]
    if declared == "0-100":
        warning = (
            f"every score lies in [0, {UNIT_SCALE_MAX:g}]: this looks like a 0-1 scale, but "
            "score_scale=0-100 was declared, so glyph's score is the client's as sent"
            if looks_unit
            else None
        )
        return ScoreScale("0-100", True, warning)
    if declared == "0-1":
        warning = (
            f"score_scale=0-1 was declared, but scores reach {high:g}: this looks like a 0-100 "
            "scale; glyph's score (client's x 100) is capped at 100"
            if known and high > UNIT_SCALE_MAX  # type: ignore[operator]
            else None
        )
        return ScoreScale("0-1", True, warning)
    if looks_unit:
        return ScoreScale(
            "0-1",
            False,
            f"no score_scale was declared and every score lies in [0, {UNIT_SCALE_MAX:g}]: the "
            "scores were read as 0-1 (glyph's score = client's x 100); send score_scale to decide",
        )
    return ScoreScale("0-100", False)


def normalize_scores(
    make_chunks: Callable[[list[str] | None], Iterable[pd.DataFrame]],
    declared: str | None = None,
    on_scale: Callable[[ScoreScale], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """Two passes over a scored import: the range of its client scores decides the scale (a
    pass over ``client_score`` alone), then each chunk's ``score`` is ``client_score`` on
    glyph's 0-100 scale (capped, with a warning on the row when the cap applies)."""
    low, high = math.inf, -math.inf
    for chunk in make_chunks(["client_score"]):
        values = pd.to_numeric(chunk["client_score"], errors="coerce").dropna()
        if len(values):
            low, high = min(low, float(values.min())), max(high, float(values.max()))
    found = math.isfinite(low)
    scale = decide_score_scale(low if found else None, high if found else None, declared)
    if on_scale is not None:
        on_scale(scale)
    for chunk in make_chunks(None):
        out = chunk.copy(deep=False)
        client = pd.to_numeric(out["client_score"], errors="coerce").astype(float)
        scaled = client * scale.factor
        capped = scaled.clip(0.0, 100.0)
        out["score"] = capped.round(4)
        outside = (scaled != capped) & scaled.notna()
        if outside.any():
            note = (
                "score "
                + client[outside].map(lambda v: f"{v:g}")
                + (f" is outside the {scale.scale} scale; glyph's score is capped")
            )
            # a new column, not written into the chunk's own (a shallow copy shares it): the
            # caller's chunk stays as it was, and reading it again does not add the note twice
            warnings = out["warnings"].astype(object, copy=True)
            warnings[outside] = [
                f"{p}; {n}" if isinstance(p, str) and p else n
                for p, n in zip(warnings[outside], note, strict=True)
            ]
            out["warnings"] = warnings
        yield out


# The established GPUListingDTO: its required fields and the JSON types each accepts (numbers
# may come as numeric text, booleans as true/false/1/0, as the established service took them).
DTO_REQUIRED: dict[str, str] = {
    "canonical_model": "text",
    "vram_gb": "integer",
    "mig_support": "integer",
    "nvlink": "boolean",
    "tdp_watts": "integer",
    "price": "number",
    "score": "number",
}
DTO_RANGES: dict[str, tuple[float, float]] = {"mig_support": (0, 7)}


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _dto_field_problem(name: str, value: object) -> str | None:
    kind = DTO_REQUIRED[name]
    if value is None:
        return "is required"
    if kind == "text":
        return None if isinstance(value, str) and value.strip() else "must be non-empty text"
    if kind == "boolean":
        ok = (
            isinstance(value, bool)
            or value in (0, 1)
            or (isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE)
        )
        return None if ok else "must be true or false"
    number = _as_number(value)
    if number is None or not math.isfinite(number):
        return f"must be {'an integer' if kind == 'integer' else 'a number'}"
    if kind == "integer" and not number.is_integer():
        return "must be an integer"
    if name in DTO_RANGES:
        low, high = DTO_RANGES[name]
        if not low <= number <= high:
            return f"must be between {low:g} and {high:g}"
    return None


def _plainly_valid(name: str, values: list[object]) -> bool:
    """Every value of a DTO field is of its JSON type in its plainest form (a non-empty string,
    a true boolean, an integer, a finite number) and within its range: what a well-formed body
    sends, checked a field at a time. False sends the body to the item-by-item check, which
    also accepts the looser forms ("24", 1.0, "yes") and words each problem."""
    kind = DTO_REQUIRED[name]
    kinds = set(map(type, values))  # types, strips and lookups are mapped in C
    if kind == "text":
        return kinds <= {str} and all(map(str.strip, values))
    if kind == "boolean":
        return kinds <= {bool}
    if not kinds <= ({int} if kind == "integer" else {int, float}):
        return False
    numbers = np.asarray(values, dtype=float)
    low, high = DTO_RANGES.get(name, (-math.inf, math.inf))
    return bool(np.isfinite(numbers).all() and (numbers >= low).all() and (numbers <= high).all())


def dto_problems(records: list[object], limit: int = 100) -> list[str]:
    """Every way a body breaks the established GPUListingDTO contract (1-based item numbers,
    at most ``limit``): the established persist path refuses such a body whole, before anything
    is kept, as its clients expect; glyph's own paths make the same rows row errors instead."""
    if set(map(type, records)) <= {dict} and all(
        _plainly_valid(name, list(map(dict.get, records, repeat(name))))  # type: ignore[arg-type]
        for name in DTO_REQUIRED
    ):
        return []
    problems: list[str] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            problems.append(f"item {number}: must be an object")
        else:
            for name in DTO_REQUIRED:
                problem = _dto_field_problem(name, record.get(name))
                if problem:
                    problems.append(f"item {number}: {name} {problem}")
        if len(problems) >= limit:
            problems.append(f"... (stopped after {limit} problems)")
            break
    return problems


__all__ = [
    "DTO_REQUIRED",
    "ScoreScale",
    "adopt_scored",
    "decide_score_scale",
    "dto_problems",
    "normalize_scores",
]
