"""Figures over the whole warehouse: the models in it, the registry, the market, the totals.

Read by the API's model list, its market report and the established model filter. Market
figures come from one place, ``model_market_stats`` (written by the market assets from the
newest imports, see ``sieve.market``): nothing here aggregates every listing per request.
The registry is kept in ``gpu_models`` (:func:`sync_registry`), so reads join its specs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, bindparam, case, delete, func, insert, select, union

from glyph_assets.sieve.registry import Registry
from glyph_assets.store import summaries
from glyph_assets.store.db import fetch_all
from glyph_assets.store.models import GpuModel, Import, ImportSummary, Listing, ModelMarketStat
from glyph_assets.store.status import TERMINAL_STATUSES


def known_models(engine: Engine) -> list[str]:
    """The canonical models glyph knows of: the registry's and every model the market figures
    saw (two small tables)."""
    query = union(
        select(GpuModel.canonical_model), select(ModelMarketStat.canonical_model)
    ).order_by("canonical_model")
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(query).all()]


def listed_models(engine: Engine, candidates: Iterable[str]) -> list[str]:
    """Those of ``candidates`` that some persisted listing has (what the established model
    filter picks among): one seek each in ``ix_listings_model_score``, never a pass over the
    listings."""
    has = select(Listing.id).where(Listing.canonical_model == bindparam("model")).limit(1)
    with engine.connect() as conn:
        return [
            model
            for model in sorted(set(candidates))
            if conn.execute(has, {"model": model}).first() is not None
        ]


def warehouse_stats(engine: Engine) -> dict[str, Any]:
    """The figures the market report opens with: added up over every import's stored figures
    (``import_summaries``, one row per import; an ended import without one gets it first), the
    model count from the market table."""
    summaries.fill_missing(engine, TERMINAL_STATUSES)
    s = ImportSummary.__table__.c
    with engine.connect() as conn:
        imports = conn.execute(select(func.count()).select_from(Import.__table__)).scalar_one()
        row = conn.execute(
            select(
                func.sum(s.persisted_rows),
                func.sum(s.persisted_rows - s.not_gpu_rows),
                func.sum(s.score_mean * s.scored_rows),
                func.sum(s.scored_rows),
                func.min(s.price_min),
                func.max(s.price_max),
            )
        ).one()
        models = conn.execute(
            select(func.count(ModelMarketStat.canonical_model.distinct()))
        ).scalar_one()
    return {
        "imports": int(imports or 0),
        "listings": int(row[0] or 0),
        "gpu_listings": int(row[1] or 0),
        "models": int(models or 0),
        "mean_score": float(row[2]) / row[3] if row[3] else None,
        "min_price": row[4],
        "max_price": row[5],
    }


def top_ranked_models(engine: Engine, limit: int = 10) -> list[dict[str, Any]]:
    """Models by their best listing's score (glyph's 0-100 score), with count and median, from
    ``model_market_stats`` (one row per model and currency: a model's best row across its
    currencies ranks it, and its listings add up)."""
    table = ModelMarketStat.__table__
    best = func.max(table.c.best_score)
    query = (
        select(
            table.c.canonical_model,
            best.label("best_score"),
            func.sum(table.c.listings).label("listings"),
            func.max(case((table.c.currency == "USD", table.c.median_price))).label("median_price"),
        )
        .where(table.c.best_score.is_not(None))
        .group_by(table.c.canonical_model)
        .order_by(best.desc(), table.c.canonical_model)
        .limit(limit)
    )
    return fetch_all(engine, query)


def registry_models(engine: Engine) -> list[dict[str, Any]]:
    return fetch_all(engine, select(GpuModel.__table__).order_by(GpuModel.canonical_model))


def _registry_records(specs: pd.DataFrame) -> list[dict[str, Any]]:
    """The registry's specs (``sieve.registry.Registry.specs``) as ``gpu_models`` rows."""
    columns = [c.name for c in GpuModel.__table__.columns if c.name != "canonical_model"]
    frame = specs.reindex(columns=columns).astype(object)
    frame = frame.where(frame.notna(), None)
    return [
        {"canonical_model": str(model_id), **dict(zip(columns, values, strict=True))}
        for model_id, values in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]


def sync_registry(engine: Engine, registry: Registry) -> bool:
    """Make ``gpu_models`` hold the registry the pipeline matched against (its specs and
    aliases); writes only when something differs. Returns whether it wrote."""
    records = _registry_records(registry.specs)
    for record in records:
        aliases = registry.aliases.get(record["canonical_model"], [])
        record["aliases"] = "|".join(aliases) or None
    if registry_models(engine) == sorted(records, key=lambda r: r["canonical_model"]):
        return False
    with engine.begin() as conn:
        conn.execute(delete(GpuModel))
        if records:
            conn.execute(insert(GpuModel), records)
    return True


def model_market(engine: Engine, currency: str = "USD") -> dict[str, dict[str, Any]]:
    """Per canonical model, priced in ``currency``: listing count and min / median / max / mean
    price of one card, as the market assets last computed them (``computed_at``)."""
    table = ModelMarketStat.__table__
    query = select(
        table.c.canonical_model.label("model"),
        table.c.listings.label("listing_count"),
        table.c.min_price,
        table.c.median_price,
        table.c.max_price,
        table.c.mean_price.label("avg_price"),
        table.c.computed_at,
    ).where(table.c.currency == currency)
    return {row["model"]: row for row in fetch_all(engine, query)}


@dataclass(frozen=True)
class ImportTotals:
    """Figures over every import, from the ``imports`` table alone (one row per import, never
    the listings): what the API's ``/metrics`` exposes."""

    by_status: dict[str, int]
    persisted_rows: int
    error_rows: int
    uploaded_bytes: int
    uploads: int
    processing_seconds: list[float]  # finished_at - started_at of every import that has both


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def import_totals(engine: Engine) -> ImportTotals:
    table = Import.__table__
    with engine.connect() as conn:
        by_status = dict(
            conn.execute(select(table.c.status, func.count()).group_by(table.c.status)).all()
        )
        persisted, errors, uploaded, uploads = conn.execute(
            select(
                func.coalesce(func.sum(table.c.persisted_rows), 0),
                func.coalesce(func.sum(table.c.error_rows), 0),
                func.coalesce(func.sum(table.c.size_bytes), 0),
                func.count(),
            )
        ).one()
        spans = conn.execute(
            select(table.c.started_at, table.c.finished_at).where(
                table.c.started_at.is_not(None), table.c.finished_at.is_not(None)
            )
        ).all()
    return ImportTotals(
        by_status={str(status): int(count) for status, count in by_status.items()},
        persisted_rows=int(persisted),
        error_rows=int(errors),
        uploaded_bytes=int(uploaded),
        uploads=int(uploads),
        processing_seconds=[
            (_aware(end) - _aware(start)).total_seconds()
            for start, end in spans
            if start is not None and end is not None
        ],
    )


__all__ = [
    "ImportTotals",
    "import_totals",
    "known_models",
    "listed_models",
    "model_market",
    "registry_models",
    "sync_registry",
    "top_ranked_models",
    "warehouse_stats",
]
