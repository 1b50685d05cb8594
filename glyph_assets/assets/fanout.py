"""One large import's normalize and enrich stages fanned out over chunk steps.

``listing_chunks`` is a graph-backed multi-asset producing the same two assets as the one-step
path (``normalized_listings``, ``enriched_listings``: same keys, same specs, same materialization
metadata), as three kinds of step:

- ``plan_chunks``: groups the stored ``raw_listings`` parts into chunks of about
  ``GLYPH_FANOUT_CHUNK_ROWS`` rows, one dynamic output each;
- ``transform_chunk[cNNNN]``: normalizes and enriches one chunk's raw parts and stores both
  stages' parts under ``<staging>/_chunks/<import_id>/<chunk>/``. On the Celery executor each
  is a task any worker takes, so the chunks of one import run on several workers at once;
- ``assemble_chunks``: the two assets' outputs, the chunks' parts in order copied into the
  assets' places by the IO manager, with the chunks' tallies added up.

The code location's own asset graph keeps the one-step assets (``pipeline.py``): the UI's
lineage, the implicit asset job, backfills and the small-import job ``ingest_import`` use them.
This multi-asset is used only by ``ingest_import_chunked`` (``jobs.build_fanout_job``), which
the API and the inbox choose at launch for an import of at least ``GLYPH_FANOUT_MIN_ROWS`` rows
(``contract.ingest_job_for``). A small import therefore runs exactly the steps it ran before.

Every step is idempotent: a chunk's parts are written to a new directory swapped in
(``write_parts``), a rerun of a chunk replaces them, ``assemble_chunks`` copies (and so can run
again), and nothing here writes the database except the bookkeeping of ``run_state.claim``.
The chunk directories are removed with the rest of the import's staging (``glyph prune``).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from dagster import (
    AssetIn,
    AssetOut,
    DynamicOut,
    DynamicOutput,
    OpExecutionContext,
    Out,
    Output,
    graph_multi_asset,
    op,
)
from upath import UPath

from glyph_assets.assets.pipeline import (
    _claim,
    _stages,
    _Tally,
    enriched_listings,
    normalized_listings,
)
from glyph_assets.assets.progress import StageProgress
from glyph_assets.contract import (
    ENRICHED_LISTINGS,
    FANOUT_GRAPH,
    NORMALIZED_LISTINGS,
    RAW_LISTINGS,
)
from glyph_assets.conventions import layer_tags
from glyph_assets.io_managers import (
    AssembledParts,
    ParquetParts,
    read_metadata,
    read_part,
    write_parts,
)
from glyph_assets.partitions import imports_partitions
from glyph_assets.resources import (
    LandingResource,
    PipelineResource,
    StagingResource,
    StoreResource,
)
from glyph_assets.sieve.pipeline import arrow_text_types
from glyph_assets.storage import location_text, storage_path

# The IO manager of the values passed between the chunk steps (small: part locations and
# tallies), pickled under the staging root so that a worker elsewhere reads them.
CHUNK_IO_MANAGER = "fanout_io_manager"
_OP_TAGS = {"glyph/fanout": FANOUT_GRAPH, **layer_tags("pipeline")}
_NORMALIZED_KEY = normalized_listings.key
_ENRICHED_KEY = enriched_listings.key


@dataclass(frozen=True)
class ChunkPlan:
    """One chunk of an import: consecutive ``raw_listings`` parts, in import order."""

    index: int
    raw_parts: tuple[str, ...]
    rows: int


@dataclass
class ChunkResult:
    """What a chunk step stored, and its tallies for the two assets' metadata."""

    index: int
    normalized_parts: list[str] = field(default_factory=list)
    enriched_parts: list[str] = field(default_factory=list)
    normalized: _Tally = field(default_factory=_Tally)
    enriched: _Tally = field(default_factory=_Tally)


def plan(parts: list[tuple[str, int]], chunk_rows: int) -> list[ChunkPlan]:
    """Consecutive parts (location, rows) grouped into chunks of at least ``chunk_rows`` rows
    (the last one may be smaller); a part is never split, so each chunk step reads whole
    parts and the stage sees the same frames it would in one step."""
    chunks: list[ChunkPlan] = []
    group: list[str] = []
    rows = 0
    for location, part_rows in parts:
        group.append(location)
        rows += part_rows
        if rows >= chunk_rows:
            chunks.append(ChunkPlan(len(chunks), tuple(group), rows))
            group, rows = [], 0
    if group or not chunks:
        chunks.append(ChunkPlan(len(chunks), tuple(group), rows))
    return chunks


def _fanout_op(description: str, out: Any) -> Any:
    """``@op`` as each step of ``listing_chunks`` is declared: glyph's tags, the fan-out's."""
    return op(out=out, tags=_OP_TAGS, description=description)


@_fanout_op(
    "Split the import's stored raw parts into chunks, one step each downstream.",
    DynamicOut(io_manager_key=CHUNK_IO_MANAGER),
)
def plan_chunks(
    context: OpExecutionContext,
    raw_listings: ParquetParts,
    store: StoreResource,
    pipeline: PipelineResource,
) -> Iterator[DynamicOutput[ChunkPlan]]:
    _claim(context, store, _NORMALIZED_KEY)
    parts = [(location_text(p), read_metadata(p).num_rows) for p in raw_listings.part_files]
    chunks = plan(parts, pipeline.fanout_chunk_rows)
    context.log.info(f"{sum(rows for _, rows in parts)} rows in {len(chunks)} chunks")
    for chunk in chunks:
        yield DynamicOutput(chunk, mapping_key=f"c{chunk.index:04d}")


@_fanout_op(
    "Normalize and enrich one chunk of the import, storing both stages' parts.",
    Out(io_manager_key=CHUNK_IO_MANAGER),
)
def transform_chunk(
    context: OpExecutionContext,
    chunk: ChunkPlan,
    store: StoreResource,
    landing: LandingResource,
    pipeline: PipelineResource,
    staging: StagingResource,
) -> ChunkResult:
    import_id = context.partition_key
    _claim(context, store, _NORMALIZED_KEY)
    stages = _stages(landing, import_id, pipeline.max_field_chars)
    # the chunk's frames stay in memory between the two stages: GLYPH_FANOUT_CHUNK_ROWS bounds it
    result = ChunkResult(chunk.index)
    result.normalized.distributions = {"match_type": {}, "reject_reason": {}}
    normalized: list[pd.DataFrame] = []
    for location in chunk.raw_parts:
        raw = read_part(storage_path(location)).to_pandas(types_mapper=arrow_text_types)
        frame = stages.normalize(raw)
        kept = frame.loc[frame["error_stage"].isna()]
        result.normalized.count("match_type", kept["match_type"])
        result.normalized.count("reject_reason", kept["reject_reason"])
        result.normalized.add(frame)
        normalized.append(frame)
    result.normalized_parts = _store(
        staging.chunk_dir(import_id, chunk.index, NORMALIZED_LISTINGS), normalized
    )
    enriched = [stages.enrich(frame) for frame in normalized]
    for frame in enriched:
        result.enriched.add(frame)
    result.enriched_parts = _store(
        staging.chunk_dir(import_id, chunk.index, ENRICHED_LISTINGS), enriched
    )
    return result


def _store(target: UPath, frames: list[pd.DataFrame]) -> list[str]:
    """The chunk's frames of one stage as parts under ``target`` (replacing a rerun's)."""
    write_parts(frames, target)
    return [location_text(p) for p in ParquetParts(target).part_files]


def _assembled(results: list[ChunkResult], parts: str, tally: str) -> AssembledParts:
    """One stage's output: every chunk's parts in chunk order, the tallies added up."""
    total = _Tally()
    locations: list[UPath] = []
    for result in sorted(results, key=lambda r: r.index):
        total.merge(getattr(result, tally))
        locations.extend(storage_path(p) for p in getattr(result, parts))
    return AssembledParts(locations, total.metadata())


@_fanout_op(
    "The chunks' parts, in order, as normalized_listings and enriched_listings.",
    {NORMALIZED_LISTINGS: Out(), ENRICHED_LISTINGS: Out()},
)
def assemble_chunks(
    context: OpExecutionContext, results: list[ChunkResult], store: StoreResource
) -> Iterator[Output[AssembledParts]]:
    _claim(context, store, _ENRICHED_KEY)
    for key, parts, tally in (
        (_NORMALIZED_KEY, "normalized_parts", "normalized"),
        (_ENRICHED_KEY, "enriched_parts", "enriched"),
    ):
        assembled = _assembled(results, parts, tally)
        rows = sum(getattr(r, tally).rows for r in results)
        StageProgress(context, rows, key)(rows)  # the stage's rows, as the one-step path ends
        yield Output(assembled, key.to_user_string())


def _asset_out(spec_of: Any) -> AssetOut:
    """The same spec (description, group, owners, tags, kinds, code version) as the one-step
    asset of that key, so a materialization by either path reads the same."""
    return AssetOut.from_spec(spec_of.specs_by_key[spec_of.key].replace_attributes(deps=[]))


@graph_multi_asset(
    name=FANOUT_GRAPH,
    outs={
        NORMALIZED_LISTINGS: _asset_out(normalized_listings),
        ENRICHED_LISTINGS: _asset_out(enriched_listings),
    },
    ins={"raw_listings": AssetIn(RAW_LISTINGS)},
    partitions_def=imports_partitions,
)
def listing_chunks(raw_listings: ParquetParts) -> dict[str, Any]:
    results = plan_chunks(raw_listings).map(transform_chunk).collect()
    normalized, enriched = assemble_chunks(results)
    return {NORMALIZED_LISTINGS: normalized, ENRICHED_LISTINGS: enriched}


__all__ = ["CHUNK_IO_MANAGER", "ChunkPlan", "ChunkResult", "listing_chunks", "plan"]
