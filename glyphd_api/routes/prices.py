"""A model's price over time: per import and currency, the p10 / median / p90 card price."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from glyph_assets.sieve.market import price_history
from glyph_assets.store import market
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import SCHEMA_VERSION, UtcDatetime
from glyphd_api.service import Context

router = APIRouter(tags=["models"])


class PricePoint(BaseModel):
    """One import's prices of the model in one currency."""

    import_id: str
    source: str
    imported_at: UtcDatetime
    currency: str
    listings: int
    p10_price: float
    median_price: float
    p90_price: float


class PriceHistory(BaseModel):
    schema_version: str = SCHEMA_VERSION
    canonical_model: str
    points: list[PricePoint]


def model_price_history(ctx: Context, canonical_model: str) -> PriceHistory:
    """The model's priced GPU listings of every persisted import, summarized per import (the
    same rows its market figures count), oldest import first: the price points each import
    stored when it ended, not its listings."""
    points, imports = market.model_price_points(ctx.engine, canonical_model)
    history = price_history(points, imports)
    points = [PricePoint.model_validate(row) for row in history.to_dict("records")]
    return PriceHistory(canonical_model=canonical_model, points=points)


@router.get(
    "/api/models/{canonical_model}/prices",
    response_model=PriceHistory,
    summary="A model's card price per import over time: p10, median and p90, per currency, "
    "with each import's source",
    responses=errors(401),
)
def model_prices(canonical_model: str, ctx: ContextDep) -> Any:
    """A model no import lists has no points (an empty list, not a 404: the registry may know
    it before any listing does)."""
    return answer(model_price_history(ctx, canonical_model))
