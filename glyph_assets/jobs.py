"""The asset jobs of one import partition: ``ingest_import`` (one step per stage) and, for a
large import, ``ingest_import_chunked`` (its normalize and enrich stages over chunk steps); and
``check_import``, the stages' asset checks, run once an ingest run has succeeded.

Why the checks are a run of their own: none of them blocks (a failed check flags the import for
an operator, it never stops its rows), yet inside the ingest run they were about a quarter of
its time (a 100,000-row persist answered in 6.3 s with them, 4.6 s without, here), and every
client that waits for its import, the established ones by default, waited for them too. The
ingest run now ends when the import is persisted and its listing changes recorded; the checks
follow within seconds (``sensors.build_import_checks_sensor``) and record their results on the
same partition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetSelection,
    Definitions,
    ExecutorDefinition,
    JobDefinition,
    define_asset_job,
    in_process_executor,
)
from dagster._core.execution.with_resources import wrap_resources_for_execution
from dagster_celery import celery_executor

from glyph_assets.assets.changes import CHANGE_ASSETS
from glyph_assets.assets.fanout import listing_chunks
from glyph_assets.assets.pipeline import (
    PIPELINE_ASSETS,
    enriched_listings,
    normalized_listings,
)
from glyph_assets.celery_config import celery_executor_config
from glyph_assets.checks import PIPELINE_CHECKS
from glyph_assets.contract import (
    CHECK_JOB_NAME,
    FANOUT_JOB_NAME,
    INGEST_JOB_NAME,
    JOB_CHECKS,
    JOB_INGEST,
    JOB_TAG,
    runtime_limit_tags,
)
from glyph_assets.settings import Settings

if TYPE_CHECKING:  # Dagster does not export the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


# What an ingest run materializes: the stages and the listing changes (an asset selection takes
# the assets' checks along unless told not to; check_import runs them).
INGESTED = AssetSelection.assets(*PIPELINE_ASSETS, *CHANGE_ASSETS)


def executor_for(settings: Settings) -> ExecutorDefinition:
    """Where the steps of glyph's asset runs execute (``GLYPH_EXECUTOR``).

    ``multiprocess``: every step in the run's own process (a process per step would cost ~15 s
    per import on 2 cores). ``celery``: each step a task on dagster-celery's executor, on
    whichever ``glyph worker`` takes it from ``GLYPH_CELERY_QUEUE``.
    """
    if settings.executor == "celery":
        return celery_executor.configured(celery_executor_config(settings), name="celery")
    return in_process_executor


def build_ingest_job(settings: Settings) -> UnresolvedAssetJobDefinition:
    """``ingest_import`` with the processing-time limit of ``settings``.

    Every run of the job, whoever launches it (API, inbox sensor, UI), gets the limit that the
    daemon's run monitoring enforces (``GLYPH_MAX_RUN_SECONDS``; 0 turns it off). Built by
    ``definitions.py`` from the one read of the settings rather than at import time here.
    """
    return define_asset_job(
        name=INGEST_JOB_NAME,
        selection=INGESTED.without_checks(),
        executor_def=executor_for(settings),
        description="Materialize the five pipeline assets for one import (one dynamic "
        "partition), then its listing changes against the previous import of its source; "
        "check_import runs the stages' checks once it has succeeded.",
        tags={JOB_TAG: JOB_INGEST, **runtime_limit_tags(settings.max_run_seconds)},
    )


def build_fanout_job(settings: Settings, resources: Mapping[str, Any]) -> JobDefinition:
    """``ingest_import_chunked``: the assets of ``ingest_import`` for one import, its normalize
    and enrich stages computed by ``listing_chunks`` (``assets/fanout.py``) over chunk steps.

    The job is resolved here against an asset graph of its own, where ``listing_chunks``
    stands for the one-step ``normalized_listings`` and ``enriched_listings``; the code
    location's asset graph (lineage, the UI, backfills) keeps the one-step assets, and Dagster
    records this job's materializations under the same asset keys, checked by the same checks.
    Why a second job rather than a fan-out inside the one-step assets: a dynamic fan-out costs
    steps of its own (a planning step, the chunk steps, an assembling step), which a small
    import would pay on every stage; choosing the job at launch keeps the small path as it was.
    ``resources`` are the code location's (a resolved job is checked against them here).
    """
    one_step = {normalized_listings.key, enriched_listings.key}
    assets = [a for a in PIPELINE_ASSETS if a.key not in one_step]
    graph = Definitions(
        assets=[*assets, listing_chunks, *CHANGE_ASSETS],
        asset_checks=PIPELINE_CHECKS,
        resources=resources,
    ).resolve_asset_graph()
    return define_asset_job(
        name=FANOUT_JOB_NAME,
        selection=INGESTED.without_checks(),
        executor_def=executor_for(settings),
        description="ingest_import for a large import: the same assets, its "
        "normalize and enrich stages split into chunks that run as separate steps (on "
        "several Celery workers at once). Chosen at launch from GLYPH_FANOUT_MIN_ROWS rows.",
        tags={JOB_TAG: JOB_INGEST, **runtime_limit_tags(settings.max_run_seconds)},
    ).resolve(asset_graph=graph, resource_defs=wrap_resources_for_execution(resources))


def build_check_job(settings: Settings) -> UnresolvedAssetJobDefinition:
    """``check_import``: the asset checks of every stage of one import (``checks.py``).

    Its runs are launched by ``sensors.build_import_checks_sensor`` with the import's partition
    as the run's ``dagster/partition`` tag, which is what the checks' context and the IO manager
    read. The tag rather than a partition key: Dagster infers a job's partitions from the
    assets it materializes, and a job of checks alone materializes none, so it refuses a key.
    """
    return define_asset_job(
        name=CHECK_JOB_NAME,
        selection=AssetSelection.checks_for_assets(*PIPELINE_ASSETS),
        executor_def=executor_for(settings),
        description="The asset checks of one import's five stages (schema, import_index, "
        "row counts, score range, unknown-model share), run after its ingest run succeeded.",
        tags={JOB_TAG: JOB_CHECKS, **runtime_limit_tags(settings.max_run_seconds)},
    )


__all__ = ["INGESTED", "build_check_job", "build_fanout_job", "build_ingest_job", "executor_for"]
