"""Keeping the market assets fresh: declarative automation after imports, a daily schedule too.

- ``market_automation_sensor`` evaluates the market assets' automation condition (see
  ``assets/market.py``): a refresh follows any newly persisted import, typically within
  ``GLYPH_MARKET_AUTOMATION_INTERVAL`` seconds (default 30) after the ingest run ends.
- ``market_daily_schedule`` refreshes them on ``GLYPH_MARKET_CRON`` (default ``0 5 * * *``) in
  ``GLYPH_MARKET_TIMEZONE`` (default UTC), so the figures are recomputed even on a day when the
  automation sensor was stopped or a window setting changed.
"""

import warnings

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)
from dagster._utils.warnings import BetaWarning

from glyph_assets.assets.market import GROUP as MARKET_GROUP
from glyph_assets.contract import JOB_MARKET, JOB_TAG, MARKET_JOB_NAME
from glyph_assets.settings import get_settings

OWNERS = ["team:glyph"]
MARKET_CRON = get_settings().market_cron
MARKET_TIMEZONE = get_settings().market_timezone
AUTOMATION_INTERVAL = get_settings().market_automation_interval

MARKET_RUN_TAGS = {JOB_TAG: JOB_MARKET}
market_selection = AssetSelection.groups(MARKET_GROUP)

refresh_market_job = define_asset_job(
    name=MARKET_JOB_NAME,
    selection=market_selection,
    executor_def=in_process_executor,
    description="Recompute model_market_stats and price_movements from the database.",
    tags=MARKET_RUN_TAGS,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)  # ``owners`` on a schedule is a beta parameter
    market_daily_schedule = ScheduleDefinition(
        name="market_daily_schedule",
        job=refresh_market_job,
        cron_schedule=MARKET_CRON,
        execution_timezone=MARKET_TIMEZONE,
        default_status=DefaultScheduleStatus.RUNNING,
        owners=OWNERS,
        tags=MARKET_RUN_TAGS,
        description=(
            f"Refreshes the market assets on '{MARKET_CRON}' ({MARKET_TIMEZONE}); set "
            "GLYPH_MARKET_CRON / GLYPH_MARKET_TIMEZONE to change it."
        ),
    )

market_automation_sensor = AutomationConditionSensorDefinition(
    "market_automation_sensor",
    target=market_selection,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=AUTOMATION_INTERVAL,
    run_tags=MARKET_RUN_TAGS,
    tags={"domain": "gpu_market", "layer": "market"},
    description=(
        "Requests a market refresh when a new import has been persisted (the market assets' "
        "automation condition); evaluated every GLYPH_MARKET_AUTOMATION_INTERVAL seconds."
    ),
)

SCHEDULES = [market_daily_schedule]
AUTOMATION_SENSORS = [market_automation_sensor]
MARKET_JOBS = [refresh_market_job]

__all__ = ["AUTOMATION_SENSORS", "MARKET_JOBS", "SCHEDULES", "refresh_market_job"]
