"""A listing as every reader sees it, from the lean tables it is stored in (migration 0012).

``listings`` keeps what is the row's own: its import as the integer ``import_key``, a
``spec_set`` reference to the specs and spec-decided score components it shares with every
listing of the same model (``spec_sets``), a ``title_id`` reference to its title, kept once
in ``titles`` (migration 0015), and ``unit_price`` only where a lot makes it differ from
``price``. The readers (pages, summaries, market, audit, changes) ask for a listing's columns
by their public names here and get the expression that gives each one back: ``import_id``
from ``imports``, ``title`` from ``titles``, the specs from ``spec_sets``, ``unit_price`` as
``coalesce(unit_price, price)``. An import is found by its ``import_id`` with
:func:`of_import`, which the database resolves once (an indexed lookup) before it seeks the
listing indexes on ``import_key``.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, FromClause, func, select
from sqlalchemy.sql import ColumnElement, visitors

from glyph_assets.sieve.columns import (
    CLEAN_COLUMNS,
    CLIENT_COLUMNS,
    KEY_COLUMNS,
    MATCH_COLUMNS,
    SCORE_COLUMNS,
    SPEC_COLUMNS,
)
from glyph_assets.store.models import Import, Listing, RowError, SpecSet, Title

# The columns a spec set holds, in the order a listing showed them (the registry's specs, then
# the three score components that only the specs decide).
SPEC_SET_KEYS: tuple[str, ...] = tuple(
    c.name for c in SpecSet.__table__.columns if c.name != "spec_id"
)

# Every column a listing page (and the CSV export) shows, in the order the API has always
# given them (the order of the listings table before migration 0012: the match columns, then
# the listing key, then the alternatives, which came later).
LISTING_KEYS: tuple[str, ...] = (
    "import_id",
    *CLEAN_COLUMNS,
    *(c for c in MATCH_COLUMNS if c != "match_alternatives"),
    *KEY_COLUMNS,
    "match_alternatives",
    *SPEC_COLUMNS,
    *SCORE_COLUMNS,
    *CLIENT_COLUMNS,
)

_JOINED = Listing.__table__.outerjoin(
    SpecSet.__table__, SpecSet.__table__.c.spec_id == Listing.__table__.c.spec_set
)


def import_id_of_row(table: Any = Listing) -> ColumnElement[Any]:
    """A row's ``import_id``: one lookup in the unique index of ``imports.import_key`` per row
    returned (a page's rows, not the rows its filter reads)."""
    return (
        select(Import.import_id)
        .where(Import.import_key == table.import_key)
        .scalar_subquery()
        .label("import_id")
    )


def title_of_row(table: Any = Listing) -> ColumnElement[Any]:
    """A row's ``title``, kept once in ``titles`` (migration 0015): one primary-key lookup
    per row returned."""
    return (
        select(Title.text).where(Title.title_id == table.title_id).scalar_subquery().label("title")
    )


def column(name: str, joined: bool = False) -> ColumnElement[Any]:
    """The expression giving a listing's column ``name`` (a public name of ``LISTING_KEYS``
    or ``id``), labelled with that name. Spec columns need :data:`LISTINGS` in the FROM;
    ``joined``: the FROM is :data:`WITH_IMPORTS`, which gives ``import_id`` by its join (for
    reads of whole imports) rather than by a lookup per row returned (for pages)."""
    if name == "import_id":
        return Import.import_id.label("import_id") if joined else import_id_of_row()
    if name == "title":
        return title_of_row()
    if name == "unit_price":
        return func.coalesce(Listing.unit_price, Listing.price).label("unit_price")
    if name in SPEC_SET_KEYS:
        return SpecSet.__table__.c[name].label(name)
    return Listing.__table__.c[name].label(name)


def columns(names: Iterable[str], joined: bool = False) -> list[ColumnElement[Any]]:
    return [column(name, joined) for name in names]


# listings with their spec sets: the FROM of any read that shows or filters on a spec column
# (a LEFT JOIN on a primary key, which the databases drop where no spec column is used).
LISTINGS: FromClause = _JOINED
# ... and with their imports, for reads that select or filter whole imports by import_id.
WITH_IMPORTS: FromClause = _JOINED.join(
    Import.__table__, Import.__table__.c.import_key == Listing.__table__.c.import_key
)


def listings_for(*elements: Any) -> FromClause:
    """The FROM a listing read needs: :data:`LISTINGS` when ``elements`` (its columns and
    clauses) use a spec column, else ``listings`` alone. SQLite keeps an unused LEFT JOIN: a
    count over the rows of a filter would look up every row's spec set for nothing."""
    specs = SpecSet.__table__
    used = any(
        getattr(node, "table", None) is specs
        for element in elements
        for node in visitors.iterate(element)
    )
    return LISTINGS if used else Listing.__table__


# --- pages: a listing's own columns from the page's statement, its spec set from here -------

# What a page selects: every public column but the spec set's, then the row's spec_set. Its
# rows are chosen and ordered on the listings indexes alone: a join in the statement let
# PostgreSQL, before it had statistics of a new import, hash-join and sort the whole import.
OWN_KEYS: tuple[str, ...] = tuple(k for k in LISTING_KEYS if k not in SPEC_SET_KEYS)
_NO_SPECS: tuple[None, ...] = (None,) * len(SPEC_SET_KEYS)


def _runs() -> list[tuple[bool, int, int]]:
    """LISTING_KEYS as runs of (from the spec set?, start, end) over each source's columns."""
    runs: list[tuple[bool, int, int]] = []
    at = {False: 0, True: 0}
    for name in LISTING_KEYS:
        spec = name in SPEC_SET_KEYS
        if runs and runs[-1][0] == spec:
            runs[-1] = (spec, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((spec, at[spec], at[spec] + 1))
        at[spec] += 1
    return runs


_RUNS = _runs()


def page_columns() -> list[ColumnElement[Any]]:
    """The select list of a page: ``OWN_KEYS`` then ``spec_set`` (see :func:`whole_rows`)."""
    return [*columns(OWN_KEYS), Listing.spec_set.label("spec_set")]


# spec_id -> the spec set's values (typed as SQLAlchemy reads them), per engine. A spec set is
# never changed or deleted once written, so each is read once per process.
_SPEC_SETS: weakref.WeakKeyDictionary[Engine, dict[int, tuple[Any, ...]]] = (
    weakref.WeakKeyDictionary()
)


def spec_sets(engine: Engine, wanted: Iterable[int | None]) -> dict[int, tuple[Any, ...]]:
    """The spec sets of ``wanted`` ids (and every other one known): the table is read again
    only when an id is new to this process."""
    known = _SPEC_SETS.setdefault(engine, {})
    if any(spec_id is not None and spec_id not in known for spec_id in wanted):
        with engine.connect() as conn:
            for spec_id, *values in conn.execute(select(SpecSet.__table__)):
                known[spec_id] = tuple(values)
    return known


def whole_rows(engine: Engine, rows: Iterable[Any]) -> list[tuple[Any, ...]]:
    """Rows of :func:`page_columns` as tuples of every ``LISTING_KEYS`` column."""
    rows = [tuple(row) for row in rows]
    specs = spec_sets(engine, (row[-1] for row in rows))
    whole = []
    for row in rows:
        spec = _NO_SPECS if row[-1] is None else specs[row[-1]]
        parts = [(spec if from_spec else row)[start:end] for from_spec, start, end in _RUNS]
        whole.append(tuple(value for part in parts for value in part))
    return whole


def of_import(import_id: Any, table: Any = Listing) -> ColumnElement[bool]:
    """``table``'s rows of the import ``import_id`` (a value or a bind parameter): the key is
    looked up once, then the (import_key, ...) indexes are sought with it."""
    key = select(Import.import_key).where(Import.import_id == import_id).scalar_subquery()
    return table.import_key == key


def of_errors(import_id: Any) -> ColumnElement[bool]:
    """The import's row errors (see :func:`of_import`)."""
    return of_import(import_id, RowError)


__all__ = [
    "LISTINGS",
    "LISTING_KEYS",
    "OWN_KEYS",
    "SPEC_SET_KEYS",
    "WITH_IMPORTS",
    "column",
    "columns",
    "import_id_of_row",
    "listings_for",
    "of_errors",
    "of_import",
    "page_columns",
    "spec_sets",
    "title_of_row",
    "whole_rows",
]
