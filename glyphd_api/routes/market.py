"""The market tables the market assets keep: per-model statistics and price movements, each per
currency, with their USD-equivalents beside them (rate, rate date, or why there is none)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from glyph_assets.store import market
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import MarketStat, MarketStats, PriceMovement, PriceMovements

# Every market read may refuse a token (401), a query (422) or find the database down (503).
router = APIRouter(tags=["market"], responses=errors(401, 422))
Model = Annotated[str | None, Query(max_length=64, description="One canonical model")]


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
