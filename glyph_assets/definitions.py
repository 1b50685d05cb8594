"""The glyph code location: assets, jobs, sensors and resources."""

from dagster import Definitions

from glyph_assets.assets.pipeline import PIPELINE_ASSETS
from glyph_assets.io_managers import ParquetPartsIOManager
from glyph_assets.jobs import ingest_import_job
from glyph_assets.sensors import RUN_STATUS_SENSORS
from glyph_assets.settings import get_settings

defs = Definitions(
    assets=PIPELINE_ASSETS,
    jobs=[ingest_import_job],
    sensors=RUN_STATUS_SENSORS,
    resources={
        "io_manager": ParquetPartsIOManager(base_dir=str(get_settings().staging_dir.resolve())),
    },
)
