"""Imports as a list and one by one: their status (reconciled with Dagster), runs, row counts,
score range, top models and first errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from glyph_assets.store import pages
from glyph_assets.store.status import IMPORT_STATUSES
from glyphd_api import service
from glyphd_api.deps import ContextDep
from glyphd_api.errors import ApiError
from glyphd_api.routes.common import Limit, Offset, answer, errors, sort_query, sorted_page
from glyphd_api.schemas import ImportListItem, ImportSummary, Page
from glyphd_api.service import Context

router = APIRouter(tags=["imports"])


@router.get(
    "/api/imports",
    response_model=Page[ImportListItem],
    summary="List imports, newest first",
    responses=errors(401, 422),
)
def list_imports(
    ctx: ContextDep,
    status: Annotated[
        list[str] | None,
        Query(description=f"One or more of {', '.join(IMPORT_STATUSES)}"),
    ] = None,
    source: Annotated[str | None, Query(max_length=200)] = None,
    created_after: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    created_before: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    sort: Annotated[
        str,
        sort_query(pages.IMPORT_SORTS, "created_at, finished_at or total_rows; '-' for descending"),
    ] = "-created_at",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    return answer(
        imports_page(
            ctx,
            statuses=status,
            source=source,
            created_after=created_after,
            created_before=created_before,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    )


def imports_page(
    ctx: Context, limit: int = 50, offset: int = 0, **filters: Any
) -> Page[ImportListItem]:
    """One page of imports (``filters`` as ``store.pages.list_imports`` takes them), the
    not-final ones reconciled with Dagster: the list the API answers and the console shows."""
    bad = [s for s in filters.get("statuses") or [] if s not in IMPORT_STATUSES]
    if bad:
        raise ApiError(422, f"unknown status {', '.join(bad)}", code="invalid_request")
    items, total = sorted_page(
        lambda: pages.list_imports(ctx.engine, limit=limit, offset=offset, **filters)
    )
    items = service.reconcile_page(ctx, items)
    return Page[ImportListItem](
        items=[ImportListItem.model_validate(i) for i in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/api/imports/{import_id}",
    response_model=ImportSummary,
    summary="An import's summary: status, runs, row counts, score range, top models, errors",
    responses=errors(401, 404),
)
def get_import(import_id: str, ctx: ContextDep) -> Any:
    state = service.load_state(ctx, import_id)
    return answer(service.build_summary(ctx, state))
