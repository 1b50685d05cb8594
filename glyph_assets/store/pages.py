"""The pages the API lists: imports, an import's row errors, listings (filtered, sorted, paged).

SQLAlchemy Core on the shared models, portable between SQLite and PostgreSQL. The listing page
has two ways to run, both built by :func:`listing_page_query` so they cannot drift apart: the
general one through SQLAlchemy, and the API's hottest read (an unfiltered page of one import),
compiled once per database and sort and run on the driver's own cursor.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Dialect,
    Engine,
    Select,
    and_,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy.exc import DBAPIError

from glyph_assets.store import listing_rows
from glyph_assets.store.listing_rows import listings_for, of_errors, of_import
from glyph_assets.store.models import Import, ImportRun, Listing, RowError, SpecSet
from glyph_assets.store.status import PERSISTED_STATUSES

LISTING_SORTS = {
    "import_index": Listing.import_index,
    "score": Listing.score,
    "price": Listing.price,
    "unit_price": listing_rows.column("unit_price"),
    "canonical_model": Listing.canonical_model,
    "match_score": Listing.match_score,
    "vram_gb": SpecSet.vram_gb,
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


class BadQuery(ValueError):
    """A filter the database cannot apply as given (the client's mistake, answered 422)."""


class BadSort(BadQuery):
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
    quantized: bool | None = None  # MIG-capable: mig_instances > 0

    def clauses(self) -> list[Any]:
        out: list[Any] = []
        if self.import_id:
            out.append(of_import(self.import_id))
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
        if self.quantized is not None:
            capable = func.coalesce(SpecSet.mig_instances, 0) > 0
            out.append(capable if self.quantized else ~capable)
        if self.reject_reason:
            if self.reject_reason == "not_gpu":  # every not_gpu:<kind> reason
                out.append(Listing.reject_reason.like("not_gpu%"))
            else:
                out.append(Listing.reject_reason == self.reject_reason)
        return out


def order_by(sort: str, allowed: dict[str, Any], tiebreak: list[Any]) -> list[Any]:
    """``score`` / ``-score`` (descending) -> ORDER BY, NULLs last, then a stable tiebreak.

    ``NULLS LAST`` (SQLite >= 3.30, PostgreSQL) rather than a ``col IS NULL`` term, so that an
    index can serve the order: ``(import_id, import_index)`` the default page of an import and
    ``(import_id, score DESC, import_index)`` its best-first page. Columns that cannot be NULL
    get no NULLS clause at all. A tiebreak column already sorted on is not repeated.
    """
    columns: list[Any] = []
    used: set[str] = set()
    for part in [p.strip() for p in sort.split(",") if p.strip()]:
        descending = part.startswith("-")
        name = part.lstrip("-+")
        if name not in allowed:
            raise BadSort(f"cannot sort by {name!r}; choose from {', '.join(sorted(allowed))}")
        if name in used:
            continue
        used.add(name)
        column = allowed[name]
        ordered = column.desc() if descending else column.asc()
        columns.append(ordered.nulls_last() if getattr(column, "nullable", True) else ordered)
    keys = {str(c.key) for c in (allowed[n] for n in used)}
    return columns + [c for c in tiebreak if str(c.key) not in keys]


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
    try:
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-01:00
        raise BadQuery(f"{value.isoformat()} is out of the range of dates") from exc
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


@dataclass(frozen=True)
class PageWindow:
    """Which page of a list to answer: its order (one of the list's sorts), then the page."""

    sort: str
    limit: int = 50
    offset: int = 0


NEWEST_IMPORTS = PageWindow("-created_at")
FIRST_ERRORS = PageWindow("import_index")


def list_imports(
    engine: Engine,
    *,
    statuses: list[str] | None = None,
    source: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    window: PageWindow = NEWEST_IMPORTS,
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
        .order_by(*order_by(window.sort, IMPORT_SORTS, [table.c.import_id]))
    )
    count = select(func.count()).select_from(table).where(where)
    return _page(engine, query, count, window.limit, window.offset)


def list_errors(
    engine: Engine,
    import_id: str,
    *,
    stage: str | None = None,
    field: str | None = None,
    window: PageWindow = FIRST_ERRORS,
) -> tuple[list[dict[str, Any]], int]:
    clauses = [of_errors(import_id)]
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
        .order_by(*order_by(window.sort, ERROR_SORTS, [RowError.import_index]))
    )
    count = select(func.count()).select_from(RowError).where(*clauses)
    return _page(engine, query, count, window.limit, window.offset)


@dataclass(frozen=True)
class ListingWindow:
    """Which part of a listing list to answer: its order, then the page (by offset, or by
    keyset after an ``import_index``)."""

    sort: str = "import_index"
    limit: int = 50
    offset: int = 0
    after_index: int | None = None


@dataclass(frozen=True)
class ListingPage:
    """A page of listings and how many match: ``total`` exactly when ``exact``, else at least
    that many (the count stopped there, see ``list_listings``)."""

    items: list[dict[str, Any]]
    total: int
    exact: bool = True


def list_listings(
    engine: Engine,
    filters: ListingFilters,
    window: ListingWindow = ListingWindow(),
    count_beyond: int | None = None,
) -> ListingPage:
    """A page of listings under ``filters`` and their count. With ``count_beyond`` the count
    stops ``count_beyond`` matches past the page's end: across ten 1,000,000-row imports a
    filter as broad as a vendor matches millions of rows, and counting them all cost 80 times
    the page itself (SQLite) and more than 1,000 times (PostgreSQL). The total is then exact
    when fewer rows matched, else a lower bound that still says a next page exists."""
    with engine.connect() as conn:
        known = _known_total(conn, filters)
        items = _listing_items(conn, filters, window)
        if known is not None:
            return ListingPage(items, known)
        bound = None if count_beyond is None else window.offset + window.limit + count_beyond
        counted = _count_listings(conn, filters.clauses(), bound)
        return ListingPage(items, counted, exact=bound is None or counted < bound)


def import_listing_page(
    engine: Engine, filters: ListingFilters, window: ListingWindow = ListingWindow()
) -> tuple[list[dict[str, Any]], int] | None:
    """One import's page on one connection: the import looked up (None when there is none),
    its total, its rows. The hot read of the API, so one pool checkout instead of three."""
    assert filters.import_id, "an import's page needs its import_id"
    if _unfiltered(filters):
        return _plain_import_page(engine, filters.import_id, window)
    with engine.connect() as conn:
        if _import_progress(conn, filters.import_id) is None:
            return None
        return _listing_page(conn, filters, window)


@dataclass(frozen=True)
class DriverStatement:
    """A statement compiled once per database and run on the driver's own cursor: for the
    API's hottest read, SQLAlchemy's per-execution work (cache key, result metadata for 40
    columns) cost as much as SQLite fetching the rows. Driver errors are raised as SQLAlchemy's
    own (an unreachable database is a 503 here as on every other read)."""

    sql: str
    names: tuple[str, ...]
    positional: bool
    dialect: Dialect

    @classmethod
    def of(cls, query: Any, dialect: Dialect) -> DriverStatement:
        compiled = query.compile(dialect=dialect)
        # SQLite's "?" takes a tuple in this order; psycopg's "%(name)s" a mapping of names.
        if compiled.positional:
            return cls(str(compiled), tuple(compiled.positiontup or ()), True, dialect)
        return cls(str(compiled), tuple(compiled.params), False, dialect)

    def run(self, cursor: Any, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        params: Any = (
            tuple(values[n] for n in self.names)
            if self.positional
            else {n: values[n] for n in self.names}
        )
        with driver_errors(self.dialect, self.sql, params):
            cursor.execute(self.sql, params)
            return cursor.fetchall()


@contextlib.contextmanager
def driver_errors(dialect: Dialect, sql: str | None = None, params: Any = None) -> Iterator[None]:
    """The driver's exceptions as SQLAlchemy's (``sqlite3.OperationalError`` becomes
    ``sqlalchemy.exc.OperationalError``), as if the statement had gone through the engine."""
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, params, exc, dbapi_error, dialect=dialect) from exc


def _plain_import_page(
    engine: Engine, import_id: str, window: ListingWindow
) -> tuple[list[dict[str, Any]], int] | None:
    sort, after_index = window.sort.strip(), window.after_index
    values = {
        "import_id": import_id,
        "after_index": after_index,
        "limit": window.limit,
        "offset": window.offset,
    }
    with driver_errors(engine.dialect):
        connection = engine.raw_connection()  # a pooled DBAPI connection, returned on close
    try:
        cursor = connection.cursor()
        try:
            progress = _progress_statement(engine.dialect).run(cursor, values)
            if not progress:
                return None  # 404 before any complaint about the query
            _check_keyset(import_id, sort, after_index)
            statements = _plain_page_statements(engine.dialect, sort, after_index is not None)
            status, persisted_rows = progress[0]
            total = _finished_total(status, persisted_rows)
            if total is None:  # rows still being written: count what is there
                total = int(statements.count.run(cursor, values)[0][0])
            rows = statements.page.run(cursor, values)
        finally:
            cursor.close()
    finally:
        connection.close()
    return [_plain_listing(row) for row in listing_rows.whole_rows(engine, rows)], total


# Every listing column a page (and the CSV export) returns (the surrogate id is internal); a
# page's statement selects _PAGE_COLUMNS, listing_rows.whole_rows adds the spec set's.
LISTING_KEYS = listing_rows.LISTING_KEYS
_PAGE_COLUMNS = tuple(listing_rows.page_columns())
_BOOLEAN_KEYS = tuple(
    c.name for c in listing_rows.columns(LISTING_KEYS) if isinstance(c.type, Boolean)
)


def _plain_listing(row: Any) -> dict[str, Any]:
    item = dict(zip(LISTING_KEYS, row, strict=True))
    for key in _BOOLEAN_KEYS:  # SQLite hands booleans back as 0 / 1
        if item[key] is not None:
            item[key] = bool(item[key])
    return item


@dataclass(frozen=True)
class _PlainPageStatements:
    count: DriverStatement
    page: DriverStatement


# The import's status and persisted_rows (no row: no such import), on either read path.
_IMPORT_PROGRESS = select(Import.status, Import.persisted_rows).where(
    Import.import_id == bindparam("import_id")
)


@functools.lru_cache(maxsize=8)
def _progress_statement(dialect: Dialect) -> DriverStatement:
    return DriverStatement.of(_IMPORT_PROGRESS, dialect)


@functools.lru_cache(maxsize=64)
def _plain_page_statements(dialect: Dialect, sort: str, keyset: bool) -> _PlainPageStatements:
    """An unfiltered page of one import compiled once per (database, sort, keyset)."""
    mine = [of_import(bindparam("import_id"))]
    return _PlainPageStatements(
        count=DriverStatement.of(listing_count_query(mine), dialect),
        page=DriverStatement.of(listing_page_query(mine, sort, True, keyset), dialect),
    )


def listing_page_query(clauses: list[Any], sort: str, one_import: bool, keyset: bool) -> Select:
    """The listing page, for both of its read paths: the columns, the filter, the order with a
    stable tiebreak and, for a keyset page, ``import_index > :after_index``; ``:limit`` and
    ``:offset`` are parameters, so one compiled statement serves every page."""
    # One import's rows: the import is fixed, so import_index alone is the stable tiebreak;
    # across imports, the import's key (its order of creation), as the indexes hold them.
    tiebreak = [Listing.import_index] if one_import else [Listing.import_key, Listing.import_index]
    order = order_by(sort, LISTING_SORTS, tiebreak)
    query = select(*_PAGE_COLUMNS).select_from(listings_for(*clauses, *order)).where(*clauses)
    query = query.order_by(*order)
    if keyset:
        # Keyset: the index (import_id, import_index) seeks straight to the page.
        query = query.where(Listing.import_index > bindparam("after_index"))
    return query.limit(bindparam("limit")).offset(bindparam("offset"))


def listing_count_query(clauses: list[Any]) -> Select:
    """How many listings the page's filter matches."""
    return select(func.count()).select_from(listings_for(*clauses)).where(*clauses)


def _check_keyset(import_id: str | None, sort: str, after_index: int | None) -> None:
    if after_index is None:
        return
    if not import_id or sort.strip() not in ("import_index", "+import_index"):
        raise BadQuery("after_index pages one import in import_index order: sort=import_index")


def _listing_page(
    conn: Connection, filters: ListingFilters, window: ListingWindow
) -> tuple[list[dict[str, Any]], int]:
    """The page's rows, and the count of every matching row."""
    return _listing_items(conn, filters, window), _count_listings(conn, filters.clauses())


def _listing_items(
    conn: Connection, filters: ListingFilters, window: ListingWindow
) -> list[dict[str, Any]]:
    clauses = filters.clauses()
    after_index = window.after_index
    keyset = after_index is not None
    query = listing_page_query(clauses, window.sort, bool(filters.import_id), keyset)
    _check_keyset(filters.import_id, window.sort, after_index)
    values = {"limit": window.limit, "offset": window.offset}
    if keyset:
        values["after_index"] = after_index
    rows = listing_rows.whole_rows(conn.engine, conn.execute(query, values).all())
    # zip over plain tuples: Row._mapping costs more than the query itself on a page of 100
    return [dict(zip(LISTING_KEYS, row, strict=True)) for row in rows]


def _count_listings(conn: Connection, clauses: list[Any], at_most: int | None = None) -> int:
    """How many listings match, or with ``at_most``, how many up to ``at_most``."""
    if at_most is None:
        return int(conn.execute(listing_count_query(clauses)).scalar_one())
    return int(conn.execute(bounded_count_query(clauses), {"at_most": at_most}).scalar_one())


def bounded_count_query(clauses: list[Any]) -> Select:
    """How many listings the filter matches, up to ``:at_most``: the database stops at the
    ``at_most``-th match in whatever order its plan reads them. In no particular order on
    purpose: in the page's order, a sort no index holds (``-price``) made the database sort
    every match first (0.25 s on PostgreSQL and 0.7 s on SQLite over ten 200,000-row imports,
    against 8 ms and 0.4 ms). PostgreSQL reads a vendor's matches by its index once it knows
    how many there are (migration 0014); without that it read all of them into a bitmap."""
    first = (
        select(literal(1).label("one"))
        .select_from(listings_for(*clauses))
        .where(*clauses)
        .limit(bindparam("at_most"))
        .subquery()
    )
    return select(func.count()).select_from(first)


def _import_progress(conn: Connection, import_id: str) -> Any:
    """The import's status and persisted_rows, None when there is no such import."""
    return conn.execute(_IMPORT_PROGRESS, {"import_id": import_id}).first()


def _unfiltered(filters: ListingFilters) -> bool:
    """Only the import itself is asked for: no other filter narrows its rows."""
    return bool(filters.import_id) and not any(
        value is not None
        for name, value in vars(filters).items()
        if name != "import_id" and value not in ([], "")
    )


def _finished_total(status: str | None, persisted_rows: int | None) -> int | None:
    if status not in PERSISTED_STATUSES or persisted_rows is None:
        return None
    return int(persisted_rows)


def _known_total(conn: Connection, filters: ListingFilters) -> int | None:
    """An unfiltered page of one finished import counts its rows from ``imports.persisted_rows``
    (written in the same run that wrote the rows) instead of COUNT(*) over all of them."""
    if not _unfiltered(filters):
        return None
    row = _import_progress(conn, filters.import_id)
    return None if row is None else _finished_total(row.status, row.persisted_rows)


def listing_batches(engine: Engine, import_id: str, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """Every listing of an import in import_index order (the columns of ``LISTING_KEYS``), as
    lists of at most ``batch`` rows; the last list is shorter than ``batch`` (maybe empty).

    Keyset pages (``import_index > last``) on the (import_id, import_index) index: memory stays
    at one batch and every page costs the same however deep the reader is.
    """
    query = (
        select(*_PAGE_COLUMNS)
        .where(of_import(import_id), Listing.import_index > bindparam("after"))
        .order_by(Listing.import_index)
        .limit(batch)
    )
    position = LISTING_KEYS.index("import_index")
    last = -1
    while True:
        with engine.connect() as conn:
            rows = listing_rows.whole_rows(engine, conn.execute(query, {"after": last}).all())
        yield rows
        if len(rows) < batch:
            return
        last = rows[-1][position]


__all__ = [
    "ERROR_SORTS",
    "IMPORT_SORTS",
    "LISTING_SORTS",
    "BadQuery",
    "BadSort",
    "LISTING_KEYS",
    "ListingFilters",
    "ListingPage",
    "bounded_count_query",
    "ListingWindow",
    "import_listing_page",
    "list_errors",
    "list_imports",
    "list_listings",
    "listing_batches",
    "listing_page_query",
    "order_by",
]
