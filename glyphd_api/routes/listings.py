"""Listings across imports, with the same filters as an import's listings plus import_id."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from glyphd_api import established, queries
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import MAX_LIMIT, MAX_OFFSET, errors, sorted_page
from glyphd_api.routes.imports import ListingsAcrossImports, listings_page
from glyphd_api.schemas import EstablishedListing

router = APIRouter(tags=["listings"])


@router.get(
    "/api/listings",
    response_model=list[EstablishedListing],
    summary="Persisted listings of every import, as the established bare array "
    "(total in X-Total-Count, next page in Link)",
    responses={
        200: {
            "headers": {
                "X-Total-Count": {"schema": {"type": "integer"}, "description": "Matching rows"},
                "Link": {"schema": {"type": "string"}, "description": 'rel="next" page'},
                "X-Next-After-Index": {
                    "schema": {"type": "integer"},
                    "description": "Keyset paging: the next page's after_index",
                },
            }
        },
        **errors(401, 422),
    },
)
def list_listings(
    request: Request,
    ctx: ContextDep,
    query: Annotated[ListingsAcrossImports, Query()],
) -> Any:
    return listings_page(ctx, query, request)


class LegacyListingQuery(BaseModel):
    """The established ``/api/listings/legacy`` filters: an exact model and MIG capability."""

    model: str | None = Field(None, max_length=64, description="Exact canonical_model")
    quantized: bool | None = Field(None, description="MIG-capable listings (mig_support > 0)")
    limit: int = Field(1000, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


@router.get(
    "/api/listings/legacy",
    response_model=list[EstablishedListing],
    summary="The established legacy listing read: exact model and quantized filters, "
    "a bare array",
    responses=errors(401, 422),
)
def legacy_listings(
    ctx: ContextDep,
    query: Annotated[LegacyListingQuery, Query()],
) -> Any:
    """The earlier service read these from a bundled sample file; glyph answers the same
    filters from its warehouse, so a legacy client sees real data in the same shape."""
    filters = queries.ListingFilters(
        models=[query.model] if query.model else None, quantized=query.quantized
    )
    items, total = sorted_page(
        lambda: queries.list_listings(ctx.engine, filters, limit=query.limit, offset=query.offset)
    )
    body = orjson.dumps([established.listing_dto(row) for row in items])
    return Response(body, media_type="application/json", headers={"X-Total-Count": str(total)})
