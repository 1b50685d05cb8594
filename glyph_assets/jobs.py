"""The asset job that ingests one import partition."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from glyph_assets.assets.pipeline import PIPELINE_ASSETS

INGEST_JOB_NAME = "ingest_import"

# in_process: one process per run; a step per process would cost ~15 s per import on 2 cores.
ingest_import_job = define_asset_job(
    name=INGEST_JOB_NAME,
    selection=AssetSelection.assets(*PIPELINE_ASSETS),
    executor_def=in_process_executor,
    description="Materialize the five pipeline assets for one import (one dynamic partition).",
    tags={"glyph/job": "ingest"},
)
