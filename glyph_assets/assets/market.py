"""Market assets: what users came for, recomputed from the database after imports land.

Both are non-partitioned and depend on every partition of ``persisted_listings``. They read the
listings of the N most recent persisted imports, compute with ``sieve.market`` and replace their
table. They refresh through declarative automation (any new persisted import) and a daily
schedule (``glyph_assets.schedules``) as a backstop.
"""

from dataclasses import dataclass
from typing import Any, Self

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    Config,
    MaterializeResult,
    MetadataValue,
)
from pydantic import Field

from glyph_assets.contract import PERSISTED_LISTINGS
from glyph_assets.conventions import DATABASE_WRITE_RETRY, layer_tags, versioned_asset
from glyph_assets.resources import MarketResource, StoreResource
from glyph_assets.sieve import market
from glyph_assets.sieve.fx import Rates
from glyph_assets.store import market as market_store

GROUP = "market"
MARKET_TAGS = layer_tags("market")
PERSISTED = AssetKey(PERSISTED_LISTINGS)
PREVIEW_ROWS = 15

# Like eager(), with two changes:
# - eager() waits while any upstream partition is missing; with one partition per import a single
#   failed import would block the market forever, so that clause is dropped;
# - eager() forgets an update when this asset is updated on the same tick (its memory is reset by
#   newly_updated): an import persisted while a refresh was running was then never refreshed for
#   (seen in the suite once small imports skipped the run queue). Here the memory is reset only
#   on the tick after a request when no update came meanwhile (or when the condition is new): an
#   update during a refresh asks for one more once the refresh is done.
# The rest stays: never while an ingest or this asset runs.
MARKET_AUTOMATION = (
    (AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()).since(
        (
            AutomationCondition.newly_requested() & ~AutomationCondition.any_deps_updated()
            | AutomationCondition.initial_evaluation()
        ).with_label("requested, no update since")
    )
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("eager, reset by its requests (a failed import does not block)")


class MarketStatsConfig(Config):
    """How many of the newest persisted imports the statistics cover (unset: the market
    resource's window, GLYPH_MARKET_WINDOW_IMPORTS, so a schedule or automation run is tuned
    without run config)."""

    window_imports: int | None = Field(default=None, ge=1)


class PriceMovementsConfig(Config):
    """How many of the newest persisted imports the movements are computed over (unset:
    GLYPH_MARKET_MOVEMENTS_WINDOW_IMPORTS)."""

    window_imports: int | None = Field(default=None, ge=2)


def _markdown(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> MetadataValue:
    if frame.empty:
        return MetadataValue.md("(no rows)")
    return MetadataValue.md(frame.head(rows).to_markdown(index=False, floatfmt=".2f"))


def _rates_metadata(rates: Rates | None) -> dict[str, Any]:
    """Which rate table the USD-equivalents came from, or why there are none."""
    if rates is None:
        return {"fx_rates": MetadataValue.text("none configured: no USD-equivalents")}
    if rates.problem:
        return {"fx_rates": MetadataValue.text(f"unreadable, no USD-equivalents: {rates.problem}")}
    newest = rates.table["date"].max()
    return {
        "fx_rates": MetadataValue.path(rates.source),
        "fx_rates_newest_date": MetadataValue.text(
            newest.date().isoformat() if len(rates.table) else ""
        ),
    }


@dataclass(frozen=True)
class MarketInputs:
    """What both market assets read: the window of newest imports, their listings and the rates,
    and the metadata every market materialization shows about them."""

    window: int
    imports: pd.DataFrame
    listings: pd.DataFrame
    rates: Rates | None

    @classmethod
    def load(cls, store: StoreResource, market_windows: MarketResource, window: int) -> Self:
        imports = market_store.recent_imports(store.engine, window)
        listings = market_store.listings_of(store.engine, imports["import_id"].tolist())
        return cls(window, imports, listings, market_windows.rates())

    def metadata(self) -> dict[str, Any]:
        return {
            "window_imports": MetadataValue.int(self.window),
            "imports_in_window": MetadataValue.int(len(self.imports)),
            **_rates_metadata(self.rates),
        }


def _market_asset(description: str) -> Any:
    """``@asset`` as every market asset is declared: one group, after every persisted import."""
    return versioned_asset(
        GROUP,
        description,
        deps=[PERSISTED],
        kinds={"pandas", "sqlite", "postgresql"},
        tags=MARKET_TAGS,
        automation_condition=MARKET_AUTOMATION,
        retry_policy=DATABASE_WRITE_RETRY,
    )


@_market_asset(
    "Per canonical model (and currency): listing count, min / p10 / median / p90 / max "
    "price, median price per GB of VRAM and the best-scored listing, over the N most "
    "recent persisted imports. Table model_market_stats, replaced on each refresh."
)
def model_market_stats(
    context: AssetExecutionContext,
    config: MarketStatsConfig,
    store: StoreResource,
    market_windows: MarketResource,
) -> MaterializeResult:
    inputs = MarketInputs.load(
        store, market_windows, config.window_imports or market_windows.stats_window_imports
    )
    imports = inputs.imports
    stats = market.model_market_stats(inputs.listings, imports, inputs.rates)
    written = market_store.replace_model_market_stats(store.engine, stats, inputs.window)
    context.log.info(
        f"model_market_stats: {written} models from {len(inputs.listings)} listings "
        f"of {len(imports)} imports"
    )
    preview = stats.sort_values("listings", ascending=False, kind="mergesort")
    return MaterializeResult(
        metadata={
            "dagster/row_count": MetadataValue.int(written),
            "models": MetadataValue.int(int(stats["canonical_model"].nunique())),
            "listings_considered": MetadataValue.int(int(stats["listings"].sum())),
            **inputs.metadata(),
            "newest_import_id": str(imports["import_id"].iloc[0]) if len(imports) else "",
            "preview": _markdown(
                preview[
                    [
                        "canonical_model",
                        "currency",
                        "listings",
                        "min_price",
                        "median_price",
                        "p90_price",
                        "median_price_per_gb_vram",
                        "best_score",
                        "median_price_usd",
                        "usd_rate_date",
                    ]
                ]
            ),
        }
    )


@_market_asset(
    "Per canonical model (and currency), across all sources (source '*') and per import "
    "source: the change in median price between consecutive imports in which the model "
    "appears (import_id, previous_import_id, medians, absolute and percent change). "
    "Table price_movements, replaced on each refresh."
)
def price_movements(
    context: AssetExecutionContext,
    config: PriceMovementsConfig,
    store: StoreResource,
    market_windows: MarketResource,
) -> MaterializeResult:
    inputs = MarketInputs.load(
        store, market_windows, config.window_imports or market_windows.movements_window_imports
    )
    imports = inputs.imports
    movements = market.price_movements(inputs.listings, imports, inputs.rates)
    written = market_store.replace_price_movements(store.engine, movements)
    overall = movements.loc[movements["source"] == market.ALL_SOURCES]
    latest = overall.loc[
        overall["import_id"] == (imports["import_id"].iloc[0] if len(imports) else "")
    ]
    biggest = latest.reindex(latest["pct_change"].abs().sort_values(ascending=False).index)
    context.log.info(f"price_movements: {written} steps over {len(imports)} imports")
    return MaterializeResult(
        metadata={
            "dagster/row_count": MetadataValue.int(written),
            "models_with_movement": MetadataValue.int(int(overall["canonical_model"].nunique())),
            **inputs.metadata(),
            "latest_import_moves": _markdown(
                biggest[
                    [
                        "canonical_model",
                        "currency",
                        "previous_median_price",
                        "median_price",
                        "abs_change",
                        "pct_change",
                    ]
                ]
            ),
        }
    )


MARKET_ASSETS = [model_market_stats, price_movements]

__all__ = ["GROUP", "MARKET_ASSETS", "MarketStatsConfig", "PriceMovementsConfig"]
