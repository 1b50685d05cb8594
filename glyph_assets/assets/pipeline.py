"""The five pipeline assets of one import: raw -> normalized -> enriched -> scored -> persisted."""

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    OpExecutionContext,
    RetryPolicy,
)
from sqlalchemy.exc import SQLAlchemyError

from glyph_assets.assets.metadata import add_counts, distribution_table, preview, stage_metadata
from glyph_assets.assets.placement import record_worker
from glyph_assets.assets.progress import StageProgress
from glyph_assets.conventions import DATABASE_WRITE_RETRY, layer_tags, versioned_asset
from glyph_assets.io_managers import FrameStream, ParquetParts
from glyph_assets.memory import give_back_freed_memory
from glyph_assets.partitions import imports_partitions
from glyph_assets.resources import LandingResource, PipelineResource, StoreResource
from glyph_assets.run_state import claim
from glyph_assets.sieve.pipeline import Stages, read_chunks
from glyph_assets.sieve.registry import load_registry
from glyph_assets.sieve.scored import ScoreScale
from glyph_assets.storage import local_file
from glyph_assets.store import repository, summaries, warehouse
from glyph_assets.store.status import ImportStatus

GROUP = "ingestion"
PIPELINE_TAGS = layer_tags("pipeline")
PREVIEW_COLUMNS = ["import_index", "title", "price", "canonical_model", "match_type", "score"]


class StageConfig(Config):
    """Operational switches: a delay per chunk (to watch or cancel a run) and a fault switch."""

    delay_seconds: float = 0.0
    fail: bool = False


def _pipeline_asset(
    kinds: set[str],
    description: str,
    tags: dict[str, str] = PIPELINE_TAGS,
    retry_policy: RetryPolicy | None = None,
) -> Any:
    """``@asset`` as every pipeline stage is declared: partitioned by import, one group; the
    warehouse write alone sets its own tags and retries."""
    return versioned_asset(
        GROUP,
        description,
        partitions_def=imports_partitions,
        kinds=kinds,
        tags=tags,
        retry_policy=retry_policy,
    )


def _apply_switches(context: AssetExecutionContext, config: StageConfig) -> None:
    if config.delay_seconds:
        time.sleep(config.delay_seconds)
    if config.fail:
        raise RuntimeError(f"fault switch set for {context.asset_key.to_user_string()}")


def _claim(
    context: AssetExecutionContext | OpExecutionContext,
    store: StoreResource,
    asset_key: AssetKey | None = None,
) -> None:
    """This run is an attempt of the import, whoever launched it: recorded, and the import
    running (see glyph_assets.run_state). Every stage claims, because a re-execution from a
    failed step or a UI materialization of some assets starts at a later stage.

    Bookkeeping only: a database that cannot take it now does not fail the stage (the
    run-status sensors record the run when it ends; persisted_listings needs the database and
    has its own retries). The step also records the worker it runs on (``placement``), as an
    observation of its asset (``asset_key`` for a step of a fanned-out stage), after giving
    back the memory earlier steps freed (``glyph_assets.memory``)."""
    give_back_freed_memory()  # what earlier steps of the run freed (glyph_assets.memory)
    record_worker(context, asset_key)
    try:
        claim(
            store.engine,
            context.partition_key,
            context.run_id,
            parent_run_id=context.run.parent_run_id,
        )
    except SQLAlchemyError as exc:
        context.log.warning(f"could not record run {context.run_id} as an attempt yet: {exc}")


def _stages(landing: LandingResource, import_id: str, max_field_chars: int) -> Stages:
    """The stage runner for the import, as its manifest describes it (kind, source, scale)."""
    manifest = landing.manifest(import_id)
    return Stages(
        kind=manifest.kind or "raw",
        max_field_chars=max_field_chars,
        source=manifest.source,
        score_scale=manifest.score_scale,
    )


def _start_stage(
    context: AssetExecutionContext,
    config: StageConfig,
    store: StoreResource,
    landing: LandingResource,
    pipeline: PipelineResource,
    upstream: ParquetParts,
) -> tuple[Stages, StageProgress]:
    """What every transforming stage does first: claim the run, build the import's stage
    runner, start progress against the upstream's row count, then honour the switches."""
    _claim(context, store)
    stages = _stages(landing, context.partition_key, pipeline.max_field_chars)
    progress = StageProgress(context, upstream.num_rows)
    _apply_switches(context, config)
    return stages, progress


def _errors(frame: pd.DataFrame) -> int:
    return int(frame["error_stage"].notna().sum()) if "error_stage" in frame else 0


@dataclass
class _Tally:
    """What a stage's chunks add up to, for its materialization's metadata (known only once
    the stream is written: the IO manager asks for it then)."""

    rows: int = 0
    errors: int = 0
    preview: pd.DataFrame = field(default_factory=pd.DataFrame)
    distributions: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        self.errors += _errors(frame)
        if self.preview.empty:
            self.preview = frame.head(10)

    def merge(self, later: "_Tally") -> None:
        """Add the tally of the chunks that follow this one's (a fanned-out stage's chunk
        steps, in order): the same figures one pass over every chunk gives."""
        self.rows += later.rows
        self.errors += later.errors
        if self.preview.empty:
            self.preview = later.preview
        for name, counts in later.distributions.items():
            mine = self.distributions.setdefault(name, {})
            for key, count in counts.items():
                mine[key] = mine.get(key, 0) + count

    def count(self, name: str, values: pd.Series) -> None:
        add_counts(self.distributions.setdefault(name, {}), values)

    def metadata(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"preview": preview(self.preview, PREVIEW_COLUMNS)}
        for name, counts in self.distributions.items():
            extra[f"{name}s"] = distribution_table(counts, name)
        return stage_metadata(self.rows, self.errors, extra)


def _stream(
    frames: Iterable[pd.DataFrame],
    progress: StageProgress,
    tally: _Tally,
    more: Callable[[], dict[str, Any]] | None = None,
) -> FrameStream:
    """The stage's output chunks, counted and reported as they are written."""

    def chunks() -> Iterator[pd.DataFrame]:
        for frame in frames:
            tally.add(frame)
            progress(tally.rows)
            yield frame

    def metadata() -> dict[str, Any]:
        return {**tally.metadata(), **(more() if more else {})}

    return FrameStream(chunks(), metadata)


@_pipeline_asset(
    {"python", "parquet"},
    "The landed file of one import, as text rows with their 1-based import_index.",
)
def raw_listings(
    context: AssetExecutionContext,
    config: StageConfig,
    store: StoreResource,
    landing: LandingResource,
    pipeline: PipelineResource,
) -> FrameStream:
    _claim(context, store)
    import_id = context.partition_key
    manifest = landing.manifest(import_id)
    _apply_switches(context, config)
    progress = StageProgress(context)

    def chunks() -> Iterator[pd.DataFrame]:
        rows = 0
        with local_file(manifest.path) as landed:  # a copy when the landing zone is a URL
            for chunk in read_chunks(landed, manifest.original_filename, pipeline.chunk_rows):
                rows += len(chunk)
                progress(rows)
                yield chunk

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
    return FrameStream(chunks())


@_pipeline_asset(
    {"pandas", "parquet"},
    "Cleaned rows (one column set for every header dialect, typed prices, conditions) "
    "mapped to a canonical GPU model or rejected as not-a-GPU / unknown model.",
)
def normalized_listings(
    context: AssetExecutionContext,
    config: StageConfig,
    raw_listings: ParquetParts,
    store: StoreResource,
    landing: LandingResource,
    pipeline: PipelineResource,
) -> FrameStream:
    stages, progress = _start_stage(context, config, store, landing, pipeline, raw_listings)
    tally = _Tally(distributions={"match_type": {}, "reject_reason": {}})

    def chunks() -> Iterator[pd.DataFrame]:
        for raw in raw_listings.iter_frames(arrow_strings=True):
            frame = stages.normalize(raw)
            kept = frame["error_stage"].isna()  # the two columns taken, not the whole frame
            tally.count("match_type", frame["match_type"][kept])
            tally.count("reject_reason", frame["reject_reason"][kept])
            yield frame

    return _stream(chunks(), progress, tally)


@_pipeline_asset(
    {"pandas", "parquet"},
    "Normalized rows joined with the GPU registry's specs, with warnings where a listing "
    "contradicts them.",
)
def enriched_listings(
    context: AssetExecutionContext,
    config: StageConfig,
    normalized_listings: ParquetParts,
    store: StoreResource,
    landing: LandingResource,
    pipeline: PipelineResource,
) -> FrameStream:
    stages, progress = _start_stage(context, config, store, landing, pipeline, normalized_listings)
    frames = normalized_listings.iter_frames(arrow_strings=True)
    return _stream((stages.enrich(frame) for frame in frames), progress, _Tally())


@_pipeline_asset(
    {"pandas", "parquet"},
    "Enriched rows with a utility score in [0, 100] for inference value per dollar and its "
    "components, priced against the same import's market per model.",
)
def scored_listings(
    context: AssetExecutionContext,
    config: StageConfig,
    enriched_listings: ParquetParts,
    store: StoreResource,
    landing: LandingResource,
    pipeline: PipelineResource,
) -> FrameStream:
    stages, progress = _start_stage(context, config, store, landing, pipeline, enriched_listings)
    scores: list[pd.Series] = []

    def record_scale(scale: ScoreScale) -> None:
        """A scored import's scale (and its warning) is the import's, shown by its summary."""
        repository.record_score_scale(
            store.engine, context.partition_key, scale.scale, scale.warning
        )
        context.log.info(f"client scores read on the {scale.scale} scale")
        if scale.warning:
            context.log.warning(scale.warning)

    stages.on_scale = record_scale

    def chunks() -> Iterator[pd.DataFrame]:
        for frame in stages.score(
            lambda columns: enriched_listings.iter_frames(columns, arrow_strings=True)
        ):
            scores.append(frame["score"].dropna())
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

    return _stream(chunks(), progress, _Tally(), more=score_metadata)


@_pipeline_asset(
    {"sqlite", "postgresql"},
    "The import's listings and row errors written to the database in one transaction, "
    "replacing any earlier write of the same import.",
    tags=layer_tags("warehouse"),
    retry_policy=DATABASE_WRITE_RETRY,
)
def persisted_listings(
    context: AssetExecutionContext,
    config: StageConfig,
    scored_listings: ParquetParts,
    store: StoreResource,
) -> MaterializeResult:
    _claim(context, store)
    import_id = context.partition_key
    engine = store.engine
    total = scored_listings.num_rows
    progress = StageProgress(context, total)
    done = {"rows": 0}

    def chunks() -> Iterator[pd.DataFrame]:
        for frame in scored_listings.iter_frames(arrow_strings=True):
            done["rows"] += len(frame)
            progress(done["rows"])
            _apply_switches(context, config)
            yield frame

    # The registry the stages matched against, kept in gpu_models for the API to join.
    warehouse.sync_registry(engine, load_registry())
    written = summaries.WrittenFigures()
    counts = repository.replace_import_rows(engine, import_id, chunks(), written)
    status = repository.finish_import(
        engine,
        import_id,
        ImportStatus.SUCCEEDED,
        counts=counts,
        total_rows=total,
        written=written,
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
