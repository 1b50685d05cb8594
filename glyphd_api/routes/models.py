"""The GPU registry with market figures per model from the persisted listings."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from glyphd_api import queries
from glyphd_api.deps import get_context
from glyphd_api.routes.common import answer, errors, limit_param, offset_param
from glyphd_api.schemas import ModelMarket, Page
from glyphd_api.service import Context

router = APIRouter(tags=["models"])
_REGISTRY_FIELDS = [
    "vendor",
    "display_name",
    "segment",
    "architecture",
    "vram_gb",
    "memory_type",
    "tdp_watts",
    "form_factor",
    "launch_year",
]
_cache: dict[Path, tuple[float, list[dict[str, Any]]]] = {}


def _registry_csv(path: Path) -> list[dict[str, Any]]:
    """The registry file (data/reference/gpu_models.csv), re-read only when it changes."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return []
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [dict(r) for r in csv.DictReader(fh) if r.get("canonical_model")]
    _cache[path] = (mtime, rows)
    return rows


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _registry(ctx: Context) -> list[dict[str, Any]]:
    """The gpu_models table when it is loaded, else the registry file itself."""
    rows = queries.registry_models(ctx.engine)
    if rows:
        return rows
    out = []
    for row in _registry_csv(ctx.settings.registry_path):
        item: dict[str, Any] = {k: (row.get(k) or None) for k in _REGISTRY_FIELDS}
        item["canonical_model"] = row["canonical_model"]
        for key in ("vram_gb", "tdp_watts"):
            item[key] = _number(item[key])
        year = _number(item["launch_year"])
        item["launch_year"] = int(year) if year is not None else None
        out.append(item)
    return out


@router.get(
    "/api/models",
    response_model=Page[ModelMarket],
    summary="GPU models with listing count and min / median / max price",
    responses=errors(401, 422),
)
def list_models(
    ctx: Annotated[Context, Depends(get_context)],
    currency: Annotated[str, Query(min_length=3, max_length=8)] = "USD",
    vendor: str | None = None,
    listed_only: Annotated[bool, Query(description="Only models with listings")] = False,
    limit: Annotated[int, limit_param()] = 500,
    offset: Annotated[int, offset_param()] = 0,
) -> Any:
    """Market figures count GPU listings priced in ``currency``; models seen in listings but
    absent from the registry are included with ``in_registry: false``."""
    currency = currency.upper()
    market = queries.model_market(ctx.engine, currency)
    items: list[ModelMarket] = []
    seen: set[str] = set()
    for row in _registry(ctx):
        model_id = row["canonical_model"]
        seen.add(model_id)
        figures = market.get(model_id, {})
        fields = {k: row.get(k) for k in ["canonical_model", *_REGISTRY_FIELDS]}
        items.append(ModelMarket(**fields, **_figures(figures), currency=currency))
    for model_id, figures in market.items():
        if model_id not in seen:
            items.append(
                ModelMarket(
                    canonical_model=model_id,
                    in_registry=False,
                    **_figures(figures),
                    currency=currency,
                )
            )
    if vendor:
        items = [i for i in items if (i.vendor or "").lower() == vendor.lower()]
    if listed_only:
        items = [i for i in items if i.listing_count]
    page = items[offset : offset + limit]
    return answer(Page[ModelMarket](items=page, total=len(items), limit=limit, offset=offset))


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "listing_count": int(row.get("listing_count") or 0),
        "min_price": row.get("min_price"),
        "median_price": row.get("median_price"),
        "max_price": row.get("max_price"),
    }
