"""The asset job that ingests one import partition."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from glyph_assets.assets.changes import CHANGE_ASSETS
from glyph_assets.assets.pipeline import PIPELINE_ASSETS
from glyph_assets.contract import INGEST_JOB_NAME, JOB_INGEST, JOB_TAG, runtime_limit_tags
from glyph_assets.settings import get_settings

_runtime_limit = runtime_limit_tags(get_settings().max_run_seconds)

# in_process: one process per run; a step per process would cost ~15 s per import on 2 cores.
ingest_import_job = define_asset_job(
    name=INGEST_JOB_NAME,
    selection=AssetSelection.assets(*PIPELINE_ASSETS, *CHANGE_ASSETS),
    executor_def=in_process_executor,
    description="Materialize the five pipeline assets for one import (one dynamic partition), "
    "then its listing changes against the previous import of its source.",
    # Every run of the job, whoever launches it (API, inbox sensor, UI), gets the processing-time
    # limit that the daemon's run monitoring enforces (GLYPH_MAX_RUN_SECONDS; 0 turns it off).
    tags={JOB_TAG: JOB_INGEST, **_runtime_limit},
)
