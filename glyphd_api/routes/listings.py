"""Listings across imports, with the same filters as an import's listings plus import_id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from glyphd_api.deps import get_context
from glyphd_api.routes.common import errors
from glyphd_api.routes.imports import ListingsAcrossImports, listings_page
from glyphd_api.schemas import ListingPage
from glyphd_api.service import Context

router = APIRouter(tags=["listings"])


@router.get(
    "/api/listings",
    response_model=ListingPage,
    summary="Persisted listings of every import (filter by import_id, model, score, ...)",
    responses=errors(401, 422),
)
def list_listings(
    ctx: Annotated[Context, Depends(get_context)],
    query: Annotated[ListingsAcrossImports, Query()],
) -> Any:
    return listings_page(ctx, query)
