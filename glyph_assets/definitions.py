"""The glyph code location: assets, checks, jobs, sensors, schedules and resources."""

from dagster import Definitions

from glyph_assets.assets.changes import CHANGE_ASSETS
from glyph_assets.assets.market import MARKET_ASSETS
from glyph_assets.assets.pipeline import PIPELINE_ASSETS
from glyph_assets.checks import PIPELINE_CHECKS
from glyph_assets.inbox import build_inbox_sensor
from glyph_assets.io_managers import ParquetPartsIOManager
from glyph_assets.jobs import build_check_job, build_fanout_job, build_ingest_job, executor_for
from glyph_assets.resources import resources_from
from glyph_assets.schedules import build_market_refresh
from glyph_assets.sensors import (
    RUN_STATUS_SENSORS,
    build_import_checks_sensor,
    build_stalled_launch_sensor,
)
from glyph_assets.settings import get_settings
from glyph_assets.storage import location_text

# The one read of the settings: resources, the job's run-time limit, the inbox folder and the
# market refresh's schedule are all built from it.
settings = get_settings()
resources = {
    "io_manager": ParquetPartsIOManager(base_dir=location_text(settings.staging_dir)),
    **resources_from(settings),
}
ingest_import_job = build_ingest_job(settings)
ingest_chunked_job = build_fanout_job(settings, resources)
check_import_job = build_check_job(settings)
market_refresh = build_market_refresh(settings)

defs = Definitions(
    assets=[*PIPELINE_ASSETS, *CHANGE_ASSETS, *MARKET_ASSETS],
    asset_checks=PIPELINE_CHECKS,
    jobs=[ingest_import_job, ingest_chunked_job, check_import_job, *market_refresh.jobs],
    sensors=[
        *RUN_STATUS_SENSORS,
        build_import_checks_sensor(check_import_job),
        build_stalled_launch_sensor(settings),
        build_inbox_sensor(ingest_import_job, settings, ingest_chunked_job),
        *market_refresh.sensors,
    ],
    schedules=market_refresh.schedules,
    # The executor of Dagster's implicit asset job, which runs UI materializations, backfills and
    # automation runs: the same as ingest_import's (GLYPH_EXECUTOR).
    executor=executor_for(settings),
    resources=resources,
)
