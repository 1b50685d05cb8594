"""The GPU registry (``gpu_models``) with each model's market figures as the market assets last
computed them (``model_market_stats``, over the newest imports; ``X-Market-Computed-At``)."""

from __future__ import annotations

import logging
import math
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Query

from glyph_assets.sieve.registry import SPEC_FIELDS, Registry, RegistryError, load_registry
from glyph_assets.store import warehouse
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import Limit, Offset, bare_array, errors
from glyphd_api.schemas import EstablishedModel
from glyphd_api.service import Context

router = APIRouter(tags=["models"])
log = logging.getLogger("glyphd_api")
# The registry's columns a listed model carries (its aliases and notes stay in the registry).
REGISTRY_FIELDS = [
    "canonical_model",
    *(f for f in SPEC_FIELDS if f in EstablishedModel.model_fields),
]


def _registry_row(model_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One model of the sieve's registry as the API lists it (a missing number is null)."""
    row = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in spec.items()}
    return {**row, "canonical_model": model_id}


def registry_rows(ctx: Context) -> list[dict[str, Any]]:
    """The gpu_models table when it is loaded, else the registry the pipeline matches against
    (``sieve.registry``: parsed and validated once per process); none when it cannot be read."""
    rows = warehouse.registry_models(ctx.engine)
    if rows:
        return rows
    try:
        registry = load_registry(ctx.settings.registry_path)
    except RegistryError as exc:
        log.warning("no registry models to list: %s", exc)
        return []
    return registry.memo("api_models", _registry_rows)


def _registry_rows(registry: Registry) -> list[dict[str, Any]]:
    specs = registry.specs.to_dict("index")
    return [_registry_row(str(model_id), spec) for model_id, spec in specs.items()]


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
    """Market figures count GPU listings priced in ``currency`` in the newest imports
    (``GLYPH_MARKET_WINDOW_IMPORTS``), as the market assets last refreshed them; models seen in
    listings but absent from the registry are included with ``in_registry: false``. ``model``
    is the display name (as established); ``canonical_model`` the id the listings carry."""
    market = warehouse.model_market(ctx.engine, currency.upper())
    items = market_models(ctx, currency, vendor=vendor, listed_only=listed_only, market=market)
    page = items[offset : offset + limit]
    body = [i.model_dump(exclude_none=True) for i in page]
    headers = {"X-Total-Count": str(len(items))}
    computed = [f["computed_at"] for f in market.values() if f.get("computed_at")]
    if computed:
        newest = max(computed)
        if newest.tzinfo is None:  # SQLite hands timestamps back without their (UTC) offset
            newest = newest.replace(tzinfo=UTC)
        headers["X-Market-Computed-At"] = newest.isoformat()
    return bare_array(body, headers)


def market_models(
    ctx: Context,
    currency: str = "USD",
    vendor: str | None = None,
    listed_only: bool = True,
    market: dict[str, dict[str, Any]] | None = None,
) -> list[EstablishedModel]:
    """Every model with its market figures in ``currency`` (``market``: the figures already
    read, else read here): the registry's models, then the models seen in listings but absent
    from it (``in_registry: false``); the list the API answers and the console shows."""
    currency = currency.upper()
    if market is None:
        market = warehouse.model_market(ctx.engine, currency)
    items: list[EstablishedModel] = []
    seen: set[str] = set()
    for row in registry_rows(ctx):
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
    return items


def _model(
    row: dict[str, Any], figures: dict[str, Any], currency: str, in_registry: bool = True
) -> EstablishedModel:
    """One ``GPUModelDTO`` (established names: ``model``, ``mig_support``, ``generation``,
    ``pcie_generation``) with glyph's registry columns and market figures beside it."""
    fields = {k: row.get(k) for k in REGISTRY_FIELDS}
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
