"""Listings across imports: one listing's history, what changed between two imports, and the
price deltas between consecutive observations of the same listing.

A listing is followed by its ``listing_key`` (``sieve/listing_key.py``). Within one import the
first row of a key (lowest import_index) stands for it, so a key a file repeats is counted once.
Prices are compared within one currency: a listing whose currency changed is "repriced" but its
change is not computed (never a difference of two currencies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, case, delete, func, insert, literal, or_, select
from sqlalchemy.sql import Subquery

from glyph_assets.store.db import fetch_all, fetch_first
from glyph_assets.store.models import Import, ImportDiff, Listing
from glyph_assets.store.repository import utcnow
from glyph_assets.store.status import PERSISTED_STATUSES

CHANGES = ("new", "gone", "repriced", "unchanged")


def _firsts(import_id: str) -> Subquery:
    """One row per listing_key of one import: its first (lowest import_index)."""
    rank = func.row_number().over(partition_by=Listing.listing_key, order_by=Listing.import_index)
    inner = (
        select(
            Listing.listing_key.label("key"),
            Listing.import_index,
            Listing.canonical_model,
            Listing.title,
            Listing.price,
            Listing.currency,
            rank.label("rank"),
        )
        .where(Listing.import_id == import_id, Listing.listing_key.is_not(None))
        .subquery()
    )
    return select(inner).where(inner.c.rank == 1).subquery()


def previous_import(engine: Engine, import_id: str) -> str | None:
    """The newest finished import of the same source created before this one."""
    this = select(Import.source, Import.created_at).where(Import.import_id == import_id)
    with engine.connect() as conn:
        row = conn.execute(this).first()
        if row is None:
            return None
        earlier = (
            select(Import.import_id)
            .where(
                Import.source == row.source,
                Import.created_at < row.created_at,
                Import.status.in_(PERSISTED_STATUSES),
                Import.import_id != import_id,
            )
            .order_by(Import.created_at.desc())
            .limit(1)
        )
        return conn.execute(earlier).scalar_one_or_none()


def _changed(cur: Subquery, prev: Subquery) -> Any:
    return or_(
        cur.c.price.is_distinct_from(prev.c.price),
        cur.c.currency.is_distinct_from(prev.c.currency),
    )


@dataclass
class DiffCounts:
    new: int = 0
    gone: int = 0
    repriced: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {c: getattr(self, c) for c in CHANGES}


def _count_rows(engine: Engine, import_id: str, against: str | None, by_model: bool) -> Any:
    cur, prev = _firsts(import_id), _firsts(against or "")
    matched = prev.c.key.is_not(None)
    changed = _changed(cur, prev)
    forward_cols: list[Any] = [
        func.sum(case((~matched, 1), else_=0)).label("new"),
        func.sum(case((and_(matched, changed), 1), else_=0)).label("repriced"),
        func.sum(case((and_(matched, ~changed), 1), else_=0)).label("unchanged"),
    ]
    forward = select(*forward_cols).select_from(cur.outerjoin(prev, cur.c.key == prev.c.key))
    backward = (
        select(func.count().label("gone"))
        .select_from(prev.outerjoin(cur, cur.c.key == prev.c.key))
        .where(cur.c.key.is_(None))
    )
    if by_model:
        model = func.coalesce(cur.c.canonical_model, prev.c.canonical_model, literal("UNKNOWN"))
        forward = forward.add_columns(model.label("model")).group_by(model)
        gone_model = func.coalesce(prev.c.canonical_model, literal("UNKNOWN"))
        backward = backward.add_columns(gone_model.label("model")).group_by(gone_model)
    with engine.connect() as conn:
        return conn.execute(forward).all(), conn.execute(backward).all()


def diff_counts(engine: Engine, import_id: str, against: str | None) -> DiffCounts:
    """How many listings are new, gone, repriced and unchanged between ``against`` and
    ``import_id`` (``against`` None: every listing is new)."""
    forward, backward = _count_rows(engine, import_id, against, by_model=False)
    row = forward[0]
    return DiffCounts(
        new=int(row.new or 0),
        gone=int(backward[0].gone or 0),
        repriced=int(row.repriced or 0),
        unchanged=int(row.unchanged or 0),
    )


def diff_by_model(engine: Engine, import_id: str, against: str | None) -> list[dict[str, Any]]:
    """The same counts per canonical model (UNKNOWN for rows without one), most changes first."""
    forward, backward = _count_rows(engine, import_id, against, by_model=True)
    models: dict[str, dict[str, Any]] = {}
    for row in forward:
        entry = models.setdefault(
            row.model, {"canonical_model": row.model, **DiffCounts().as_dict()}
        )
        entry.update(new=int(row.new or 0), repriced=int(row.repriced or 0))
        entry["unchanged"] = int(row.unchanged or 0)
    for row in backward:
        entry = models.setdefault(
            row.model, {"canonical_model": row.model, **DiffCounts().as_dict()}
        )
        entry["gone"] = int(row.gone or 0)
    return sorted(
        models.values(),
        key=lambda m: (-(m["new"] + m["gone"] + m["repriced"]), m["canonical_model"]),
    )


def diff_page(
    engine: Engine, import_id: str, against: str | None, change: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The listings of one kind of change, with both prices and the change where comparable."""
    if change not in CHANGES:
        raise ValueError(f"change must be one of {', '.join(CHANGES)}")
    cur, prev = _firsts(import_id), _firsts(against or "")
    if change == "gone":
        joined = prev.outerjoin(cur, cur.c.key == prev.c.key)
        where: Any = cur.c.key.is_(None)
        this, order = prev, prev.c.import_index
    else:
        joined = cur.outerjoin(prev, cur.c.key == prev.c.key)
        matched = prev.c.key.is_not(None)
        where = {
            "new": ~matched,
            "repriced": and_(matched, _changed(cur, prev)),
            "unchanged": and_(matched, ~_changed(cur, prev)),
        }[change]
        this, order = cur, cur.c.import_index
    comparable = and_(cur.c.currency.is_not_distinct_from(prev.c.currency))
    delta = case((comparable, cur.c.price - prev.c.price), else_=None)
    query = (
        select(
            this.c.key.label("listing_key"),
            this.c.canonical_model,
            this.c.title,
            cur.c.import_index,
            prev.c.import_index.label("previous_import_index"),
            cur.c.price,
            prev.c.price.label("previous_price"),
            func.coalesce(cur.c.currency, prev.c.currency).label("currency"),
            prev.c.currency.label("previous_currency"),
            delta.label("price_change"),
        )
        .select_from(joined)
        .where(where)
        .order_by(order, this.c.key)
    )
    count = select(func.count()).select_from(joined).where(where)
    with engine.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        rows = [dict(r._mapping) for r in conn.execute(query.limit(limit).offset(offset))]
    for row in rows:
        before, change_abs = row["previous_price"], row["price_change"]
        row["price_change_pct"] = (
            round(100.0 * change_abs / before, 4) if change_abs is not None and before else None
        )
    return rows, total


def record_diff(engine: Engine, import_id: str, against: str | None) -> dict[str, Any]:
    """Compute and keep the import's diff against ``against`` (the listing_changes asset)."""
    counts = diff_counts(engine, import_id, against)
    unkeyed_query = select(func.count()).where(
        Listing.import_id == import_id, Listing.listing_key.is_(None)
    )
    with engine.begin() as conn:
        unkeyed = int(conn.execute(unkeyed_query).scalar_one())
        conn.execute(delete(ImportDiff).where(ImportDiff.import_id == import_id))
        values = {
            "import_id": import_id,
            "against_import_id": against,
            "new_listings": counts.new,
            "gone_listings": counts.gone,
            "repriced_listings": counts.repriced,
            "unchanged_listings": counts.unchanged,
            "unkeyed_listings": unkeyed,
            "computed_at": utcnow(),
        }
        conn.execute(insert(ImportDiff).values(**values))
    return values


def stored_diff(engine: Engine, import_id: str) -> dict[str, Any] | None:
    return fetch_first(engine, select(ImportDiff).where(ImportDiff.import_id == import_id))


def history(engine: Engine, listing_key: str) -> list[dict[str, Any]]:
    """Every observation of a listing, oldest first: the import, when, and what it said."""
    query = (
        select(
            Listing.import_id,
            Import.source,
            Import.created_at.label("observed_at"),
            Listing.import_index,
            Listing.title,
            Listing.canonical_model,
            Listing.price,
            Listing.unit_price,
            Listing.currency,
            Listing.condition,
            Listing.quantity,
            Listing.seller,
            Listing.source_url,
            Listing.score,
        )
        .join(Import, Import.import_id == Listing.import_id)
        .where(Listing.listing_key == listing_key)
        .order_by(Import.created_at, Listing.import_index)
    )
    return fetch_all(engine, query)


@dataclass
class DeltaFilters:
    model: str | None = None
    region: str | None = None
    min_price_change_pct: float | None = None
    after: datetime | None = None
    delta_id: int | None = None


# Listing ids are 64-bit signed integers on both databases.
MAX_ROW_ID = 2**63 - 1


def price_deltas(engine: Engine, filters: DeltaFilters, limit: int = 100) -> list[dict[str, Any]]:
    """Price and score changes between consecutive observations of the same listing with a
    source URL (one per import: its first row), newest first; ``id`` is the later
    observation's listing id."""
    if filters.delta_id is not None and not 0 < filters.delta_id <= MAX_ROW_ID:
        return []  # no listing has such an id (and the driver could not bind it)
    rank = func.row_number().over(
        partition_by=(Listing.listing_key, Listing.import_id), order_by=Listing.import_index
    )
    firsts = (
        select(
            Listing.id,
            Listing.listing_key,
            Listing.canonical_model,
            Listing.region,
            Listing.source_url,
            Listing.price,
            Listing.currency,
            Listing.score,
            Import.created_at.label("seen_at"),
            rank.label("rank"),
        )
        .join(Import, Import.import_id == Listing.import_id)
        # As established: a delta needs a listing with a source URL (a scored DTO row or a
        # price-sheet row without one makes none, even where glyph follows it by its text).
        .where(Listing.listing_key.is_not(None), Listing.source_url.is_not(None))
        .subquery()
    )
    window = {"partition_by": firsts.c.listing_key, "order_by": (firsts.c.seen_at, firsts.c.id)}
    paired = (
        select(
            firsts,
            func.lag(firsts.c.id).over(**window).label("previous_id"),
            func.lag(firsts.c.price).over(**window).label("previous_price"),
            func.lag(firsts.c.currency).over(**window).label("previous_currency"),
            func.lag(firsts.c.score).over(**window).label("previous_score"),
            func.lag(firsts.c.seen_at).over(**window).label("previous_seen_at"),
        )
        .where(firsts.c.rank == 1)
        .subquery()
    )
    delta = paired.c.price - paired.c.previous_price
    pct = case((paired.c.previous_price == 0, 0.0), else_=100.0 * delta / paired.c.previous_price)
    query = (
        select(
            paired.c.id,
            paired.c.canonical_model.label("model"),
            delta.label("price_delta"),
            pct.label("price_delta_pct"),
            (
                func.coalesce(paired.c.score, 0.0) - func.coalesce(paired.c.previous_score, 0.0)
            ).label("score_delta"),
            paired.c.region,
            paired.c.source_url,
            paired.c.seen_at.label("timestamp"),
            paired.c.id.label("current_snapshot_id"),
            paired.c.previous_id.label("previous_snapshot_id"),
            paired.c.price.label("current_price"),
            paired.c.previous_price,
            paired.c.score.label("current_score"),
            paired.c.previous_score,
            paired.c.previous_seen_at,
            paired.c.currency,
        )
        .where(
            paired.c.previous_id.is_not(None),
            paired.c.price.is_not(None),
            paired.c.previous_price.is_not(None),
            paired.c.currency.is_not_distinct_from(paired.c.previous_currency),
        )
        .order_by(paired.c.seen_at.desc(), paired.c.id.desc())
        .limit(limit)
    )
    if filters.model:
        query = query.where(paired.c.canonical_model == filters.model)
    if filters.region:
        query = query.where(paired.c.region == filters.region)
    if filters.min_price_change_pct is not None:
        size = abs(filters.min_price_change_pct)
        query = query.where(or_(pct >= size, pct <= -size))
    if filters.after is not None:
        query = query.where(paired.c.seen_at >= filters.after)
    if filters.delta_id is not None:
        query = query.where(paired.c.id == filters.delta_id)
    return fetch_all(engine, query)


__all__ = [
    "CHANGES",
    "DeltaFilters",
    "DiffCounts",
    "diff_by_model",
    "diff_counts",
    "diff_page",
    "history",
    "previous_import",
    "price_deltas",
    "record_diff",
    "stored_diff",
]
