"""The reads an import's summary makes beyond its counts: its edge models and top models.

(Its row counts and score range are :func:`glyph_assets.store.repository.import_row_stats`.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from glyph_assets.store.db import fetch_all
from glyph_assets.store.models import Listing
from glyph_assets.store.warehouse import CARD_PRICE


def edge_models(engine: Engine, import_id: str) -> tuple[str | None, str | None]:
    """canonical_model of an import's first and last persisted row (by import_index); a row
    without a model counts as ``UNKNOWN``, as established glyphd clients expect."""

    def model_at(order: Any) -> str | None:
        query = (
            select(Listing.canonical_model)
            .where(Listing.import_id == import_id)
            .order_by(order)
            .limit(1)
        )
        with engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row[0] or "UNKNOWN")

    return model_at(Listing.import_index.asc()), model_at(Listing.import_index.desc())


def top_models(engine: Engine, import_id: str, limit: int = 10) -> list[dict[str, Any]]:
    query = (
        select(
            Listing.canonical_model,
            func.count().label("listings"),
            func.min(CARD_PRICE).label("min_price"),
            func.max(CARD_PRICE).label("max_price"),
        )
        .where(Listing.import_id == import_id, Listing.canonical_model.is_not(None))
        .group_by(Listing.canonical_model)
        .order_by(func.count().desc(), Listing.canonical_model)
        .limit(limit)
    )
    return fetch_all(engine, query)


__all__ = ["edge_models", "top_models"]
