"""Temporal reads: one listing across imports, what changed between two imports, and the
established glyphd price deltas (``/api/forecast/deltas``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from glyph_assets.store import changes
from glyphd_api import service
from glyphd_api.deps import ContextDep
from glyphd_api.errors import ApiError
from glyphd_api.rates import diff_items_in_usd, rates_of
from glyphd_api.routes.common import Limit, Offset, answer, bare_array, errors
from glyphd_api.schemas import (
    ChangeCounts,
    ChangedListing,
    ImportDiffOut,
    ListingHistory,
    ModelChanges,
    Observation,
    PriceDelta,
    PriceDeltaDetail,
    Snapshot,
)

# Every read here may refuse a token (401), a query (422) or find the database down (503); the
# reads of one listing, import or delta add 404.
router = APIRouter(tags=["changes"], responses=errors(401, 422))
KEY_PATTERN = r"^[tu]-[0-9a-f]{8,40}$"


@router.get(
    "/api/listings/{listing_key}/history",
    response_model=ListingHistory,
    summary="Every observation of one listing across imports, oldest first",
    responses=errors(404),
)
def listing_history(
    ctx: ContextDep,
    listing_key: Annotated[str, Path(pattern=KEY_PATTERN, description="A listing's key")],
) -> Any:
    seen = changes.history(ctx.engine, listing_key)
    if not seen:
        raise ApiError(404, f"no listing {listing_key}", code="listing_not_found")
    return answer(
        ListingHistory(listing_key=listing_key, observations=[Observation(**o) for o in seen])
    )


@router.get(
    "/api/imports/{import_id}/diff",
    response_model=ImportDiffOut,
    summary="What changed against another import (default: the previous import of its source)",
    responses=errors(404),
)
def import_diff(
    import_id: str,
    ctx: ContextDep,
    against: Annotated[
        str | None, Query(max_length=36, description="Another import (default: the previous)")
    ] = None,
    change: Annotated[
        str, Query(pattern="^(new|gone|repriced|unchanged)$", description="Which listings to page")
    ] = "repriced",
    limit: Limit = 50,
    offset: Offset = 0,
    after_index: Annotated[
        int | None,
        Query(
            ge=-1,
            le=2**31 - 1,  # import_index is a 32-bit INTEGER column
            description="Keyset paging: the listings after this row (import_index, or "
            "previous_import_index for gone listings); the previous page's next_after_index",
        ),
    ] = None,
) -> Any:
    """Listings are matched by ``listing_key``; counts and the per-model summary cover both
    imports whole (for the previous import of the source, as the listing_changes asset recorded
    them), ``items`` pages the listings of one kind of change. Prices are compared within one
    currency; ``usd`` adds both in US dollars at each import's day's rate."""
    this = service.known_import(ctx, import_id)
    other = against or changes.previous_import(ctx.engine, import_id)
    previous = service.known_import(ctx, other) if other else {}
    counts, by_model = changes.diff_summary(ctx.engine, import_id, other)
    items, total = changes.diff_page(
        ctx.engine, import_id, other, change, limit, offset, after_index, counts
    )
    position = "previous_import_index" if change == "gone" else "import_index"
    more = len(items) == limit and items
    items = diff_items_in_usd(
        items, rates_of(ctx.settings), this["created_at"], previous.get("created_at")
    )
    return answer(
        ImportDiffOut(
            import_id=import_id,
            against=other,
            change=change,
            counts=ChangeCounts(**counts),
            by_model=[ModelChanges(**m) for m in by_model],
            items=[ChangedListing(**i) for i in items],
            total=total,
            limit=limit,
            offset=offset,
            next_after_index=items[-1][position] if more else None,
        )
    )


def _naive(value: Any) -> str | None:
    """Established delta timestamps are ISO text without an offset (glyph stores UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat() if isinstance(value, datetime) else str(value)


def _delta(row: dict[str, Any]) -> PriceDelta:
    return PriceDelta(
        **{k: row[k] for k in PriceDelta.model_fields if k in row and k != "timestamp"},
        timestamp=_naive(row["timestamp"]),
    )


@router.get(
    "/api/forecast/deltas",
    response_model=list[PriceDelta],
    summary="Price changes between consecutive observations of the same listing (established)",
)
def forecast_deltas(
    ctx: ContextDep,
    model: Annotated[str | None, Query(max_length=64)] = None,
    region: Annotated[str | None, Query(max_length=200)] = None,
    min_price_change_pct: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    after: Annotated[
        datetime | None, Query(description="ISO time: deltas seen at or after")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Newest first. A listing is followed by its ``listing_key``; prices of two currencies are
    never compared. Rows without an identity (already-scored DTO rows) make no deltas."""
    if after is not None:
        # glyph stores UTC; SQLite compares naive text, PostgreSQL aware timestamps
        aware = after.astimezone(UTC) if after.tzinfo else after.replace(tzinfo=UTC)
        after = aware.replace(tzinfo=None) if ctx.engine.dialect.name == "sqlite" else aware
    filters = changes.DeltaFilters(
        model=model, region=region, min_price_change_pct=min_price_change_pct, after=after
    )
    rows = changes.price_deltas(ctx.engine, filters, limit)
    return bare_array([_delta(r).model_dump() for r in rows])


@router.get(
    "/api/forecast/deltas/{delta_id}",
    response_model=PriceDeltaDetail,
    summary="One price delta with both observations (established)",
    responses=errors(404),
)
def forecast_delta(delta_id: int, ctx: ContextDep) -> Any:
    rows = changes.price_deltas(ctx.engine, changes.DeltaFilters(delta_id=delta_id), 1)
    if not rows:
        raise ApiError(404, f"Delta {delta_id} not found", code="delta_not_found")
    row = rows[0]
    detail = PriceDeltaDetail(
        **_delta(row).model_dump(),
        current_snapshot=Snapshot(
            id=row["current_snapshot_id"],
            price_usd=row["current_price"],
            score=row["current_score"],
            seen_at=_naive(row["timestamp"]),
        ),
        previous_snapshot=Snapshot(
            id=row["previous_snapshot_id"],
            price_usd=row["previous_price"],
            score=row["previous_score"],
            seen_at=_naive(row["previous_seen_at"]),
        ),
    )
    return answer(detail)
