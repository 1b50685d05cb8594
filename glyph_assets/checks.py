"""Asset checks on every pipeline stage, run once an import's ingest run has succeeded.

Where they run: ``check_import`` (``jobs.build_check_job``), launched by the checks sensor after
each successful ``ingest_import`` / ``ingest_import_chunked`` run, so an import (and a client
waiting for it) does not wait for its checks; a materialization from the Dagster UI runs the
checks of what it materializes in its own run, as Dagster does by default.

For each stage the stored Parquet parts (``ParquetParts``, read part by part so memory follows
the chunk size) or, for ``persisted_listings``, the database rows of the import are checked:

- ``schema_valid``: the stage's pandera model (``sieve.schemas``), on every row up to
  ``GLYPH_CHECK_SAMPLE_ROWS`` (default 50,000) and on an even sample of that size beyond;
- ``import_index_contiguous``: every data row once, numbered 1..n;
- ``rows_preserved``: as many rows as ``raw_listings`` (no stage drops a row);
- ``score_in_range``: scores and their components within [0, 100];
- ``rows_accounted_for``: persisted listings + row errors == raw rows;
- ``unknown_model_share`` (severity WARN): the share of persisted rows whose model is unknown is
  at most ``GLYPH_UNKNOWN_MODEL_WARN_SHARE`` (default 0.25).

Partitioning: the checks are declared per partition (``AssetCheckSpec(partitions_def=imports)``),
so each import keeps its own results, the partition page shows them, a re-execution of one
import replaces that import's results only, and the stage's frame is loaded by the IO manager
for the run's partition. Without it a check result is recorded without a partition and the
asset shows whichever import ran last. The feature is a Dagster preview: its PreviewWarning
is silenced around these declarations only. No check is blocking: a failed check flags the
import for an operator but does not stop its rows from being persisted.
"""

import math
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetIn,
    MetadataValue,
    multi_asset_check,
)
from dagster._utils.warnings import PreviewWarning

from glyph_assets.contract import (
    ENRICHED_LISTINGS,
    NORMALIZED_LISTINGS,
    PERSISTED_LISTINGS,
    RAW_LISTINGS,
    SCORED_LISTINGS,
    check_step,
)
from glyph_assets.conventions import layer_tags
from glyph_assets.io_managers import ParquetParts, read_part
from glyph_assets.partitions import imports_partitions
from glyph_assets.resources import PipelineResource, StoreResource
from glyph_assets.sieve.columns import FIRST_INDEX, SCORE_COLUMNS
from glyph_assets.sieve.pipeline import arrow_text_types
from glyph_assets.sieve.schemas import STAGE_SCHEMAS, SchemaReport, validate_stage
from glyph_assets.store import audit, repository
from glyph_assets.store.db import Engine

# Validating the schema costs about 12 µs a row on this machine's 2 cores: beyond
# ``PipelineResource.check_sample_rows`` rows a stage is validated on an even sample; identity,
# counts and score ranges cover every row.
WHOLE_POPULATION_COLUMNS = ["import_index", "error_stage", *SCORE_COLUMNS]


DESCRIPTIONS = {
    "schema_valid": "Every row without a row error satisfies the stage's pandera model.",
    "import_index_contiguous": "import_index is unique and runs 1..n without gaps.",
    "rows_preserved": "The stage holds exactly as many rows as raw_listings.",
    "score_in_range": "Scores and their components lie within [0, 100].",
    "rows_accounted_for": "Persisted listings + row errors == raw rows of the import.",
    "unknown_model_share": (
        "Warns when the share of persisted rows with an unknown model is above "
        "GLYPH_UNKNOWN_MODEL_WARN_SHARE."
    ),
}


def _specs(asset: str, names: list[str], deps: list[str] | None = None) -> list[AssetCheckSpec]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return [
            AssetCheckSpec(
                name,
                asset=asset,
                description=DESCRIPTIONS[name],
                partitions_def=imports_partitions,
                additional_deps=deps or [],
                metadata={"glyph/stage": asset},
            )
            for name in names
        ]


# ---------------------------------------------------------------------------------------------
# pure evaluations (also used by the tests)


@dataclass
class FrameScan:
    """What one pass over a stage's parts found."""

    rows: int = 0
    indexes: list[np.ndarray] = field(default_factory=list)
    schema: SchemaReport = field(default_factory=SchemaReport)
    score_outside: int = 0
    score_examples: list[dict[str, object]] = field(default_factory=list)

    @property
    def all_indexes(self) -> np.ndarray:
        return np.concatenate(self.indexes) if self.indexes else np.array([], dtype=np.int64)


@dataclass
class Chunk:
    """One part of a stage: every row's identity and score columns, and the rows to validate."""

    rows: pd.DataFrame
    sample: pd.DataFrame


def sample_step(total_rows: int, limit: int) -> int:
    """Validate every row up to ``limit`` rows, every k-th row beyond (k = ceil(total / limit))."""
    return max(1, math.ceil(total_rows / max(1, limit)))


def frame_chunks(frames: Iterable[pd.DataFrame], step: int = 1) -> Iterator[Chunk]:
    for frame in frames:
        yield Chunk(rows=frame, sample=frame.iloc[::step])


def parquet_chunks(parts: ParquetParts, step: int) -> Iterator[Chunk]:
    """Read each part once: the light columns for every row, all columns for the sample only."""
    for part in parts.part_files:
        table = read_part(part)
        light = [c for c in WHOLE_POPULATION_COLUMNS if c in table.column_names]
        sample = table if step == 1 else table.take(pa.array(np.arange(0, table.num_rows, step)))
        # text as Arrow-backed strings: a Parquet string column is text by its type, so pandera
        # checks the dtype once instead of every cell
        text = sample.to_pandas(types_mapper=arrow_text_types)
        yield Chunk(rows=table.select(light).to_pandas(), sample=text)


def scan_chunks(stage: str, chunks: Iterable[Chunk]) -> FrameScan:
    model = STAGE_SCHEMAS[stage]
    scan = FrameScan()
    for chunk in chunks:
        scan.rows += len(chunk.rows)
        scan.indexes.append(pd.to_numeric(chunk.rows["import_index"]).to_numpy(dtype=np.int64))
        scan.schema.add(validate_stage(model, chunk.sample))
        outside, examples = scores_outside(chunk.rows)
        scan.score_outside += outside
        scan.score_examples.extend(examples[: max(0, 10 - len(scan.score_examples))])
    return scan


def scan_frames(stage: str, frames: Iterable[pd.DataFrame], step: int = 1) -> FrameScan:
    """The same scan over in-memory frames (every row validated unless ``step`` > 1)."""
    return scan_chunks(stage, frame_chunks(frames, step))


def scores_outside(frame: pd.DataFrame) -> tuple[int, list[dict[str, object]]]:
    """Rows (without a row error) whose score or a component is outside [0, 100]."""
    columns = [c for c in SCORE_COLUMNS if c in frame.columns]
    if not columns:
        return 0, []
    rows = frame if "error_stage" not in frame else frame.loc[frame["error_stage"].isna()]
    values = rows[columns].apply(pd.to_numeric, errors="coerce")
    bad = ((values < 0) | (values > 100)).any(axis=1)
    examples = rows.loc[bad, ["import_index", *columns]].head(10).to_dict("records")
    return int(bad.sum()), examples


def index_report(indexes: np.ndarray) -> tuple[bool, dict[str, object]]:
    """Unique and contiguous from FIRST_INDEX (1): the identity (import_id, import_index)
    holds. ``missing_in_range`` counts the numbers of FIRST_INDEX..max that no row has."""
    n = len(indexes)
    if n and int(indexes.min()) >= 0 and int(indexes.max()) < 4 * n + 1024:
        # the usual case, indexes within a few times n: count them in one O(n) pass (sorting a
        # million indexes for np.unique cost a second per check)
        counts = np.bincount(indexes)
        distinct = int(np.count_nonzero(counts))
        in_range = int(np.count_nonzero(counts[FIRST_INDEX:]))
        low, top = int(indexes.min()), int(indexes.max())
    else:
        unique = np.unique(indexes)
        distinct = len(unique)
        in_range = int(np.count_nonzero(unique >= FIRST_INDEX))
        low, top = (int(unique[0]), int(unique[-1])) if distinct else (FIRST_INDEX, 0)
    duplicates = n - distinct
    missing = max(0, top - FIRST_INDEX + 1 - in_range)
    passed = duplicates == 0 and (n == 0 or (low == FIRST_INDEX and top == FIRST_INDEX + n - 1))
    return passed, {
        "rows": n,
        "duplicates": duplicates,
        "missing_in_range": missing,
        "min_index": low,
        "max_index": top,
    }


def unknown_model_report(
    persisted: int, unknown: int, threshold: float
) -> tuple[bool, dict[str, object]]:
    share = unknown / persisted if persisted else 0.0
    return share <= threshold, {
        "unknown_model_rows": unknown,
        "persisted_rows": persisted,
        "share": round(share, 4),
        "threshold": threshold,
    }


def _md_records(records: list[dict[str, object]]) -> MetadataValue:
    if not records:
        return MetadataValue.md("(none)")
    return MetadataValue.md(pd.DataFrame(records).to_markdown(index=False))


def _schema_result(stage: str, report: SchemaReport, rows: int) -> AssetCheckResult:
    return AssetCheckResult(
        check_name="schema_valid",
        asset_key=stage,
        passed=report.passed,
        description=None if report.passed else f"{report.failing_rows} rows break the schema",
        metadata={
            "model": STAGE_SCHEMAS[stage].__name__,
            "rows": rows,
            "rows_validated": report.rows,
            "failing_rows": report.failing_rows,
            "failure_cases": report.failure_cases,
            "first_failures": _md_records(report.sample),
        },
    )


def _index_result(stage: str, indexes: np.ndarray) -> AssetCheckResult:
    passed, figures = index_report(indexes)
    return AssetCheckResult(
        check_name="import_index_contiguous", asset_key=stage, passed=passed, metadata=figures
    )


def _score_result(stage: str, outside: int, examples: list[dict[str, object]]) -> AssetCheckResult:
    return AssetCheckResult(
        check_name="score_in_range",
        asset_key=stage,
        passed=outside == 0,
        metadata={"rows_outside": outside, "examples": _md_records(examples)},
    )


def _stage_results(
    stage: str,
    parts: ParquetParts,
    raw_rows: int | None,
    sample_limit: int,
    with_scores: bool = False,
) -> Iterator[AssetCheckResult]:
    scan = scan_chunks(stage, parquet_chunks(parts, sample_step(parts.num_rows, sample_limit)))
    yield _schema_result(stage, scan.schema, scan.rows)
    yield _index_result(stage, scan.all_indexes)
    if raw_rows is not None:
        yield AssetCheckResult(
            check_name="rows_preserved",
            asset_key=stage,
            passed=scan.rows == raw_rows,
            metadata={"rows": scan.rows, "raw_rows": raw_rows},
        )
    if with_scores:
        yield _score_result(stage, scan.score_outside, scan.score_examples)


# ---------------------------------------------------------------------------------------------
# the checks

_FRAME_CHECKS = ["schema_valid", "import_index_contiguous"]
_CHECK_OP_TAGS = {"glyph/checks": "pipeline", **layer_tags("checks")}


@multi_asset_check(
    specs=_specs(RAW_LISTINGS, _FRAME_CHECKS),
    ins={"raw_listings": AssetIn(RAW_LISTINGS)},
    name=check_step(RAW_LISTINGS),
    description="Schema and import_index checks on the stored raw rows of one import.",
    op_tags=_CHECK_OP_TAGS,
)
def raw_listings_checks(
    context: AssetCheckExecutionContext, raw_listings: ParquetParts, pipeline: PipelineResource
) -> Iterator[AssetCheckResult]:
    yield from _stage_results(RAW_LISTINGS, raw_listings, None, pipeline.check_sample_rows)


def _checks_after_raw(stage: str, description: str, extra: list[str]) -> AssetChecksDefinition:
    """The checks of a stage that transforms raw_listings' rows: its frame checks, the same row
    count as raw_listings, and ``extra`` (each also evaluated by ``_stage_results``)."""

    @multi_asset_check(
        specs=_specs(stage, [*_FRAME_CHECKS, "rows_preserved", *extra], [RAW_LISTINGS]),
        ins={"stage_rows": AssetIn(stage), "raw_listings": AssetIn(RAW_LISTINGS)},
        name=check_step(stage),
        description=description,
        op_tags=_CHECK_OP_TAGS,
    )
    def stage_checks(
        context: AssetCheckExecutionContext,
        stage_rows: ParquetParts,
        raw_listings: ParquetParts,
        pipeline: PipelineResource,
    ) -> Iterator[AssetCheckResult]:
        yield from _stage_results(
            stage,
            stage_rows,
            raw_listings.num_rows,
            pipeline.check_sample_rows,
            with_scores="score_in_range" in extra,
        )

    return stage_checks


normalized_listings_checks = _checks_after_raw(
    NORMALIZED_LISTINGS,
    "Schema, import_index and row-count checks on the normalized rows.",
    [],
)
enriched_listings_checks = _checks_after_raw(
    ENRICHED_LISTINGS,
    "Schema, import_index and row-count checks on the enriched rows.",
    [],
)
scored_listings_checks = _checks_after_raw(
    SCORED_LISTINGS,
    "Schema, import_index, row-count and score-range checks on the scored rows.",
    ["score_in_range"],
)


def _recorded_total(engine: Engine, import_id: str) -> int | None:
    record = repository.get_import(engine, import_id)
    return None if record is None else record.get("total_rows")


@multi_asset_check(
    specs=_specs(
        PERSISTED_LISTINGS,
        [
            "schema_valid",
            "import_index_contiguous",
            "rows_accounted_for",
            "score_in_range",
            "unknown_model_share",
        ],
        [RAW_LISTINGS],
    ),
    ins={"raw_listings": AssetIn(RAW_LISTINGS)},
    name=check_step(PERSISTED_LISTINGS),
    description=(
        "Database checks of one import: schema, import_index over listings and row errors, "
        "rows accounted for, score range and the unknown-model share."
    ),
    op_tags=_CHECK_OP_TAGS,
)
def persisted_listings_checks(
    context: AssetCheckExecutionContext,
    raw_listings: ParquetParts,
    pipeline: PipelineResource,
    store: StoreResource,
) -> Iterator[AssetCheckResult]:
    import_id = context.op_execution_context.partition_key
    stage = PERSISTED_LISTINGS
    engine = store.engine
    indexes, errors = audit.stored_indexes(engine, import_id)
    raw_rows = raw_listings.num_rows
    schema = SchemaReport()
    columns = list(STAGE_SCHEMAS[stage].to_schema().columns)
    for frame in audit.persisted_sample(
        engine, import_id, columns, sample_step(len(indexes), pipeline.check_sample_rows)
    ):
        schema.add(validate_stage(STAGE_SCHEMAS[stage], frame))
    yield _schema_result(stage, schema, len(indexes))
    yield _index_result(stage, np.concatenate([indexes, errors]))
    yield AssetCheckResult(
        check_name="rows_accounted_for",
        asset_key=stage,
        passed=len(indexes) + len(errors) == raw_rows,
        metadata={
            "persisted_rows": len(indexes),
            "error_rows": len(errors),
            "raw_rows": raw_rows,
            "recorded_total_rows": _recorded_total(engine, import_id),
        },
    )
    found = audit.persisted_figures(engine, import_id)
    yield _score_result(stage, found.scores_outside, found.examples)
    passed, figures = unknown_model_report(
        len(indexes), found.unknown_model_rows, pipeline.unknown_model_warn_share
    )
    yield AssetCheckResult(
        check_name="unknown_model_share",
        asset_key=stage,
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        description=(
            None
            if passed
            else f"{figures['share']:.0%} of the rows have an unknown model "
            f"(threshold {figures['threshold']:.0%}): registry aliases may be missing"
        ),
        metadata=figures,
    )


PIPELINE_CHECKS = [
    raw_listings_checks,
    normalized_listings_checks,
    enriched_listings_checks,
    scored_listings_checks,
    persisted_listings_checks,
]

__all__ = [
    "PIPELINE_CHECKS",
    "index_report",
    "sample_step",
    "scan_chunks",
    "scan_frames",
    "scores_outside",
    "unknown_model_report",
]
