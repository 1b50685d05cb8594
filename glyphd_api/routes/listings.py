"""Listings across imports, with the same filters as an import's listings plus import_id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from glyph_assets.store import pages, warehouse
from glyphd_api import established
from glyphd_api.deps import ContextDep
from glyphd_api.errors import ApiError
from glyphd_api.routes.common import MAX_LIMIT, MAX_OFFSET, bare_array, errors, sorted_page
from glyphd_api.routes.listing_query import (
    ListingQuery,
    ListingsAcrossImports,
    next_after_index,
)
from glyphd_api.routes.models import registry_rows
from glyphd_api.schemas import EstablishedListing
from glyphd_api.service import Context

# Both listing reads may refuse a token (401), a query (422) or find the database down (503).
router = APIRouter(tags=["listings"], responses=errors(401, 422))


def listings_page(ctx: Context, query: ListingsAcrossImports, request: Request) -> Response:
    """Listings across imports as the established bare array of ``GPUListingDTO`` objects
    (glyph's columns beside the established ones), paged by ``offset`` or by keyset: the total
    is ``X-Total-Count`` (a lower bound past GLYPH_LISTING_COUNT_BEYOND matches, as
    ``X-Total-Count-Relation`` says), the next page a ``Link: <...>; rel="next"`` (and, for
    keyset paging, ``X-Next-After-Index``). An unknown import_id is an empty array, like any
    filter."""
    page = find_listings(ctx, query)
    return _array_answer(page, request, query, next_after_index(query, page.items))


def find_listings(ctx: Context, query: ListingsAcrossImports) -> pages.ListingPage:
    """One page of listings across imports under ``query`` and how many match: what
    ``/api/listings`` answers and the console's model page shows."""
    if query.after_index is not None and not query.import_id:
        raise ApiError(422, "after_index needs import_id", code="invalid_request")
    models = list(query.canonical_model or [])
    if query.model:
        candidates = warehouse.known_models(ctx.engine)
        candidates += [row["canonical_model"] for row in registry_rows(ctx)]
        known = warehouse.listed_models(ctx.engine, candidates)
        picked = [established.pick_model(m, known) for m in query.model]
        if not any(picked) and not models:
            return pages.ListingPage([], 0)
        models += [m for m in picked if m]
    filters = query.filters(query.import_id, models)
    filters.quantized = query.quantized
    beyond = ctx.settings.listing_count_beyond or None
    return sorted_page(lambda: pages.list_listings(ctx.engine, filters, query.window(), beyond))


def _array_answer(
    page: pages.ListingPage, request: Request, query: ListingQuery, next_after: int | None
) -> Response:
    items, total = page.items, page.total
    headers = {
        "X-Total-Count": str(total),
        "X-Total-Count-Relation": "eq" if page.exact else "gte",
    }
    if next_after is not None and query.after_index is not None:
        nxt = request.url.include_query_params(after_index=next_after)
        headers["X-Next-After-Index"] = str(next_after)
        headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'
    elif query.offset + len(items) < total:
        if next_after is not None:
            headers["X-Next-After-Index"] = str(next_after)
        nxt = request.url.include_query_params(offset=query.offset + len(items))
        headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'
    return bare_array([established.listing_dto(row) for row in items], headers)


@router.get(
    "/api/listings",
    response_model=list[EstablishedListing],
    summary="Persisted listings of every import, as the established bare array "
    "(total in X-Total-Count, next page in Link)",
    responses={
        200: {
            "headers": {
                "X-Total-Count": {
                    "schema": {"type": "integer"},
                    "description": "Matching rows (at least, with X-Total-Count-Relation: gte)",
                },
                "X-Total-Count-Relation": {
                    "schema": {"type": "string", "enum": ["eq", "gte"]},
                    "description": "eq: X-Total-Count is exact; gte: counting stopped "
                    "GLYPH_LISTING_COUNT_BEYOND matches past the page",
                },
                "Link": {"schema": {"type": "string"}, "description": 'rel="next" page'},
                "X-Next-After-Index": {
                    "schema": {"type": "integer"},
                    "description": "Keyset paging: the next page's after_index",
                },
            }
        },
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
)
def legacy_listings(
    ctx: ContextDep,
    query: Annotated[LegacyListingQuery, Query()],
) -> Any:
    """The earlier service read these from a bundled sample file; glyph answers the same
    filters from its warehouse, so a legacy client sees real data in the same shape."""
    filters = pages.ListingFilters(
        models=[query.model] if query.model else None, quantized=query.quantized
    )
    page = sorted_page(
        lambda: pages.list_listings(
            ctx.engine, filters, pages.ListingWindow(limit=query.limit, offset=query.offset)
        )
    )
    return bare_array(
        [established.listing_dto(row) for row in page.items], {"X-Total-Count": str(page.total)}
    )
