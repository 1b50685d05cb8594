"""The asset job that ingests one import partition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetSelection,
    ExecutorDefinition,
    define_asset_job,
    in_process_executor,
)
from dagster_celery import celery_executor

from glyph_assets.assets.changes import CHANGE_ASSETS
from glyph_assets.assets.pipeline import PIPELINE_ASSETS
from glyph_assets.celery_config import celery_executor_config
from glyph_assets.contract import INGEST_JOB_NAME, JOB_INGEST, JOB_TAG, runtime_limit_tags
from glyph_assets.settings import Settings

if TYPE_CHECKING:  # Dagster does not export the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


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
        selection=AssetSelection.assets(*PIPELINE_ASSETS, *CHANGE_ASSETS),
        executor_def=executor_for(settings),
        description="Materialize the five pipeline assets for one import (one dynamic "
        "partition), then its listing changes against the previous import of its source.",
        tags={JOB_TAG: JOB_INGEST, **runtime_limit_tags(settings.max_run_seconds)},
    )


__all__ = ["build_ingest_job", "executor_for"]
