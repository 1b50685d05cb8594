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

from sqlalchemy import Engine, and_, case, delete, func, insert, literal, or_, select, union_all
from sqlalchemy.sql import Select, Subquery

from glyph_assets.store import listing_rows
from glyph_assets.store.db import fetch_all, fetch_first
from glyph_assets.store.listing_rows import of_import
from glyph_assets.store.models import Import, ImportDiff, Listing
from glyph_assets.store.repository import utcnow
from glyph_assets.store.status import PERSISTED_STATUSES

CHANGES = ("new", "gone", "repriced", "unchanged")


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


def _firsts(import_id: str, side: int) -> Select[Any]:
    """One row per listing_key of one import: its first (lowest import_index), tagged with
    ``side`` (1: the import looked at, 0: the one it is compared with)."""
    rank = func.row_number().over(partition_by=Listing.listing_key, order_by=Listing.import_index)
    inner = (
        select(
            Listing.listing_key.label("key"),
            literal(side).label("side"),
            Listing.import_index,
            Listing.canonical_model,
            Listing.title,
            Listing.price,
            Listing.currency,
            rank.label("rank"),
        )
        .where(of_import(import_id), Listing.listing_key.is_not(None))
        .subquery()
    )
    return select(*(c for c in inner.c if c.name != "rank")).where(inner.c.rank == 1)


def _paired(import_id: str, against: str | None) -> Subquery:
    """One row per listing_key of either import, both sides side by side (a side's columns are
    NULL where the import has no such listing).

    Both imports' first rows are stacked and grouped by key: one sort of the two imports' rows
    on every database. A join of the two keyed sets instead became a nested loop on SQLite (it
    builds no index on a window's result): minutes for two 100,000-row imports.
    """
    both = union_all(_firsts(import_id, 1), _firsts(against or "", 0)).subquery()

    def side(name: str, which: int) -> Any:
        return func.max(case((both.c.side == which, both.c[name]), else_=None))

    columns = [
        side(name, which).label(f"previous_{name}" if which == 0 else name)
        for name in ("import_index", "canonical_model", "title", "price", "currency")
        for which in (1, 0)
    ]
    return select(both.c.key, *columns).group_by(both.c.key).subquery()


def _kinds(p: Subquery) -> dict[str, Any]:
    """Which listings are new, gone, repriced and unchanged (the keys of ``CHANGES``)."""
    here, there = p.c.import_index.is_not(None), p.c.previous_import_index.is_not(None)
    changed = or_(
        p.c.price.is_distinct_from(p.c.previous_price),
        p.c.currency.is_distinct_from(p.c.previous_currency),
    )
    return {
        "new": ~there,
        "gone": ~here,
        "repriced": and_(here, there, changed),
        "unchanged": and_(here, there, ~changed),
    }


@dataclass
class DiffCounts:
    new: int = 0
    gone: int = 0
    repriced: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {c: getattr(self, c) for c in CHANGES}


def _count_rows(engine: Engine, import_id: str, against: str | None, by_model: bool) -> Any:
    p = _paired(import_id, against)
    counts = [func.sum(case((when, 1), else_=0)).label(k) for k, when in _kinds(p).items()]
    query = select(*counts).select_from(p)
    if by_model:
        model = func.coalesce(p.c.canonical_model, p.c.previous_canonical_model, literal("UNKNOWN"))
        query = query.add_columns(model.label("model")).group_by(model)
    with engine.connect() as conn:
        return conn.execute(query).all()


def _counts(row: Any) -> dict[str, int]:
    return {k: int(getattr(row, k) or 0) for k in CHANGES}


def diff_counts(engine: Engine, import_id: str, against: str | None) -> DiffCounts:
    """How many listings are new, gone, repriced and unchanged between ``against`` and
    ``import_id`` (``against`` None: every listing is new)."""
    return DiffCounts(**_counts(_count_rows(engine, import_id, against, by_model=False)[0]))


def diff_by_model(engine: Engine, import_id: str, against: str | None) -> list[dict[str, Any]]:
    """The same counts per canonical model (UNKNOWN for rows without one), most changes first."""
    models = [
        {"canonical_model": row.model, **_counts(row)}
        for row in _count_rows(engine, import_id, against, by_model=True)
    ]
    return sorted(
        models,
        key=lambda m: (-(m["new"] + m["gone"] + m["repriced"]), m["canonical_model"]),
    )


def diff_summary(
    engine: Engine, import_id: str, against: str | None
) -> tuple[DiffCounts, list[dict[str, Any]]]:
    """The counts and the per-model counts from one pass (the totals are the models' sums)."""
    models = diff_by_model(engine, import_id, against)
    totals = DiffCounts(**{k: sum(m[k] for m in models) for k in CHANGES})
    return totals, models


def diff_page(
    engine: Engine, import_id: str, against: str | None, change: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The listings of one kind of change, with both prices and the change where comparable,
    and how many there are of that kind."""
    if change not in CHANGES:
        raise ValueError(f"change must be one of {', '.join(CHANGES)}")
    p = _paired(import_id, against)
    where = _kinds(p)[change]
    order = p.c.previous_import_index if change == "gone" else p.c.import_index
    comparable = p.c.currency.is_not_distinct_from(p.c.previous_currency)
    query = (
        select(
            p.c.key.label("listing_key"),
            func.coalesce(p.c.canonical_model, p.c.previous_canonical_model).label(
                "canonical_model"
            ),
            func.coalesce(p.c.title, p.c.previous_title).label("title"),
            p.c.import_index,
            p.c.previous_import_index,
            p.c.price,
            p.c.previous_price,
            func.coalesce(p.c.currency, p.c.previous_currency).label("currency"),
            p.c.previous_currency,
            case((comparable, p.c.price - p.c.previous_price), else_=None).label("price_change"),
            # the page and its total in one pass (a count after the last page is asked below)
            func.count().over().label("total"),
        )
        .where(where)
        .order_by(order, p.c.key)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.limit(limit).offset(offset))]
        if rows:
            total = int(rows[0]["total"])
        else:
            total = int(conn.execute(select(func.count()).select_from(p).where(where)).scalar_one())
    for row in rows:
        del row["total"]
        before, change_abs = row["previous_price"], row["price_change"]
        row["price_change_pct"] = (
            round(100.0 * change_abs / before, 4) if change_abs is not None and before else None
        )
    return rows, total


def record_diff(engine: Engine, import_id: str, against: str | None) -> dict[str, Any]:
    """Compute and keep the import's diff against ``against`` (the listing_changes asset)."""
    counts = diff_counts(engine, import_id, against)
    unkeyed_query = select(func.count()).where(of_import(import_id), Listing.listing_key.is_(None))
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
            Import.import_id,
            Import.source,
            Import.created_at.label("observed_at"),
            Listing.import_index,
            Listing.title,
            Listing.canonical_model,
            Listing.price,
            listing_rows.column("unit_price"),
            Listing.currency,
            Listing.condition,
            Listing.quantity,
            Listing.seller,
            Listing.source_url,
            Listing.score,
        )
        .join(Import, Import.import_key == Listing.import_key)
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
        partition_by=(Listing.listing_key, Listing.import_key), order_by=Listing.import_index
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
        .join(Import, Import.import_key == Listing.import_key)
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
    "diff_summary",
    "history",
    "previous_import",
    "price_deltas",
    "record_diff",
    "stored_diff",
]
