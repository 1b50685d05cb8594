"""An import's rows: its row errors, its persisted listings (paged) and all of them as CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from glyph_assets.store import pages
from glyphd_api import export, service
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import Limit, Offset, answer, errors, sort_query, sorted_page
from glyphd_api.routes.listing_query import ListingQuery, listing_page_json, next_after_index
from glyphd_api.schemas import ListingPage, Page, RowErrorOut
from glyphd_api.service import Context

# Every read of one import's rows may refuse a token (401), not know the import (404) or find
# the database down (503); the paged ones add 422 for their query.
router = APIRouter(tags=["imports"], responses=errors(401, 404))


@router.get(
    "/api/imports/{import_id}/errors",
    response_model=Page[RowErrorOut],
    summary="An import's row errors",
    responses=errors(422),
)
def import_errors(
    import_id: str,
    ctx: ContextDep,
    stage: str | None = None,
    field: str | None = None,
    sort: Annotated[
        str, sort_query(pages.ERROR_SORTS, "import_index, stage or field; '-' descending")
    ] = "import_index",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    return answer(
        errors_page(ctx, import_id, stage=stage, field=field, sort=sort, limit=limit, offset=offset)
    )


def errors_page(
    ctx: Context, import_id: str, limit: int = 50, offset: int = 0, **query: Any
) -> Page[RowErrorOut]:
    """One page of an import's row errors (``query`` as ``store.pages.list_errors`` takes it;
    404 for an unknown import): the API's answer and the console's table."""
    service.known_import(ctx, import_id)
    window = pages.PageWindow(query.pop("sort", pages.FIRST_ERRORS.sort), limit, offset)
    items, total = sorted_page(
        lambda: pages.list_errors(ctx.engine, import_id, window=window, **query)
    )
    return Page[RowErrorOut](
        items=[RowErrorOut(**i) for i in items], total=total, limit=limit, offset=offset
    )


def listing_page(
    ctx: Context, import_id: str, query: ListingQuery
) -> tuple[list[dict[str, Any]], int]:
    """One page of an import's listings under ``query`` (404 for an unknown import)."""
    found = sorted_page(
        lambda: pages.import_listing_page(ctx.engine, query.filters(import_id), query.window())
    )
    if found is None:
        raise service.import_not_found(import_id)
    return found


def _listing_answer(query: ListingQuery, items: list[dict[str, Any]], total: int) -> Response:
    return Response(
        listing_page_json(
            items,
            total=total,
            limit=query.limit,
            offset=query.offset,
            next_after_index=next_after_index(query, items),
        ),
        media_type="application/json",
    )


@router.get(
    "/api/imports/{import_id}/listings",
    response_model=ListingPage,
    summary="An import's persisted listings",
    responses=errors(422),
)
async def import_listings(
    import_id: str,
    ctx: ContextDep,
    query: Annotated[ListingQuery, Query()],
) -> Any:
    # Async on purpose: the page is one short read, cheaper on the event loop than a hop to a
    # worker thread (sqlite3 in many threads showed a GIL convoy under load).
    return _listing_answer(query, *listing_page(ctx, import_id, query))


@router.get(
    "/api/imports/{import_id}/listings.csv",
    response_class=StreamingResponse,
    summary="An import's listings as CSV, formula-safe for spreadsheets",
    responses={
        200: {
            "description": "Every listing of the import in import_index order, with a header. "
            "Text cells starting with = + - @, a tab or a carriage return are prefixed with ' "
            "so that spreadsheets show them as text.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
)
def import_listings_csv(import_id: str, ctx: ContextDep) -> Any:
    service.known_import(ctx, import_id)
    return StreamingResponse(
        export.csv_rows(ctx.engine, import_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="glyph-{import_id}-listings.csv"'},
    )
