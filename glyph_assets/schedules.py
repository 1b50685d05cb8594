"""Keeping the market assets fresh: declarative automation after imports, a daily schedule too.

- ``market_automation_sensor`` evaluates the market assets' automation condition (see
  ``assets/market.py``): a refresh follows any newly persisted import, typically within
  ``GLYPH_MARKET_AUTOMATION_INTERVAL`` seconds (default 30) after the ingest run ends.
- ``market_daily_schedule`` refreshes them on ``GLYPH_MARKET_CRON`` (default ``0 5 * * *``) in
  ``GLYPH_MARKET_TIMEZONE`` (default UTC), so the figures are recomputed even on a day when the
  automation sensor was stopped or a window setting changed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    ScheduleDefinition,
    SensorDefinition,
    define_asset_job,
    in_process_executor,
)
from dagster._utils.warnings import BetaWarning

from glyph_assets.assets.market import GROUP as MARKET_GROUP
from glyph_assets.contract import JOB_MARKET, JOB_TAG, MARKET_JOB_NAME
from glyph_assets.conventions import OWNERS, layer_tags
from glyph_assets.settings import Settings

if TYPE_CHECKING:  # Dagster does not export the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

MARKET_RUN_TAGS = {JOB_TAG: JOB_MARKET}
market_selection = AssetSelection.groups(MARKET_GROUP)

refresh_market_job = define_asset_job(
    name=MARKET_JOB_NAME,
    selection=market_selection,
    executor_def=in_process_executor,
    description="Recompute model_market_stats and price_movements from the database.",
    tags=MARKET_RUN_TAGS,
)


@dataclass(frozen=True)
class MarketRefresh:
    """The job, schedule and automation sensor that keep the market assets fresh."""

    jobs: list[UnresolvedAssetJobDefinition]
    schedules: list[ScheduleDefinition]
    sensors: list[SensorDefinition]


def build_market_refresh(settings: Settings) -> MarketRefresh:
    """The schedule's cron and timezone and the sensor's interval come from ``settings``
    (built by ``definitions.py`` from the one read of the settings)."""
    cron, timezone = settings.market_cron, settings.market_timezone
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # ``owners`` on a schedule is a beta parameter
        daily = ScheduleDefinition(
            name="market_daily_schedule",
            job=refresh_market_job,
            cron_schedule=cron,
            execution_timezone=timezone,
            default_status=DefaultScheduleStatus.RUNNING,
            owners=OWNERS,
            tags=MARKET_RUN_TAGS,
            description=(
                f"Refreshes the market assets on '{cron}' ({timezone}); set "
                "GLYPH_MARKET_CRON / GLYPH_MARKET_TIMEZONE to change it."
            ),
        )
    automation = AutomationConditionSensorDefinition(
        "market_automation_sensor",
        target=market_selection,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.market_automation_interval,
        run_tags=MARKET_RUN_TAGS,
        tags=layer_tags("market"),
        description=(
            "Requests a market refresh when a new import has been persisted (the market "
            "assets' automation condition); evaluated every GLYPH_MARKET_AUTOMATION_INTERVAL "
            "seconds."
        ),
    )
    return MarketRefresh(jobs=[refresh_market_job], schedules=[daily], sensors=[automation])


__all__ = ["MarketRefresh", "build_market_refresh", "refresh_market_job"]
