"""The asset job that ingests one import partition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetSelection,
    define_asset_job,
    in_process_executor,
)

from glyph_assets.assets.changes import CHANGE_ASSETS
from glyph_assets.assets.pipeline import PIPELINE_ASSETS
from glyph_assets.contract import INGEST_JOB_NAME, JOB_INGEST, JOB_TAG, runtime_limit_tags
from glyph_assets.settings import Settings

if TYPE_CHECKING:  # Dagster does not export the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


def build_ingest_job(settings: Settings) -> UnresolvedAssetJobDefinition:
    """``ingest_import`` with the processing-time limit of ``settings``.

    Every run of the job, whoever launches it (API, inbox sensor, UI), gets the limit that the
    daemon's run monitoring enforces (``GLYPH_MAX_RUN_SECONDS``; 0 turns it off). Built by
    ``definitions.py`` from the one read of the settings rather than at import time here.
    """
    # in_process: one process per run; a step per process would cost ~15 s per import on 2 cores.
    return define_asset_job(
        name=INGEST_JOB_NAME,
        selection=AssetSelection.assets(*PIPELINE_ASSETS, *CHANGE_ASSETS),
        executor_def=in_process_executor,
        description="Materialize the five pipeline assets for one import (one dynamic "
        "partition), then its listing changes against the previous import of its source.",
        tags={JOB_TAG: JOB_INGEST, **runtime_limit_tags(settings.max_run_seconds)},
    )


__all__ = ["build_ingest_job"]
