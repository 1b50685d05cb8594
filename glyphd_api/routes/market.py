"""The market tables the market assets keep: per-model statistics and price movements, each per
currency, with their USD-equivalents beside them (rate, rate date, or why there is none)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from glyph_assets.store import market
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import UtcDatetime, Versioned

# Every market read may refuse a token (401), a query (422) or find the database down (503).
router = APIRouter(tags=["market"], responses=errors(401, 422))
Model = Annotated[str | None, Query(max_length=64, description="One canonical model")]


class UsdRateUsed(BaseModel):
    usd_rate: float | None = Field(default=None, description="USD per unit of the currency")
    usd_rate_date: date | None = Field(default=None, description="The rate's own date")
    usd_reason: str | None = Field(default=None, description="Why there is no USD value")


class MarketStat(UsdRateUsed):
    """One model's figures in one currency over the newest imports; ``*_usd`` at the rate of
    the day of the newest import they cover."""

    canonical_model: str
    currency: str
    listings: int
    imports: int
    min_price: float
    p10_price: float
    median_price: float
    p90_price: float
    max_price: float
    median_price_per_gb_vram: float | None = None
    best_import_id: str | None = None
    best_import_index: int | None = None
    best_price: float | None = None
    best_score: float | None = None
    min_price_usd: float | None = None
    p10_price_usd: float | None = None
    median_price_usd: float | None = None
    p90_price_usd: float | None = None
    max_price_usd: float | None = None
    window_imports: int
    computed_at: UtcDatetime


class MarketStats(Versioned):
    items: list[MarketStat]


class PriceMovement(UsdRateUsed):
    """A model's median price between two consecutive imports, in its currency; in USD each
    median at the rate of its own import's day (``abs_change_usd`` includes the currency's own
    move)."""

    canonical_model: str
    currency: str
    source: str = Field(description="The import's source, or * across all sources")
    import_id: str
    previous_import_id: str
    imported_at: UtcDatetime
    previous_imported_at: UtcDatetime
    listings: int
    previous_listings: int
    median_price: float
    previous_median_price: float
    abs_change: float
    pct_change: float | None = None
    median_price_usd: float | None = None
    previous_usd_rate: float | None = None
    previous_usd_rate_date: date | None = None
    previous_usd_reason: str | None = None
    previous_median_price_usd: float | None = None
    abs_change_usd: float | None = None
    computed_at: UtcDatetime


class PriceMovements(Versioned):
    items: list[PriceMovement]


@router.get(
    "/api/market/stats",
    response_model=MarketStats,
    summary="Per model and currency: price statistics over the newest imports, with USD beside",
)
def market_stats(ctx: ContextDep, model: Model = None) -> Any:
    rows = market.read_model_market_stats(ctx.engine, model)
    return answer(MarketStats(items=[MarketStat(**r) for r in rows]))


@router.get(
    "/api/market/movements",
    response_model=PriceMovements,
    summary="Per model and currency: median price between consecutive imports, with USD beside",
)
def price_movements(
    ctx: ContextDep,
    model: Model = None,
    import_id: Annotated[str | None, Query(max_length=36, description="Ending at")] = None,
    source: Annotated[str | None, Query(max_length=200, description="* for all")] = None,
) -> Any:
    rows = market.read_price_movements(ctx.engine, model, import_id, source)
    return answer(PriceMovements(items=[PriceMovement(**r) for r in rows]))
