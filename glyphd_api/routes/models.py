"""The GPU registry with market figures per model from the persisted listings."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from glyphd_api import queries
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import Limit, Offset, errors
from glyphd_api.schemas import EstablishedModel
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
    "mig_instances",
    "nvlink",
    "pcie_gen",
    "slot_width",
]
_INTEGER_FIELDS = ("launch_year", "mig_instances", "pcie_gen", "slot_width")
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
        for key in _INTEGER_FIELDS:
            number = _number(item[key])
            item[key] = int(number) if number is not None else None
        link = (item["nvlink"] or "").strip().lower()
        item["nvlink"] = {"true": True, "false": False}.get(link)
        out.append(item)
    return out


@router.get(
    "/api/models",
    response_model=list[EstablishedModel],
    summary="GPU models with listing count and min / median / max / mean price, as the "
    "established bare array of GPUModelDTO (total in X-Total-Count)",
    responses=errors(401, 422),
)
def list_models(
    ctx: ContextDep,
    currency: Annotated[str, Query(min_length=3, max_length=8)] = "USD",
    vendor: str | None = None,
    listed_only: Annotated[
        bool,
        Query(
            description="Only models with listings (the established default: every "
            "GPUModelDTO has prices); false adds the registry's other models"
        ),
    ] = True,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Any:
    """Market figures count GPU listings priced in ``currency``; models seen in listings but
    absent from the registry are included with ``in_registry: false``. ``model`` is the
    display name (as established); ``canonical_model`` the id the listings carry."""
    currency = currency.upper()
    market = queries.model_market(ctx.engine, currency)
    items: list[EstablishedModel] = []
    seen: set[str] = set()
    for row in _registry(ctx):
        model_id = row["canonical_model"]
        seen.add(model_id)
        figures = market.get(model_id, {})
        items.append(_model(row, figures, currency))
    for model_id, figures in market.items():
        if model_id not in seen:
            items.append(_model({"canonical_model": model_id}, figures, currency, False))
    if vendor:
        items = [i for i in items if (i.vendor or "").lower() == vendor.lower()]
    if listed_only:
        items = [i for i in items if i.listing_count]
    page = items[offset : offset + limit]
    body = orjson.dumps([i.model_dump(exclude_none=True) for i in page])
    headers = {"X-Total-Count": str(len(items))}
    return Response(body, media_type="application/json", headers=headers)


def _model(
    row: dict[str, Any], figures: dict[str, Any], currency: str, in_registry: bool = True
) -> EstablishedModel:
    """One ``GPUModelDTO`` (established names: ``model``, ``mig_support``, ``generation``,
    ``pcie_generation``) with glyph's registry columns and market figures beside it."""
    fields = {k: row.get(k) for k in ["canonical_model", *_REGISTRY_FIELDS]}
    return EstablishedModel(
        **fields,
        model=row.get("display_name") or row["canonical_model"],
        mig_support=row.get("mig_instances"),
        generation=row.get("architecture"),
        pcie_generation=row.get("pcie_gen"),
        in_registry=in_registry,
        **_figures(figures),
        currency=currency,
    )


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "listing_count": int(row.get("listing_count") or 0),
        "min_price": row.get("min_price"),
        "median_price": row.get("median_price"),
        "max_price": row.get("max_price"),
        "avg_price": row.get("avg_price"),
    }
