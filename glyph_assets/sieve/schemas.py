"""Pandera models of each stage's stored frame: the contract the asset checks verify.

Each model lists the columns ``sieve.columns`` promises for its stage with their types and
ranges; extra columns are allowed (a scored upload carries its own columns through every
stage). Text columns accept None/NaN, numeric columns may be any numeric dtype (an all-null
chunk comes back from Parquet as object or float), so a check fails on wrong content, not on
how pandas happened to store a null. Types are checked column-wise in C (``infer_dtype``)
rather than cell by cell; only a failing column is walked to name its bad rows.
"""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.extensions import register_check_method
from pandera.typing import Series

from glyph_assets.contract import (
    ENRICHED_LISTINGS,
    NORMALIZED_LISTINGS,
    PERSISTED_LISTINGS,
    RAW_LISTINGS,
    SCORED_LISTINGS,
)
from glyph_assets.sieve.columns import (
    ENRICHED_COLUMNS,
    ERROR_COLUMNS,
    FIRST_INDEX,
    NORMALIZED_COLUMNS,
    SCORED_COLUMNS,
)

BOOLS = [True, False]
NUMERIC_ERROR = "must be numeric or null"


_NUMBER_KINDS = {"integer", "floating", "mixed-integer-float", "decimal", "empty"}


def numeric_check(*columns: str) -> Any:
    """The check that ``columns`` hold numbers or nulls (``NUMERIC_ERROR`` otherwise), as each
    stage's model declares it for the numeric columns it adds."""

    def numbers(cls: type, series: pd.Series) -> bool | pd.Series:
        return _numeric(series)

    return pa.check(*columns, name="numeric", error=NUMERIC_ERROR)(numbers)


def _numeric(series: pd.Series) -> bool | pd.Series:
    """Numeric dtype, or an object column holding only numbers and nulls."""
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_numeric_dtype(series):
        return True
    if pd.api.types.infer_dtype(series, skipna=True) in _NUMBER_KINDS:
        return True
    return series.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)) | (
        series.isna()
    )


@register_check_method()
def is_text(series: pd.Series) -> bool | pd.Series:
    """Text or null: a string dtype, or an object column of str (checked in C first)."""
    if isinstance(series.dtype, pd.StringDtype):
        return True
    if series.dtype == object:
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            return True
        return series.map(lambda v: isinstance(v, str)) | series.isna()
    return bool(series.isna().all())  # an all-null chunk read back as float


class _Base(pa.DataFrameModel):
    class Config:
        strict = False
        coerce = False


class RawListings(_Base):
    """raw_listings: the file's cells as text, one row per data row, with read errors."""

    import_index: Series[int] = pa.Field(ge=FIRST_INDEX)
    read_error: Series | None = pa.Field(nullable=True, alias="_error", is_text=())


class _ErrorColumns(_Base):
    error_stage: Series = pa.Field(nullable=True, is_text=())
    error_field: Series = pa.Field(nullable=True, is_text=())
    error_reason: Series = pa.Field(nullable=True, is_text=())
    raw_row: Series = pa.Field(nullable=True, is_text=())

    @pa.dataframe_check(error="a row error has a stage but no reason")
    def error_has_reason(cls, df: pd.DataFrame) -> pd.Series:  # noqa: N805
        return df["error_stage"].isna() | df["error_reason"].notna()


class CleanedListings(_ErrorColumns):
    import_index: Series[int] = pa.Field(ge=FIRST_INDEX)
    title: Series = pa.Field(nullable=True, is_text=())
    price: Series = pa.Field(nullable=True, ge=0)
    currency: Series = pa.Field(nullable=True, is_text=(), str_matches=r"^[A-Z]{3}$")
    condition: Series = pa.Field(nullable=True, is_text=())
    quantity: Series = pa.Field(nullable=True, ge=0)
    unit_price: Series = pa.Field(nullable=True, ge=0)
    seller: Series = pa.Field(nullable=True, is_text=())
    region: Series = pa.Field(nullable=True, is_text=())
    source_url: Series = pa.Field(nullable=True, is_text=())
    source_type: Series = pa.Field(nullable=True, is_text=())
    listing_age: Series = pa.Field(nullable=True, is_text=())
    model_hint: Series = pa.Field(nullable=True, is_text=())
    brand_hint: Series = pa.Field(nullable=True, is_text=())
    bulk_notes: Series = pa.Field(nullable=True, is_text=())

    cleaned_numbers = numeric_check("price", "quantity", "unit_price")


class NormalizedListings(CleanedListings):
    """normalized_listings: cleaned rows with their canonical model or reject reason."""

    canonical_model: Series = pa.Field(nullable=True, is_text=())
    match_type: Series = pa.Field(nullable=True, is_text=())
    match_score: Series = pa.Field(nullable=True, ge=0, le=1)
    vendor: Series = pa.Field(nullable=True, is_text=())
    is_gpu: Series = pa.Field(nullable=True, isin=BOOLS)
    reject_reason: Series = pa.Field(nullable=True, is_text=())
    listing_key: Series = pa.Field(nullable=True, is_text=())
    match_alternatives: Series = pa.Field(nullable=True, is_text=())

    match_numbers = numeric_check("match_score")


class EnrichedListings(NormalizedListings):
    """enriched_listings: normalized rows with the registry's specs."""

    segment: Series = pa.Field(nullable=True, is_text=())
    architecture: Series = pa.Field(nullable=True, is_text=())
    vram_gb: Series = pa.Field(nullable=True, ge=0)
    memory_type: Series = pa.Field(nullable=True, is_text=())
    tdp_watts: Series = pa.Field(nullable=True, ge=0)
    mig_instances: Series = pa.Field(nullable=True, ge=0)
    nvlink: Series = pa.Field(nullable=True, isin=BOOLS)
    pcie_gen: Series = pa.Field(nullable=True, ge=1)
    form_factor: Series = pa.Field(nullable=True, is_text=())
    launch_year: Series = pa.Field(nullable=True, ge=1990, le=2100)
    warnings: Series = pa.Field(nullable=True, is_text=())

    spec_numbers = numeric_check("vram_gb", "tdp_watts", "mig_instances", "pcie_gen", "launch_year")


class ScoredListings(EnrichedListings):
    """scored_listings: enriched rows with the utility score and its components in [0, 100]."""

    score: Series = pa.Field(nullable=True, ge=0, le=100)
    score_capacity: Series = pa.Field(nullable=True, ge=0, le=100)
    score_features: Series = pa.Field(nullable=True, ge=0, le=100)
    score_efficiency: Series = pa.Field(nullable=True, ge=0, le=100)
    score_value: Series = pa.Field(nullable=True, ge=0, le=100)
    # A scored upload's own score, as sent: any finite number (the client's scale, not glyph's).
    client_score: Series = pa.Field(nullable=True)

    score_numbers = numeric_check(
        "score",
        "score_capacity",
        "score_features",
        "score_efficiency",
        "score_value",
        "client_score",
    )


class PersistedListings(_Base):
    """The listings table's rows of one import (as read back from the database)."""

    import_id: Series = pa.Field(is_text=(), str_length={"min_value": 36, "max_value": 36})
    import_index: Series[int] = pa.Field(ge=FIRST_INDEX, unique=True)
    title: Series = pa.Field(nullable=True, is_text=())
    price: Series = pa.Field(nullable=True, ge=0)
    unit_price: Series = pa.Field(nullable=True, ge=0)
    currency: Series = pa.Field(nullable=True, is_text=(), str_matches=r"^[A-Z]{3}$")
    canonical_model: Series = pa.Field(nullable=True, is_text=())
    match_type: Series = pa.Field(nullable=True, is_text=())
    is_gpu: Series = pa.Field(nullable=True, isin=BOOLS)
    reject_reason: Series = pa.Field(nullable=True, is_text=())
    vram_gb: Series = pa.Field(nullable=True, ge=0)
    score: Series = pa.Field(nullable=True, ge=0, le=100)

    persisted_numbers = numeric_check("price", "unit_price", "vram_gb", "score")


STAGE_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    RAW_LISTINGS: RawListings,
    NORMALIZED_LISTINGS: NormalizedListings,
    ENRICHED_LISTINGS: EnrichedListings,
    SCORED_LISTINGS: ScoredListings,
    PERSISTED_LISTINGS: PersistedListings,
}

# The column lists each model must cover (tests compare them with sieve.columns).
STAGE_COLUMNS: dict[str, list[str]] = {
    RAW_LISTINGS: ["import_index"],
    NORMALIZED_LISTINGS: NORMALIZED_COLUMNS + ERROR_COLUMNS,
    ENRICHED_LISTINGS: ENRICHED_COLUMNS + ERROR_COLUMNS,
    SCORED_LISTINGS: SCORED_COLUMNS + ERROR_COLUMNS,
    PERSISTED_LISTINGS: [
        "import_id",
        "import_index",
        "title",
        "price",
        "unit_price",
        "currency",
        "canonical_model",
        "match_type",
        "is_gpu",
        "reject_reason",
        "vram_gb",
        "score",
    ],
}


@dataclass
class SchemaReport:
    """What a stage's validation found: failing rows and a sample of failure cases."""

    rows: int = 0
    failing_rows: int = 0
    failure_cases: int = 0
    sample: list[dict[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failure_cases == 0

    def add(self, other: "SchemaReport", limit: int = 20) -> None:
        self.rows += other.rows
        self.failing_rows += other.failing_rows
        self.failure_cases += other.failure_cases
        self.sample.extend(other.sample[: max(0, limit - len(self.sample))])


def _failures(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> pd.DataFrame:
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])


def validate_stage(
    model: type[pa.DataFrameModel], frame: pd.DataFrame, limit: int = 20
) -> SchemaReport:
    """Validate one chunk of a stage.

    Row errors keep whatever their fields held when they failed (a negative price, say), so the
    stage's field rules apply to the rows without ``error_stage``; the error columns' own rules
    apply to every row. A chunk without row errors is validated in one pass: the stage's model
    holds the error columns' rules too (pandera's fixed cost per pass was half of a 3-row
    import's checks).
    """
    has_errors = "error_stage" in frame.columns and bool(frame["error_stage"].notna().any())
    if has_errors and issubclass(model, _ErrorColumns):
        good = frame.loc[frame["error_stage"].isna()]
        # The stage's model holds the error columns' rules too: a good row's failure of one of
        # them is found by both passes and counted once, as in a chunk without row errors.
        cases = pd.concat(
            [_failures(_ErrorColumns, frame), _failures(model, good)], ignore_index=True
        )
        identity = [c for c in ("column", "check", "index") if c in cases.columns]
        cases = cases.drop_duplicates(subset=identity) if identity else cases
    else:
        cases = _failures(model, frame)
    keep = [c for c in ("column", "check", "failure_case", "index") if c in cases.columns]
    rows = cases["index"].dropna() if "index" in cases.columns else pd.Series(dtype=object)
    # a frame-wide rule reports every column of a failing row: one line per (rule, row) is enough
    distinct = cases.drop_duplicates(subset=[c for c in ("check", "index") if c in cases.columns])
    sample = distinct[keep].head(limit).astype(str).to_dict("records")
    return SchemaReport(
        rows=len(frame),
        failing_rows=int(rows.nunique()),
        failure_cases=len(cases),
        sample=sample,
    )


__all__ = [
    "EnrichedListings",
    "NormalizedListings",
    "PersistedListings",
    "RawListings",
    "STAGE_COLUMNS",
    "STAGE_SCHEMAS",
    "ScoredListings",
    "SchemaReport",
    "validate_stage",
]
