"""Imports as a list and one by one: their status (reconciled with Dagster), runs, row counts,
score range, top models and first errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from glyph_assets.store import pages
from glyph_assets.store.status import IMPORT_STATUSES
from glyphd_api import service
from glyphd_api.deps import ContextDep
from glyphd_api.errors import ApiError
from glyphd_api.routes.common import (
    MAX_LIMIT,
    MAX_OFFSET,
    answer,
    errors,
    sort_pattern,
    sorted_page,
)
from glyphd_api.schemas import ImportListItem, ImportSummary, Page
from glyphd_api.service import Context

router = APIRouter(tags=["imports"])


class ImportListQuery(BaseModel):
    """The filters, order and window of the import list, as one query-parameter model."""

    status: list[str] | None = Field(
        None, description=f"One or more of {', '.join(IMPORT_STATUSES)}"
    )
    source: str | None = Field(None, max_length=200)
    created_after: datetime | None = Field(None, description="ISO 8601, inclusive")
    created_before: datetime | None = Field(None, description="ISO 8601, exclusive")
    sort: str = Field(
        "-created_at",
        description="created_at, finished_at or total_rows; '-' for descending",
        pattern=sort_pattern(pages.IMPORT_SORTS),
    )
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Page size (1 to {MAX_LIMIT})")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description=f"Items to skip (0 to {MAX_OFFSET})")

    def filters(self) -> dict[str, Any]:
        """As ``store.pages.list_imports`` takes them."""
        return {"statuses": self.status, **self.model_dump(exclude={"status", "limit", "offset"})}


@router.get(
    "/api/imports",
    response_model=Page[ImportListItem],
    summary="List imports, newest first",
    responses=errors(401, 422),
)
def list_imports(ctx: ContextDep, query: Annotated[ImportListQuery, Query()]) -> Any:
    return answer(imports_page(ctx, query.limit, query.offset, **query.filters()))


def imports_page(
    ctx: Context, limit: int = 50, offset: int = 0, **filters: Any
) -> Page[ImportListItem]:
    """One page of imports (``filters`` as ``store.pages.list_imports`` takes them), the
    not-final ones reconciled with Dagster: the list the API answers and the console shows."""
    bad = [s for s in filters.get("statuses") or [] if s not in IMPORT_STATUSES]
    if bad:
        raise ApiError(422, f"unknown status {', '.join(bad)}", code="invalid_request")
    window = pages.PageWindow(filters.pop("sort", pages.NEWEST_IMPORTS.sort), limit, offset)
    items, total = sorted_page(lambda: pages.list_imports(ctx.engine, window=window, **filters))
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
