"""Reads and writes of the market tables (model_market_stats, price_movements).

The market assets write through here; the API reads through ``read_*`` so both agree on columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from glyph_assets.sieve.market import (
    IMPORT_INPUT_COLUMNS,
    LISTING_INPUT_COLUMNS,
    MOVEMENT_COLUMNS,
    POINT_COLUMNS,
    STATS_COLUMNS,
)
from glyph_assets.store import listing_rows, summaries
from glyph_assets.store.db import fetch_all
from glyph_assets.store.listing_rows import WITH_IMPORTS
from glyph_assets.store.models import (
    Import,
    ModelMarketStat,
    ModelPricePoint,
    PriceMovement,
)
from glyph_assets.store.repository import utcnow
from glyph_assets.store.status import PERSISTED_STATUSES

_IN_BATCH = 500


def recent_imports(engine: Engine, limit: int) -> pd.DataFrame:
    """The ``limit`` newest imports whose rows are persisted, newest first."""
    table = Import.__table__
    query = (
        select(table.c.import_id, table.c.source, table.c.created_at)
        .where(table.c.status.in_(PERSISTED_STATUSES))
        .order_by(table.c.created_at.desc(), table.c.import_id.desc())
        .limit(max(0, limit))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=IMPORT_INPUT_COLUMNS)


def listings_of(engine: Engine, import_ids: Sequence[str]) -> pd.DataFrame:
    """The columns the market figures need, for the given imports only."""
    columns = listing_rows.columns(LISTING_INPUT_COLUMNS, joined=True)
    rows: list[tuple[Any, ...]] = []
    ids = list(import_ids)
    with engine.connect() as conn:
        for start in range(0, len(ids), _IN_BATCH):
            batch = ids[start : start + _IN_BATCH]
            query = select(*columns).select_from(WITH_IMPORTS).where(Import.import_id.in_(batch))
            rows.extend(tuple(r) for r in conn.execute(query))
    return pd.DataFrame(rows, columns=LISTING_INPUT_COLUMNS)


def model_price_points(engine: Engine, canonical_model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One model's price points (``sieve.market.price_points``, with their import_id) in every
    persisted import, and those imports: what ``sieve.market.price_history`` charts. A row per
    import and currency, stored when each import ended, on ``ix_model_price_points_model``;
    an import whose figures are not stored yet gets them first (once)."""
    summaries.fill_missing(engine, PERSISTED_STATUSES)
    points, imports = ModelPricePoint.__table__, Import.__table__
    query = (
        select(points.c.import_id, *(points.c[name] for name in POINT_COLUMNS))
        .join(imports, imports.c.import_id == points.c.import_id)
        .where(points.c.canonical_model == canonical_model)
        .where(imports.c.status.in_(PERSISTED_STATUSES))
    )
    meta = select(imports.c.import_id, imports.c.source, imports.c.created_at).where(
        imports.c.import_id.in_(query.with_only_columns(points.c.import_id).scalar_subquery())
    )
    with engine.connect() as conn:
        found = pd.DataFrame(
            [tuple(r) for r in conn.execute(query)], columns=["import_id", *POINT_COLUMNS]
        )
        seen = pd.DataFrame([tuple(r) for r in conn.execute(meta)], columns=IMPORT_INPUT_COLUMNS)
    return found, seen


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    subset = frame.reindex(columns=columns).astype(object)
    subset = subset.where(subset.notna(), None)
    return [dict(zip(columns, row, strict=True)) for row in subset.itertuples(index=False)]


def replace_model_market_stats(engine: Engine, stats: pd.DataFrame, window_imports: int) -> int:
    """Replace the whole table in one transaction; readers never see a half-written refresh."""
    records = _records(stats, STATS_COLUMNS)
    now = utcnow()
    for record in records:
        record.update(window_imports=window_imports, computed_at=now)
    with engine.begin() as conn:
        conn.execute(delete(ModelMarketStat))
        if records:
            conn.execute(insert(ModelMarketStat), records)
    return len(records)


def replace_price_movements(engine: Engine, movements: pd.DataFrame) -> int:
    records = _records(movements, MOVEMENT_COLUMNS)
    now = utcnow()
    for record in records:
        record["computed_at"] = now
        for name in ("imported_at", "previous_imported_at"):
            value = record[name]
            if isinstance(value, pd.Timestamp):
                record[name] = value.to_pydatetime()
    with engine.begin() as conn:
        conn.execute(delete(PriceMovement))
        if records:
            conn.execute(insert(PriceMovement), records)
    return len(records)


def read_model_market_stats(
    engine: Engine, canonical_model: str | None = None
) -> list[dict[str, Any]]:
    table = ModelMarketStat.__table__
    query = select(table).order_by(table.c.canonical_model, table.c.currency)
    if canonical_model is not None:
        query = query.where(table.c.canonical_model == canonical_model)
    return fetch_all(engine, query)


def read_price_movements(
    engine: Engine,
    canonical_model: str | None = None,
    import_id: str | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """Movements filtered by model, by the import they end at, and by source (``*`` = all)."""
    table = PriceMovement.__table__
    query = select(table).order_by(
        table.c.canonical_model, table.c.currency, table.c.source, table.c.imported_at
    )
    if canonical_model is not None:
        query = query.where(table.c.canonical_model == canonical_model)
    if import_id is not None:
        query = query.where(table.c.import_id == import_id)
    if source is not None:
        query = query.where(table.c.source == source)
    return fetch_all(engine, query)


__all__ = [
    "listings_of",
    "model_price_points",
    "read_model_market_stats",
    "read_price_movements",
    "recent_imports",
    "replace_model_market_stats",
    "replace_price_movements",
]
