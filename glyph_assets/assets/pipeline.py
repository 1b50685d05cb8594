"""The five pipeline assets of one import: raw -> normalized -> enriched -> scored -> persisted."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    Backoff,
    Config,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)
from sqlalchemy.exc import SQLAlchemyError

from glyph_assets.assets.metadata import add_counts, distribution_table, preview, stage_metadata
from glyph_assets.io_managers import FrameStream, ParquetParts
from glyph_assets.landing import read_manifest
from glyph_assets.partitions import imports_partitions
from glyph_assets.run_state import claim
from glyph_assets.settings import get_settings
from glyph_assets.sieve.pipeline import enrich_chunk, normalize_chunk, score_chunks
from glyph_assets.sieve.read import ERROR_COLUMN, iter_raw_chunks
from glyph_assets.sieve.scored import ScoreScale
from glyph_assets.store import repository
from glyph_assets.store.db import migrate
from glyph_assets.store.status import ImportStatus

GROUP = "ingestion"
OWNERS = ["team:glyph"]
PIPELINE_TAGS = {"domain": "gpu_market", "layer": "pipeline"}
PREVIEW_COLUMNS = ["import_index", "title", "price", "canonical_model", "match_type", "score"]


class StageConfig(Config):
    """Operational switches: a delay per chunk (to watch or cancel a run) and a fault switch."""

    delay_seconds: float = 0.0
    fail: bool = False


def _apply_switches(context: AssetExecutionContext, config: StageConfig) -> None:
    if config.delay_seconds:
        time.sleep(config.delay_seconds)
    if config.fail:
        raise RuntimeError(f"fault switch set for {context.asset_key.to_user_string()}")


def _claim(context: AssetExecutionContext) -> None:
    """This run is an attempt of the import, whoever launched it: recorded, and the import
    running (see glyph_assets.run_state). Every stage claims, because a re-execution from a
    failed step or a UI materialization of some assets starts at a later stage.

    Bookkeeping only: a database that cannot take it now does not fail the stage (the
    run-status sensors record the run when it ends; persisted_listings needs the database and
    has its own retries)."""
    try:
        claim(migrate(get_settings().sqlalchemy_url), context.partition_key, context.run_id)
    except SQLAlchemyError as exc:
        context.log.warning(f"could not record run {context.run_id} as an attempt yet: {exc}")


def _kind(import_id: str) -> str:
    manifest = read_manifest(get_settings().landing_dir, import_id)
    return manifest.kind or "raw"


def _declared_scale(import_id: str) -> str | None:
    return read_manifest(get_settings().landing_dir, import_id).score_scale


# Seconds between two progress lines of a stage: each line is an event written to Dagster's
# event log, and a chunk every half second would make the log itself a cost.
PROGRESS_EVERY_S = 2.0
_last_progress: dict[tuple[str, str], float] = {}


def _progress(context: AssetExecutionContext, stage: str, done: int, total: int | None) -> None:
    """Log "progress <stage>: done / total rows" (read by the API's job status), at most every
    PROGRESS_EVERY_S per stage, and always for the first and the last chunk."""
    key = (context.run_id, stage)
    now = time.monotonic()
    last = _last_progress.get(key)
    if last is not None and done != total and now - last < PROGRESS_EVERY_S:
        return
    _last_progress[key] = now
    of = f" / {total}" if total is not None else ""
    context.log.info(f"progress {stage}: {done}{of} rows")


def _errors(frame: pd.DataFrame) -> int:
    return int(frame["error_stage"].notna().sum()) if "error_stage" in frame else 0


@asset(
    partitions_def=imports_partitions,
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version="1",
    owners=OWNERS,
    tags=PIPELINE_TAGS,
    description="The landed file of one import, as text rows with their 1-based import_index.",
)
def raw_listings(context: AssetExecutionContext, config: StageConfig) -> FrameStream:
    _claim(context)
    settings = get_settings()
    import_id = context.partition_key
    manifest = read_manifest(settings.landing_dir, import_id)
    _apply_switches(context, config)
    stats = {"rows": 0, "unreadable": 0}

    def chunks() -> Iterator[pd.DataFrame]:
        for chunk in iter_raw_chunks(
            manifest.path, chunk_rows=settings.chunk_rows, filename=manifest.original_filename
        ):
            stats["rows"] += len(chunk)
            stats["unreadable"] += int(chunk[ERROR_COLUMN].notna().sum())
            _progress(context, "raw_listings", stats["rows"], None)
            yield chunk.astype({c: "string[pyarrow]" for c in chunk.columns if c != "import_index"})

    stream = FrameStream(chunks())
    context.add_output_metadata(
        {
            "import_id": import_id,
            "original_filename": str(manifest.original_filename),
            "sha256": manifest.sha256,
            "size_bytes": manifest.size_bytes,
            "source": manifest.source,
            "kind": manifest.kind or "raw",
        }
    )
    return stream


@asset(
    partitions_def=imports_partitions,
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    code_version="1",
    owners=OWNERS,
    tags=PIPELINE_TAGS,
    description=(
        "Cleaned rows (one column set for every header dialect, typed prices, conditions) "
        "mapped to a canonical GPU model or rejected as not-a-GPU / unknown model."
    ),
)
def normalized_listings(
    context: AssetExecutionContext, config: StageConfig, raw_listings: ParquetParts
) -> FrameStream:
    _claim(context)
    settings = get_settings()
    kind = _kind(context.partition_key)
    source = read_manifest(settings.landing_dir, context.partition_key).source
    total = raw_listings.num_rows
    _apply_switches(context, config)
    match_types: dict[str, int] = {}
    reasons: dict[str, int] = {}
    state = {"rows": 0, "errors": 0, "preview": pd.DataFrame()}

    def chunks() -> Iterator[pd.DataFrame]:
        for raw in raw_listings.iter_frames(arrow_strings=True):
            frame = normalize_chunk(raw, kind, settings.max_field_chars, source)
            state["rows"] += len(frame)
            state["errors"] += _errors(frame)
            add_counts(match_types, frame.loc[frame["error_stage"].isna(), "match_type"])
            add_counts(reasons, frame.loc[frame["error_stage"].isna(), "reject_reason"])
            if state["preview"].empty:
                state["preview"] = frame.head(10)
            _progress(context, "normalized_listings", state["rows"], total)
            yield frame

    return _with_metadata(FrameStream(chunks()), state, match_types, reasons)


def _with_metadata(
    stream: FrameStream,
    state: dict,
    match_types: dict[str, int] | None = None,
    reasons: dict[str, int] | None = None,
    more: Callable[[], dict[str, Any]] | None = None,
) -> FrameStream:
    """Counts are known only once the stream is written; the IO manager asks for them then."""

    def metadata() -> dict[str, Any]:
        extra: dict[str, Any] = {"preview": preview(state["preview"], PREVIEW_COLUMNS)}
        if match_types is not None:
            extra["match_types"] = distribution_table(match_types, "match_type")
        if reasons is not None:
            extra["reject_reasons"] = distribution_table(reasons, "reject_reason")
        if more is not None:
            extra.update(more())
        return stage_metadata(state["rows"], state["errors"], extra)

    return FrameStream(stream.chunks, metadata)


@asset(
    partitions_def=imports_partitions,
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    code_version="1",
    owners=OWNERS,
    tags=PIPELINE_TAGS,
    description=(
        "Normalized rows joined with the GPU registry's specs, with warnings where a listing "
        "contradicts them."
    ),
)
def enriched_listings(
    context: AssetExecutionContext, config: StageConfig, normalized_listings: ParquetParts
) -> FrameStream:
    _claim(context)
    kind = _kind(context.partition_key)
    total = normalized_listings.num_rows
    _apply_switches(context, config)
    state = {"rows": 0, "errors": 0, "preview": pd.DataFrame(), "warnings": 0}

    def chunks() -> Iterator[pd.DataFrame]:
        for frame in normalized_listings.iter_frames(arrow_strings=True):
            frame = enrich_chunk(frame, kind)
            state["rows"] += len(frame)
            state["errors"] += _errors(frame)
            state["warnings"] += int(frame["warnings"].notna().sum())
            if state["preview"].empty:
                state["preview"] = frame.head(10)
            _progress(context, "enriched_listings", state["rows"], total)
            yield frame

    return _with_metadata(FrameStream(chunks()), state)


@asset(
    partitions_def=imports_partitions,
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    code_version="1",
    owners=OWNERS,
    tags=PIPELINE_TAGS,
    description=(
        "Enriched rows with a utility score in [0, 100] for inference value per dollar and its "
        "components, priced against the same import's market per model."
    ),
)
def scored_listings(
    context: AssetExecutionContext, config: StageConfig, enriched_listings: ParquetParts
) -> FrameStream:
    _claim(context)
    kind = _kind(context.partition_key)
    total = enriched_listings.num_rows
    _apply_switches(context, config)
    state = {"rows": 0, "errors": 0, "preview": pd.DataFrame()}
    scores: list[pd.Series] = []

    def record_scale(scale: ScoreScale) -> None:
        """A scored import's scale (and its warning) is the import's, shown by its summary."""
        engine = migrate(get_settings().sqlalchemy_url)
        repository.record_score_scale(engine, context.partition_key, scale.scale, scale.warning)
        context.log.info(f"client scores read on the {scale.scale} scale")
        if scale.warning:
            context.log.warning(scale.warning)

    def chunks() -> Iterator[pd.DataFrame]:
        for frame in score_chunks(
            lambda: enriched_listings.iter_frames(arrow_strings=True),
            kind,
            score_scale=_declared_scale(context.partition_key),
            on_scale=record_scale,
        ):
            state["rows"] += len(frame)
            state["errors"] += _errors(frame)
            scores.append(frame["score"].dropna())
            if state["preview"].empty:
                state["preview"] = frame.head(10)
            _progress(context, "scored_listings", state["rows"], total)
            yield frame

    def score_metadata() -> dict[str, Any]:
        values = pd.concat(scores) if scores else pd.Series(dtype=float)
        bins = pd.cut(values, bins=[0, 20, 40, 60, 80, 100], include_lowest=True)
        counts = {str(k): int(v) for k, v in bins.value_counts(sort=False).items()}
        return {
            "score_distribution": distribution_table(counts, "score"),
            "score_min": float(values.min()) if len(values) else 0.0,
            "score_max": float(values.max()) if len(values) else 0.0,
        }

    return _with_metadata(FrameStream(chunks()), state, more=score_metadata)


@asset(
    partitions_def=imports_partitions,
    group_name=GROUP,
    kinds={"sqlite", "postgresql"},
    code_version="1",
    owners=OWNERS,
    tags={**PIPELINE_TAGS, "layer": "warehouse"},
    retry_policy=RetryPolicy(max_retries=3, delay=1.0, backoff=Backoff.EXPONENTIAL),
    description=(
        "The import's listings and row errors written to the database in one transaction, "
        "replacing any earlier write of the same import."
    ),
)
def persisted_listings(
    context: AssetExecutionContext, config: StageConfig, scored_listings: ParquetParts
) -> MaterializeResult:
    _claim(context)
    settings = get_settings()
    import_id = context.partition_key
    engine = migrate(settings.sqlalchemy_url)
    total = scored_listings.num_rows
    done = {"rows": 0}

    def chunks() -> Iterator[pd.DataFrame]:
        for frame in scored_listings.iter_frames(arrow_strings=True):
            done["rows"] += len(frame)
            _progress(context, "persisted_listings", done["rows"], total)
            _apply_switches(context, config)
            yield frame

    counts = repository.replace_import_rows(engine, import_id, chunks())
    status = repository.finish_import(
        engine, import_id, ImportStatus.SUCCEEDED, counts=counts, total_rows=total
    )
    return MaterializeResult(
        metadata={
            "import_id": import_id,
            "status": status.value,
            "total_rows": MetadataValue.int(total),
            **{name: MetadataValue.int(value) for name, value in counts.items()},
            "database": MetadataValue.text(engine.url.render_as_string(hide_password=True)),
        }
    )


PIPELINE_ASSETS = [
    raw_listings,
    normalized_listings,
    enriched_listings,
    scored_listings,
    persisted_listings,
]

__all__ = ["PIPELINE_ASSETS", "StageConfig"]
