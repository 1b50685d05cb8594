"""Figures over the whole warehouse: every persisted listing, the models in it, the registry.

Read by the API's model list, its market report and the established model filter. The market
figures here are computed live over every listing (see ``store.market`` for the tables the
market assets write).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, case, func, select

from glyph_assets.store.db import fetch_all
from glyph_assets.store.models import GpuModel, Import, Listing

# The price of one card: unit_price (price / the lot it buys), price for rows stored before it.
CARD_PRICE = func.coalesce(Listing.unit_price, Listing.price)


def listed_models(engine: Engine) -> list[str]:
    """Every canonical model that some persisted listing has (the established model filter
    picks among these)."""
    query = select(Listing.canonical_model).where(Listing.canonical_model.is_not(None)).distinct()
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(query).all()]


def warehouse_stats(engine: Engine) -> dict[str, Any]:
    """The figures the market report opens with, over every persisted listing."""
    with engine.connect() as conn:
        imports = conn.execute(select(func.count()).select_from(Import)).scalar_one()
        row = conn.execute(
            select(
                func.count(),
                func.sum(case((Listing.is_gpu.is_(False), 0), else_=1)),
                func.count(Listing.canonical_model.distinct()),
                func.avg(Listing.score),
                func.min(Listing.price),
                func.max(Listing.price),
            )
        ).one()
    return {
        "imports": int(imports or 0),
        "listings": int(row[0] or 0),
        "gpu_listings": int(row[1] or 0),
        "models": int(row[2] or 0),
        "mean_score": float(row[3]) if row[3] is not None else None,
        "min_price": row[4],
        "max_price": row[5],
    }


def top_ranked_models(engine: Engine, limit: int = 10) -> list[dict[str, Any]]:
    """Models by their best listing's score (glyph's 0-100 score), with count and median."""
    market = model_market(engine)
    query = (
        select(
            Listing.canonical_model,
            func.max(Listing.score).label("best_score"),
            func.count().label("listings"),
        )
        .where(Listing.canonical_model.is_not(None), Listing.score.is_not(None))
        .group_by(Listing.canonical_model)
        .order_by(func.max(Listing.score).desc(), Listing.canonical_model)
        .limit(limit)
    )
    rows = fetch_all(engine, query)
    for row in rows:
        row["median_price"] = market.get(row["canonical_model"], {}).get("median_price")
    return rows


def registry_models(engine: Engine) -> list[dict[str, Any]]:
    return fetch_all(engine, select(GpuModel.__table__).order_by(GpuModel.canonical_model))


def model_market(engine: Engine, currency: str = "USD") -> dict[str, dict[str, Any]]:
    """Per canonical model: listing count and min / median / max price of one card (a lot's
    price divided by its size) over GPU listings."""
    base = (
        select(
            Listing.canonical_model.label("model"),
            CARD_PRICE.label("price"),
            func.row_number()
            .over(partition_by=Listing.canonical_model, order_by=CARD_PRICE)
            .label("rn"),
            func.count().over(partition_by=Listing.canonical_model).label("n"),
        )
        .where(
            Listing.canonical_model.is_not(None),
            CARD_PRICE.is_not(None),
            Listing.is_gpu.is_not(False),
            func.coalesce(Listing.currency, currency) == currency,
        )
        .subquery()
    )
    # The middle one or two rows of each model's sorted prices: (n+1)/2 and (n+2)/2 (integer).
    middle = and_(
        base.c.rn >= (base.c.n + 1) // 2,
        base.c.rn <= (base.c.n + 2) // 2,
    )
    query = select(
        base.c.model,
        func.max(base.c.n).label("listing_count"),
        func.min(base.c.price).label("min_price"),
        func.max(base.c.price).label("max_price"),
        func.avg(base.c.price).filter(middle).label("median_price"),
        func.avg(base.c.price).label("avg_price"),
    ).group_by(base.c.model)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {r.model: dict(r._mapping) for r in rows}


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
    "CARD_PRICE",
    "ImportTotals",
    "import_totals",
    "listed_models",
    "model_market",
    "registry_models",
    "top_ranked_models",
    "warehouse_stats",
]
