"""Listings across imports, with the same filters as an import's listings plus import_id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from glyphd_api.deps import get_context
from glyphd_api.routes.common import errors
from glyphd_api.routes.imports import ListingQuery
from glyphd_api.schemas import ListingOut, Page
from glyphd_api.service import Context

router = APIRouter(tags=["listings"])


@router.get(
    "/api/listings",
    response_model=Page[ListingOut],
    summary="Persisted listings of every import (filter by import_id, model, score, ...)",
    responses=errors(401, 422),
)
def list_listings(
    ctx: Annotated[Context, Depends(get_context)],
    query: Annotated[ListingQuery, Depends()],
    import_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Any:
    query.filters.import_id = import_id
    return query.page(ctx)
