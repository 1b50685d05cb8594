"""The API's read layer over glyph_assets.store.models: filters, pages, sorts and aggregates.

Everything here is SQLAlchemy Core on the shared models, portable between SQLite and PostgreSQL
(the median uses window functions, which both have).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, case, func, select

from glyph_assets.store.models import GpuModel, Import, ImportRun, Listing, RowError

LISTING_SORTS = {
    "import_index": Listing.import_index,
    "score": Listing.score,
    "price": Listing.price,
    "canonical_model": Listing.canonical_model,
    "match_score": Listing.match_score,
    "vram_gb": Listing.vram_gb,
}
ERROR_SORTS = {
    "import_index": RowError.import_index,
    "stage": RowError.stage,
    "field": RowError.field,
}
IMPORT_SORTS = {
    "created_at": Import.created_at,
    "finished_at": Import.finished_at,
    "total_rows": Import.total_rows,
}


class BadSort(ValueError):
    """The sort asked for is not one this list offers."""


@dataclass
class ListingFilters:
    import_id: str | None = None
    models: list[str] | None = None
    min_score: float | None = None
    max_score: float | None = None
    min_price: float | None = None
    max_price: float | None = None
    is_gpu: bool | None = None
    vendor: str | None = None
    reject_reason: str | None = None

    def clauses(self) -> list[Any]:
        out: list[Any] = []
        if self.import_id:
            out.append(Listing.import_id == self.import_id)
        if self.models:
            out.append(Listing.canonical_model.in_(self.models))
        if self.min_score is not None:
            out.append(Listing.score >= self.min_score)
        if self.max_score is not None:
            out.append(Listing.score <= self.max_score)
        if self.min_price is not None:
            out.append(Listing.price >= self.min_price)
        if self.max_price is not None:
            out.append(Listing.price <= self.max_price)
        if self.is_gpu is not None:
            out.append(Listing.is_gpu.is_(self.is_gpu))
        if self.vendor:
            out.append(func.lower(Listing.vendor) == self.vendor.lower())
        if self.reject_reason:
            out.append(Listing.reject_reason == self.reject_reason)
        return out


def order_by(sort: str, allowed: dict[str, Any], tiebreak: list[Any]) -> list[Any]:
    """``score`` / ``-score`` (descending) -> ORDER BY, NULLs last, then a stable tiebreak."""
    columns: list[Any] = []
    for part in [p.strip() for p in sort.split(",") if p.strip()]:
        descending = part.startswith("-")
        name = part.lstrip("-+")
        if name not in allowed:
            raise BadSort(f"cannot sort by {name!r}; choose from {', '.join(sorted(allowed))}")
        column = allowed[name]
        columns.append(column.is_(None))  # NULLs last in either direction
        columns.append(column.desc() if descending else column.asc())
    return columns + tiebreak


def _page(engine: Engine, query: Select, count_query: Select, limit: int, offset: int) -> Any:
    with engine.connect() as conn:
        total = conn.execute(count_query).scalar_one()
        rows = conn.execute(query.limit(limit).offset(offset)).all()
    return [dict(r._mapping) for r in rows], int(total)


def _db_time(engine: Engine, value: datetime | None) -> datetime | None:
    """A client's instant as the database compares it: UTC, and naive on SQLite (which stores
    timestamps as text without an offset)."""
    if value is None:
        return None
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


def list_imports(
    engine: Engine,
    *,
    statuses: list[str] | None = None,
    source: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    sort: str = "-created_at",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    table = Import.__table__
    created_after = _db_time(engine, created_after)
    created_before = _db_time(engine, created_before)
    clauses: list[Any] = []
    if statuses:
        clauses.append(table.c.status.in_(statuses))
    if source:
        clauses.append(table.c.source == source)
    if created_after:
        clauses.append(table.c.created_at >= created_after)
    if created_before:
        clauses.append(table.c.created_at < created_before)
    where = and_(True, *clauses)
    latest = (
        select(ImportRun.run_id)
        .where(ImportRun.import_id == table.c.import_id)
        .order_by(ImportRun.attempt.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(table, latest.label("latest_run_id"))
        .where(where)
        .order_by(*order_by(sort, IMPORT_SORTS, [table.c.import_id]))
    )
    count = select(func.count()).select_from(table).where(where)
    return _page(engine, query, count, limit, offset)


def import_row_stats(engine: Engine, import_id: str) -> dict[str, Any]:
    """Live counts and the score range of an import's persisted rows."""
    is_import = Listing.import_id == import_id
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.sum(case((Listing.reject_reason == "not_gpu", 1), else_=0)),
                func.sum(case((Listing.reject_reason == "unknown_model", 1), else_=0)),
                func.min(Listing.score),
                func.max(Listing.score),
                func.avg(Listing.score),
            ).where(is_import)
        ).one()
        errors = conn.execute(
            select(func.count()).select_from(RowError).where(RowError.import_id == import_id)
        ).scalar_one()
    return {
        "persisted_rows": int(row[0] or 0),
        "not_gpu_rows": int(row[1] or 0),
        "unknown_model_rows": int(row[2] or 0),
        "score_min": row[3],
        "score_max": row[4],
        "score_mean": float(row[5]) if row[5] is not None else None,
        "error_rows": int(errors or 0),
    }


def top_models(engine: Engine, import_id: str, limit: int = 10) -> list[dict[str, Any]]:
    query = (
        select(
            Listing.canonical_model,
            func.count().label("listings"),
            func.min(Listing.price).label("min_price"),
            func.max(Listing.price).label("max_price"),
        )
        .where(Listing.import_id == import_id, Listing.canonical_model.is_not(None))
        .group_by(Listing.canonical_model)
        .order_by(func.count().desc(), Listing.canonical_model)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query).all()]


def list_errors(
    engine: Engine,
    import_id: str,
    *,
    stage: str | None = None,
    field: str | None = None,
    sort: str = "import_index",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    clauses = [RowError.import_id == import_id]
    if stage:
        clauses.append(RowError.stage == stage)
    if field:
        clauses.append(RowError.field == field)
    columns = [
        RowError.import_index,
        RowError.stage,
        RowError.field,
        RowError.reason,
        RowError.raw_row,
    ]
    query = (
        select(*columns)
        .where(*clauses)
        .order_by(*order_by(sort, ERROR_SORTS, [RowError.import_index]))
    )
    count = select(func.count()).select_from(RowError).where(*clauses)
    return _page(engine, query, count, limit, offset)


def list_listings(
    engine: Engine,
    filters: ListingFilters,
    *,
    sort: str = "import_index",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    table = Listing.__table__
    clauses = filters.clauses()
    columns = [c for c in table.columns if c.name != "id"]
    query = (
        select(*columns)
        .where(*clauses)
        .order_by(*order_by(sort, LISTING_SORTS, [Listing.import_id, Listing.import_index]))
    )
    count = select(func.count()).select_from(table).where(*clauses)
    return _page(engine, query, count, limit, offset)


def registry_models(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(GpuModel.__table__).order_by(GpuModel.canonical_model)).all()
    return [dict(r._mapping) for r in rows]


def model_market(engine: Engine, currency: str = "USD") -> dict[str, dict[str, Any]]:
    """Per canonical model: listing count and min / median / max price of GPU listings."""
    base = (
        select(
            Listing.canonical_model.label("model"),
            Listing.price.label("price"),
            func.row_number()
            .over(partition_by=Listing.canonical_model, order_by=Listing.price)
            .label("rn"),
            func.count().over(partition_by=Listing.canonical_model).label("n"),
        )
        .where(
            Listing.canonical_model.is_not(None),
            Listing.price.is_not(None),
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
    ).group_by(base.c.model)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {r.model: dict(r._mapping) for r in rows}


__all__ = [
    "BadSort",
    "ListingFilters",
    "import_row_stats",
    "list_errors",
    "list_imports",
    "list_listings",
    "model_market",
    "registry_models",
    "top_models",
]
