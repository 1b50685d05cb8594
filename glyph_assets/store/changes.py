"""Listings across imports: one listing's history, what changed between two imports, and the
price deltas between consecutive observations of the same listing.

A listing is followed by its ``listing_key`` (``sieve/listing_key.py``). Within one import the
first row of a key (lowest import_index) stands for it, so a key a file repeats is counted once.
Prices are compared within one currency: a listing whose currency changed is "repriced" but its
change is not computed (never a difference of two currencies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql import Select, Subquery

from glyph_assets.sieve.changes import (
    DIFF_INPUT_COLUMNS,
    RUN_COLUMNS,
    Comparison,
    compare_imports,
)
from glyph_assets.store import listing_rows, summaries
from glyph_assets.store.db import fetch_all, fetch_first, fetch_frame
from glyph_assets.store.listing_rows import of_import
from glyph_assets.store.models import Import, ImportDiff, ImportDiffRun, ImportSummary, Listing
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
            listing_rows.title_of_row(),
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
        for name in _SIDE_COLUMNS
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


# Listings per kind of change (``CHANGES``): new, gone, repriced, unchanged.
DiffCounts = dict[str, int]


def _count_rows(engine: Engine, import_id: str, against: str | None) -> Any:
    """The per-model counts from one pass over both imports (every listing compared)."""
    p = _paired(import_id, against)
    counts = [func.sum(case((when, 1), else_=0)).label(k) for k, when in _kinds(p).items()]
    model = func.coalesce(p.c.canonical_model, p.c.previous_canonical_model, literal("UNKNOWN"))
    query = select(*counts, model.label("model")).select_from(p).group_by(model)
    with engine.connect() as conn:
        return conn.execute(query).all()


def _counts(row: Any) -> dict[str, int]:
    return {k: int(getattr(row, k) or 0) for k in CHANGES}


def _computed_by_model(engine: Engine, import_id: str, against: str | None) -> list[dict[str, Any]]:
    models = [
        {"canonical_model": row.model, **_counts(row)}
        for row in _count_rows(engine, import_id, against)
    ]
    return sorted(
        models,
        key=lambda m: (-(m["new"] + m["gone"] + m["repriced"]), m["canonical_model"]),
    )


def _totals(models: list[dict[str, Any]]) -> DiffCounts:
    return {k: sum(m[k] for m in models) for k in CHANGES}


def _utc(value: datetime) -> datetime:
    """SQLite hands timestamps back naive (glyph stores UTC); PostgreSQL with their offset."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def recorded_by_model(
    engine: Engine, import_id: str, against: str | None
) -> list[dict[str, Any]] | None:
    """The per-model counts the listing_changes asset recorded for this pair (with the runs its
    pages are found by), when they still hold: recorded against ``against``, and after both
    imports' rows were last written (each write ends in ``finish_import``, which stamps
    ``import_summaries.computed_at``; a retry removes that row until it ends). None otherwise:
    the caller compares the rows."""
    recorded = select(ImportDiff.against_import_id, ImportDiff.by_model, ImportDiff.computed_at)
    sides = [i for i in (import_id, against) if i]
    stamps = select(ImportSummary.computed_at).where(ImportSummary.import_id.in_(sides))
    with engine.connect() as conn:
        row = conn.execute(recorded.where(ImportDiff.import_id == import_id)).first()
        if row is None or row.by_model is None or row.against_import_id != against:
            return None
        written = [_utc(r[0]) for r in conn.execute(stamps)]
    if len(written) != len(set(sides)) or max(written) > _utc(row.computed_at):
        return None
    return list(row.by_model)


def diff_by_model(engine: Engine, import_id: str, against: str | None) -> list[dict[str, Any]]:
    """The counts per canonical model (UNKNOWN for rows without one), most changes first: as
    recorded by the listing_changes asset when that record still holds, else compared now."""
    recorded = recorded_by_model(engine, import_id, against)
    if recorded is not None:
        return recorded
    return _computed_by_model(engine, import_id, against)


def diff_summary(
    engine: Engine, import_id: str, against: str | None
) -> tuple[DiffCounts, list[dict[str, Any]]]:
    """The counts and the per-model counts (the totals are the models' sums)."""
    models = diff_by_model(engine, import_id, against)
    return _totals(models), models


def diff_counts(engine: Engine, import_id: str, against: str | None) -> DiffCounts:
    """How many listings are new, gone, repriced and unchanged between ``against`` and
    ``import_id`` (``against`` None: every listing is new)."""
    return diff_summary(engine, import_id, against)[0]


# Each side's columns a page shows: this import's, and the other import's beside them.
_SIDE_COLUMNS = ("import_index", "canonical_model", "title", "price", "currency")


def _page_columns(key: Any, here: Any, there: Any) -> list[Any]:
    """The columns of a page's listing from this import's side (``here``) and the other's
    (``there``), each a mapping of ``_SIDE_COLUMNS`` names to columns (NULL where that import
    has no such listing); the price change only within one currency."""
    comparable = here["currency"].is_not_distinct_from(there["currency"])
    return [
        key.label("listing_key"),
        func.coalesce(here["canonical_model"], there["canonical_model"]).label("canonical_model"),
        func.coalesce(here["title"], there["title"]).label("title"),
        here["import_index"].label("import_index"),
        there["import_index"].label("previous_import_index"),
        here["price"].label("price"),
        there["price"].label("previous_price"),
        func.coalesce(here["currency"], there["currency"]).label("currency"),
        there["currency"].label("previous_currency"),
        case((comparable, here["price"] - there["price"]), else_=None).label("price_change"),
    ]


def _side(table: Any) -> dict[str, Any]:
    """``_SIDE_COLUMNS`` of one alias of ``listings`` (its title read from ``titles``)."""
    side = {name: table.c[name] for name in _SIDE_COLUMNS if name != "title"}
    side["title"] = listing_rows.title_of_row(table.c)
    return side


def _recorded_rows(
    import_id: str, against: str | None, change: str, positions: list[int]
) -> Select[Any]:
    """The listings at ``positions`` of the import that lists this kind (the other import for
    ``gone``), each beside the first row of its key in the other import, as a page shows them.

    That first row is found by a seek in ``ix_listings_key_import``: ``import_index + 0``
    orders the same, but without statistics (glyph runs no ANALYZE) SQLite would otherwise take
    (import_id, import_index), whose order saves it a sort, and read the whole import per row.
    """
    gone = change == "gone"
    this, other = import_id, against or ""
    walked_import, looked_import = (other, this) if gone else (this, other)
    table = Listing.__table__
    walked, match, found = (table.alias(n) for n in ("walked", "match", "found"))
    first_there = (
        select(match.c.id)
        .where(match.c.listing_key == walked.c.listing_key, of_import(looked_import, match.c))
        .order_by(match.c.import_index + 0)
        .limit(1)
        .scalar_subquery()
    )
    here, there = (_side(found), _side(walked)) if gone else (_side(walked), _side(found))
    return (
        select(*_page_columns(walked.c.listing_key, here, there))
        .select_from(walked.outerjoin(found, found.c.id == first_there))
        .where(of_import(walked_import, walked.c), walked.c.import_index.in_(positions))
        .order_by(walked.c.import_index)
    )


def _positions(
    conn: Connection,
    import_id: str,
    change: str,
    limit: int,
    offset: int,
    after_index: int | None,
    walked_import: str,
) -> list[int]:
    """The import_index of the page's rows, from the recorded runs of that kind (every row of
    the import inside a run is of its kind): the run the page starts in is found by
    ``members_before`` (or by ``last_index`` after a keyset), and only the rows of the runs the
    page covers are read, on the (import_id, import_index) index."""
    runs = ImportDiffRun.__table__.c
    of_kind = select(runs.first_index, runs.last_index, runs.members_before).where(
        runs.import_id == import_id, runs.change == change
    )
    rows_of = (
        select(Listing.import_index)
        .where(
            of_import(walked_import),
            Listing.import_index.between(bindparam("low"), bindparam("high")),
        )
        .order_by(Listing.import_index)
        .limit(bindparam("take"))
        .offset(bindparam("skip"))
    )
    low = None
    if after_index is not None:
        following = of_kind.where(runs.last_index > after_index).order_by(runs.last_index)
        start = conn.execute(following.limit(1)).first()
        if start is None:
            return []
        if start.first_index <= after_index:
            low = after_index + 1
            if offset:  # the page starts that many listings after the keyset: count its own
                offset += int(
                    conn.execute(
                        select(func.count())
                        .select_from(Listing)
                        .where(
                            of_import(walked_import),
                            Listing.import_index.between(start.first_index, after_index),
                        )
                    ).scalar_one()
                )
                low = None
        offset += start.members_before
    covering = of_kind.where(runs.members_before + runs.members > offset)
    found: list[int] = []
    for run in conn.execute(covering.order_by(runs.members_before).limit(limit)).all():
        if low is not None:  # the keyset's own run, entered after its row
            values = {"low": low, "skip": 0}
            low = None
        else:
            values = {"low": run.first_index, "skip": max(0, offset - run.members_before)}
        values.update(high=run.last_index, take=limit - len(found))
        found += [r[0] for r in conn.execute(rows_of, values)]
        if len(found) >= limit:
            break
    return found


def diff_page(
    engine: Engine,
    import_id: str,
    against: str | None,
    change: str,
    limit: int,
    offset: int,
    after_index: int | None = None,
    counts: DiffCounts | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The listings of one kind of change, with both prices and the change where comparable,
    and how many there are of that kind (``counts``: the caller's, else read or compared).

    Ordered by their row in the import that lists them (``previous_import_index`` for gone
    listings, else ``import_index``); ``after_index`` pages by keyset, after that row. The
    pair the listing_changes asset recorded is paged by its runs; any other is compared now.
    """
    if change not in CHANGES:
        raise ValueError(f"change must be one of {', '.join(CHANGES)}")
    recorded = recorded_by_model(engine, import_id, against)
    if recorded is None:
        window = DiffWindow(change, limit, offset, after_index)
        rows, total = _compared_page(engine, import_id, against, window)
    else:
        walked_import = (against or "") if change == "gone" else import_id
        with engine.connect() as conn:
            positions = _positions(
                conn, import_id, change, limit, offset, after_index, walked_import
            )
            query = _recorded_rows(import_id, against, change, positions)
            rows = [dict(r._mapping) for r in conn.execute(query)] if positions else []
        total = _totals(recorded)[change]
    if counts is not None:
        total = counts[change]
    for row in rows:
        before, change_abs = row["previous_price"], row["price_change"]
        row["price_change_pct"] = (
            round(100.0 * change_abs / before, 4) if change_abs is not None and before else None
        )
    return rows, total


@dataclass(frozen=True)
class DiffWindow:
    """Which listings of a diff a page holds: one kind of change, then the page (by offset, or
    by keyset after a row)."""

    change: str
    limit: int
    offset: int
    after_index: int | None = None


def _compared_page(
    engine: Engine, import_id: str, against: str | None, window: DiffWindow
) -> tuple[list[dict[str, Any]], int]:
    """A page of a pair nobody recorded: both imports compared for it (one sort of both)."""
    change, limit, offset, after_index = (
        window.change,
        window.limit,
        window.offset,
        window.after_index,
    )
    p = _paired(import_id, against)
    where = _kinds(p)[change]
    order = p.c.previous_import_index if change == "gone" else p.c.import_index
    if after_index is not None:
        where = and_(where, order > after_index)
    previous = {name: p.c[f"previous_{name}"] for name in _SIDE_COLUMNS}
    query = (
        select(
            *_page_columns(p.c.key, p.c, previous),
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
    return rows, total


def _rows_of(conn: Connection, import_id: str | None) -> pd.DataFrame:
    """The columns the comparison needs, of every row of one import (none for None)."""
    columns = [Listing.__table__.c[name] for name in DIFF_INPUT_COLUMNS]
    query = select(*columns).where(of_import(import_id or ""))
    return fetch_frame(conn, query, DIFF_INPUT_COLUMNS, _DIFF_TYPES)


_DIFF_TYPES: dict[str, Any] = {
    "import_index": "int64",
    "listing_key": "string[pyarrow]",
    "canonical_model": "string[pyarrow]",
    "price": "float64",
    "currency": "string[pyarrow]",
}


def _key_counts(conn: Connection, import_id: str) -> tuple[int, int]:
    """(rows with a listing_key, rows without one) of an import: what the diff reports as
    unkeyed, and whether there is anything to compare at all (a 100,000-row import of scored
    rows without keys was read whole only to compare nothing). The import's stored figures
    hold them once it has ended (``summaries.record_figures``, one primary-key lookup);
    otherwise, one pass over its rows."""
    stored = summaries.stored_key_counts(conn, import_id)
    if stored is not None:
        return stored
    listings, keyed = conn.execute(
        select(func.count(), func.count(Listing.listing_key)).where(of_import(import_id))
    ).one()
    return int(keyed or 0), int(listings or 0) - int(keyed or 0)


def _has_keys(conn: Connection, import_id: str) -> bool:
    """Whether any row of the import has a listing_key (from its stored figures if it has
    them: otherwise a keyless import's rows are all read to find none)."""
    stored = summaries.stored_key_counts(conn, import_id)
    if stored is not None:
        return stored[0] > 0
    keyed = select(Listing.id).where(of_import(import_id), Listing.listing_key.is_not(None))
    return conn.execute(select(keyed.exists())).scalar_one()


def record_diff(engine: Engine, import_id: str, against: str | None) -> dict[str, Any]:
    """Compare the import with ``against`` (the listing_changes asset) and keep the counts,
    the per-model counts and the runs its pages are found by: the API then reads them instead
    of comparing the two imports again."""
    with engine.connect() as conn:
        keyed, unkeyed = _key_counts(conn, import_id)
        against_keyed = against is not None and _has_keys(conn, against)
        if keyed or against_keyed:
            # A side without any keyed row pairs with nothing and makes no run, so it is not
            # read (its rows would all be unkeyed): 100,000 scored rows without URL or title
            # after an import with keys took 0.5 s to read for nothing here.
            found = compare_imports(
                _rows_of(conn, import_id if keyed else None),
                _rows_of(conn, against if against_keyed else None),
            )
        else:  # already-scored rows without URL or title: no listing to follow on either side
            found = Comparison(by_model=[], runs=pd.DataFrame(columns=RUN_COLUMNS))
    counts = found.totals()
    runs = [
        {"import_id": import_id, **{k: (v if k == "change" else int(v)) for k, v in run.items()}}
        for run in found.runs.to_dict("records")
    ]
    with engine.begin() as conn:
        conn.execute(delete(ImportDiffRun).where(ImportDiffRun.import_id == import_id))
        conn.execute(delete(ImportDiff).where(ImportDiff.import_id == import_id))
        values = {
            "import_id": import_id,
            "against_import_id": against,
            "new_listings": counts["new"],
            "gone_listings": counts["gone"],
            "repriced_listings": counts["repriced"],
            "unchanged_listings": counts["unchanged"],
            "unkeyed_listings": unkeyed,
            "by_model": found.by_model,
            "computed_at": utcnow(),
        }
        conn.execute(insert(ImportDiff).values(**values))
        if runs:
            conn.execute(insert(ImportDiffRun), runs)
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
            listing_rows.title_of_row(),
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
    "recorded_by_model",
    "stored_diff",
]
