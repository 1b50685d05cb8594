"""An import's figures: counts, score range, first and last model, top models, and its price
points per model (``model_price_points``, what a model's price chart reads).

Computed once, when the import ends (:func:`record_figures`, called by
``repository.finish_import``), and kept in ``import_summaries``: the summary every client polls
then reads one row by its primary key instead of aggregating the import's listings again. An
import that ended before that table existed gets its row on the first read
(:func:`import_figures`); one whose rows are being replaced (a retry) has none until it ends.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from glyph_assets.sieve.market import price_points
from glyph_assets.store.db import fetch_frame
from glyph_assets.store.listing_rows import of_errors, of_import
from glyph_assets.store.models import Import, ImportSummary, Listing, ModelPricePoint, RowError

TOP_MODELS = 10
# The price of one card: unit_price (price / the lot it buys) where a lot makes it differ from
# the price, else the price (migration 0012 stores no copy of it; rows from before 0007 neither).
CARD_PRICE = func.coalesce(Listing.unit_price, Listing.price)


def _values(listings: pd.DataFrame, column: str) -> pd.Series:
    """A column of written listings; one the chunk lacks is all NULL, as the store holds it."""
    if column not in listings:
        return pd.Series(None, index=listings.index, dtype=object)
    return listings[column]


def _numbers(listings: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column of written listings as the store holds it."""
    return pd.to_numeric(_values(listings, column), errors="coerce").astype("float64")


def _present(listings: pd.DataFrame, column: str) -> pd.Series:
    """Where a column of written listings holds a value (what ``IS NOT NULL`` finds)."""
    return _values(listings, column).notna()


def _low(values: pd.Series) -> float | None:
    return None if values.isna().all() else float(values.min())


def _high(values: pd.Series) -> float | None:
    return None if values.isna().all() else float(values.max())


def _least(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _most(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


@dataclass(frozen=True)
class Figure:
    """One figure of an import's listings, in its two forms: ``sql``, the aggregate over the
    stored rows; ``of_frame``, the same figure of a chunk of listings as the writer stores them,
    and ``combine``, how two chunks' values add up. ``test_import_summaries`` holds the two
    forms to the same results (the mean to float rounding: the database and pandas add the
    scores up in different orders)."""

    sql: Any
    of_frame: Callable[[pd.DataFrame], Any]
    combine: Callable[[Any, Any], Any]
    counted: bool = False


def _count_of(condition: Callable[[pd.DataFrame], pd.Series]) -> Callable[[pd.DataFrame], int]:
    return lambda listings: int(condition(listings).sum())


def _is_false(listings: pd.DataFrame, column: str) -> pd.Series:
    return _values(listings, column).isin([False])


def _equals(listings: pd.DataFrame, column: str, value: str) -> pd.Series:
    return (_values(listings, column) == value).fillna(False).astype(bool)


def _rows_where(sql: Any, frame: Callable[[pd.DataFrame], pd.Series]) -> Figure:
    """How many listings meet a condition, written in SQL and on a frame."""
    return Figure(func.sum(case((sql, 1), else_=0)), _count_of(frame), operator.add, True)


def _rows_with(column: str, frame: Callable[[pd.DataFrame], pd.Series]) -> Figure:
    """How many listings have a value in ``column`` (SQL's ``count(column)``)."""
    return Figure(func.count(Listing.__table__.c[column]), _count_of(frame), operator.add, True)


def _lowest(column: str) -> Figure:
    sql = func.min(Listing.__table__.c[column])
    return Figure(sql, lambda f: _low(_numbers(f, column)), _least)


def _highest(column: str) -> Figure:
    sql = func.max(Listing.__table__.c[column])
    return Figure(sql, lambda f: _high(_numbers(f, column)), _most)


# Each figure of an import's listings, defined once (the error count is a second statement, on
# row_errors). A not-a-GPU row is one with ``is_gpu`` false (its reject_reason says which kind,
# ``not_gpu:<kind>``). ``score_mean`` adds up chunks as a sum, divided by ``scored_rows`` at the
# end (``WrittenFigures.figures``).
_LISTING_FIGURES: dict[str, Figure] = {
    "persisted_rows": Figure(func.count(), len, operator.add, counted=True),
    "not_gpu_rows": _rows_where(Listing.is_gpu.is_(False), lambda f: _is_false(f, "is_gpu")),
    "unknown_model_rows": _rows_where(
        Listing.reject_reason == "unknown_model",
        lambda f: _equals(f, "reject_reason", "unknown_model"),
    ),
    "score_min": _lowest("score"),
    "score_max": _highest("score"),
    "score_mean": Figure(
        func.avg(Listing.score), lambda f: float(_numbers(f, "score").sum()), operator.add
    ),
    "warning_rows": _rows_where(Listing.warnings.is_not(None), lambda f: _present(f, "warnings")),
    "client_score_min": _lowest("client_score"),
    "client_score_max": _highest("client_score"),
    "scored_rows": _rows_with("score", lambda f: _numbers(f, "score").notna()),
    "price_min": _lowest("price"),
    "price_max": _highest("price"),
    "keyed_rows": _rows_with("listing_key", lambda f: _present(f, "listing_key")),
}
_COUNTED = frozenset(name for name, figure in _LISTING_FIGURES.items() if figure.counted)
ROW_FIGURES = ("error_rows", *_LISTING_FIGURES)


def row_figures(conn: Connection, import_id: str, names: Iterable[str]) -> dict[str, Any]:
    """The named figures of an import's rows, from one pass over its listings (only the
    figures asked for: a bare count reads the index alone) and one count of its row errors."""
    wanted = [name for name in names if name != "error_rows"]
    row = conn.execute(
        select(*[_LISTING_FIGURES[name].sql for name in wanted]).where(of_import(import_id))
    ).one()
    errors = conn.execute(
        select(func.count()).select_from(RowError).where(of_errors(import_id))
    ).scalar_one()
    figures: dict[str, Any] = {"error_rows": int(errors or 0)}
    for name, value in zip(wanted, row, strict=True):
        if name in _COUNTED:
            value = int(value or 0)
        elif name == "score_mean" and value is not None:
            value = float(value)
        figures[name] = value
    return figures


def edge_models(conn: Connection, import_id: str) -> tuple[str | None, str | None]:
    """canonical_model of an import's first and last persisted row (by import_index); a row
    without a model counts as ``UNKNOWN``, as established glyphd clients expect."""

    def model_at(order: Any) -> str | None:
        query = select(Listing.canonical_model).where(of_import(import_id)).order_by(order).limit(1)
        row = conn.execute(query).first()
        return None if row is None else (row[0] or "UNKNOWN")

    return model_at(Listing.import_index.asc()), model_at(Listing.import_index.desc())


def top_models(conn: Connection, import_id: str, limit: int = TOP_MODELS) -> list[dict[str, Any]]:
    """The import's most listed models, with the lowest and highest price of one card."""
    query = (
        select(
            Listing.canonical_model,
            func.count().label("listings"),
            func.min(CARD_PRICE).label("min_price"),
            func.max(CARD_PRICE).label("max_price"),
        )
        .where(of_import(import_id), Listing.canonical_model.is_not(None))
        .group_by(Listing.canonical_model)
    )
    return ranked_models((dict(row._mapping) for row in conn.execute(query)), limit)


def ranked_models(models: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The most listed models first, at most ``limit``; ties in code-point order of the id,
    here rather than in SQL: PostgreSQL's collation (en_US, where ``_`` and case hardly count)
    would order ``A100X`` and ``A100_PCIE_40GB`` otherwise than SQLite and the written figures
    (``WrittenFigures``), which must agree."""
    return sorted(models, key=lambda m: (-m["listings"], m["canonical_model"]))[:limit]


def compute_figures(conn: Connection, import_id: str) -> dict[str, Any]:
    """Every figure of the summary, from the import's rows as they are now."""
    figures = row_figures(conn, import_id, ROW_FIGURES)
    figures["first_model"], figures["last_model"] = edge_models(conn, import_id)
    figures["top_models"] = top_models(conn, import_id)
    return figures


# What the price points read of an import: the columns ``sieve.market.market_rows`` decides by.
_POINT_INPUT = {
    "import_index": "int64",
    "canonical_model": "string[pyarrow]",
    "currency": "string[pyarrow]",
    "price": "float64",
    "unit_price": "float64",
    "is_gpu": "bool",  # only true rows are read
}


POINT_INPUT_COLUMNS = list(_POINT_INPUT)


def point_input(listings: pd.DataFrame) -> pd.DataFrame:
    """The listings of a frame that ``price_point_rows`` reads, as its query selects them from
    the store: GPU rows with a model and a currency, ``POINT_INPUT_COLUMNS``."""
    gpu = listings["is_gpu"] if "is_gpu" in listings else pd.Series(None, index=listings.index)
    read = gpu.isin([True])
    for column in ("canonical_model", "currency"):
        read &= listings[column].notna() if column in listings else False
    return listings.loc[read].reindex(columns=POINT_INPUT_COLUMNS)


def _card_prices(listings: pd.DataFrame) -> pd.Series:
    """``CARD_PRICE`` of written listings: the stored unit_price, else the price."""
    return _numbers(listings, "unit_price").fillna(_numbers(listings, "price"))


def _model_of(value: Any) -> str:
    """A row's model as ``edge_models`` names it: ``UNKNOWN`` for a row without one."""
    return value if isinstance(value, str) and value else "UNKNOWN"


@dataclass
class WrittenFigures:
    """The figures of an import's listings added up chunk by chunk while the writer stores them
    (``repository.write_import_rows``), so that the end of the import stores its summary
    (:func:`record_figures`) without aggregating its rows again: for 100,000 rows the queries of
    :func:`compute_figures` took 0.27-0.30 s of the warehouse step here; storing these figures
    and the price points now takes 0.04 s, and adding them up does not show in the write.

    Holds a value per figure and per model, and (``with_points``) each chunk's price-point
    input (``point_input``), which the price points need whole."""

    with_points: bool = True
    error_rows: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    models: dict[str, list[Any]] = field(default_factory=dict)
    first: tuple[float, str] | None = None
    last: tuple[float, str] | None = None
    points: list[pd.DataFrame] = field(default_factory=list)

    def add(self, listings: pd.DataFrame, error_rows: int = 0) -> None:
        """One chunk: its listings as they are stored, and how many row errors it had."""
        self.error_rows += error_rows
        if listings.empty:
            return
        for name, figure in _LISTING_FIGURES.items():
            value = figure.of_frame(listings)
            known = self.values.get(name)
            self.values[name] = value if name not in self.values else figure.combine(known, value)
        self._add_models(listings)
        self._add_edges(listings)
        if self.with_points:
            self.points.append(point_input(listings))

    def _add_models(self, listings: pd.DataFrame) -> None:
        if "canonical_model" not in listings:
            return
        named = listings["canonical_model"].notna().to_numpy()
        if not named.any():
            return
        models = listings["canonical_model"][named].astype(str)
        grouped = _card_prices(listings)[named].groupby(models.to_numpy(), sort=False)
        table = grouped.agg(["size", "min", "max"])
        for model, size, low, high in zip(
            table.index, table["size"], table["min"], table["max"], strict=True
        ):
            low, high = (None if v != v else float(v) for v in (low, high))
            known = self.models.get(model)
            if known is None:
                self.models[model] = [int(size), low, high]
            else:
                known[:] = [known[0] + int(size), _least(known[1], low), _most(known[2], high)]

    def _add_edges(self, listings: pd.DataFrame) -> None:
        index = pd.to_numeric(listings["import_index"], errors="coerce").to_numpy(dtype="float64")
        models = listings.get("canonical_model")

        def edge(at: int) -> tuple[float, str]:
            return float(index[at]), _model_of(None if models is None else models.iloc[at])

        first, last = edge(int(np.nanargmin(index))), edge(int(np.nanargmax(index)))
        if self.first is None or first[0] < self.first[0]:
            self.first = first
        if self.last is None or last[0] > self.last[0]:
            self.last = last

    def counts(self) -> dict[str, int]:
        """The row counts an import's record carries (``repository.COUNT_KEYS``)."""
        figures = self.figures(top=0)
        return {name: figures[name] for name in COUNT_FIGURES}

    def figures(self, top: int = TOP_MODELS) -> dict[str, Any]:
        """Every figure of the summary, as :func:`compute_figures` gives them from the rows."""
        figures: dict[str, Any] = {"error_rows": self.error_rows}
        for name, figure in _LISTING_FIGURES.items():
            value = self.values.get(name)
            figures[name] = int(value or 0) if figure.counted else value
        scored = figures["scored_rows"]
        figures["score_mean"] = figures["score_mean"] / scored if scored else None
        figures["first_model"] = self.first[1] if self.first else None
        figures["last_model"] = self.last[1] if self.last else None
        figures["top_models"] = ranked_models(
            (
                {"canonical_model": model, "listings": n, "min_price": low, "max_price": high}
                for model, (n, low, high) in self.models.items()
            ),
            top,
        )
        return figures

    def point_inputs(self) -> pd.DataFrame | None:
        """The price points' input of every chunk in one frame, the chunks let go (None when
        none was kept: ``price_point_rows`` then reads the rows)."""
        if not self.points:
            return None
        frame = pd.concat(self.points, ignore_index=True)
        self.points.clear()
        return frame


# The counts an import's record carries (``imports.*_rows``), as a finished run leaves them.
COUNT_FIGURES = ("persisted_rows", "error_rows", "not_gpu_rows", "unknown_model_rows")


def price_point_rows(
    conn: Connection, import_id: str, written: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """The import's price points (``sieve.market.price_points``: per model and currency, the
    p10 / median / p90 card price) as ``model_price_points`` rows.

    ``written``: the listings the writer has just stored, as ``point_input`` gives them (the
    ingest run has them in hand; reading 100,000 of them back cost 0.5 s here). Otherwise
    only GPU rows with a model and a currency are read, in batches (``db.fetch_frame``), in one
    query: read one model at a time, a 100,000-row import with 214 models took 7.1 s here (a
    query and a grouping per model) against 0.5 s, and its peak memory did not move."""
    if written is None:
        query = select(*(Listing.__table__.c[name] for name in POINT_INPUT_COLUMNS)).where(
            of_import(import_id),
            Listing.is_gpu.is_(True),
            Listing.canonical_model.is_not(None),
            Listing.currency.is_not(None),
        )
        written = fetch_frame(conn, query, POINT_INPUT_COLUMNS, _POINT_INPUT)
    points = price_points(written)
    return [{"import_id": import_id, **p} for p in points.astype(object).to_dict("records")]


def _store(conn: Connection, import_id: str, figures: Mapping[str, Any], points: list) -> None:
    """The summary row and its price points (a summary deleted takes its points along); read
    before, so a SQLite writer holds its lock for these inserts only."""
    conn.execute(insert(ImportSummary), [_row_of(import_id, figures)])
    if points:
        conn.execute(insert(ModelPricePoint), points)


def _stored(conn: Connection, import_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(ImportSummary.__table__).where(ImportSummary.import_id == import_id)
    ).first()
    return dict(row._mapping) if row else None


def _row_of(import_id: str, figures: Mapping[str, Any]) -> dict[str, Any]:
    columns = ImportSummary.__table__.columns.keys()
    values = {name: figures[name] for name in columns if name in figures}
    return {**values, "import_id": import_id, "computed_at": datetime.now(UTC)}


def record_figures(
    engine: Engine, import_id: str, written: WrittenFigures | None = None
) -> dict[str, Any]:
    """Store the import's figures (replacing earlier ones), in one transaction: the summary of
    an ended import is read from here from now on. ``written``: the figures its writer added up
    while storing its rows (the rows it has now); otherwise they are computed from the rows.

    A reader that found the import ended but no row yet may store the same figures between
    this DELETE and INSERT (PostgreSQL); the transaction is then run again.
    """
    known = written.figures() if written is not None else None
    inputs = written.point_inputs() if written is not None else None
    attempts = 3
    while True:
        attempts -= 1
        try:
            with engine.begin() as conn:
                figures = known if known is not None else compute_figures(conn, import_id)
                points = price_point_rows(conn, import_id, inputs)
                conn.execute(delete(ImportSummary).where(ImportSummary.import_id == import_id))
                _store(conn, import_id, figures, points)
            return figures
        except IntegrityError:
            if not attempts:
                raise


def stored_key_counts(conn: Connection, import_id: str) -> tuple[int, int] | None:
    """(rows with a listing_key, rows without one) as the import's stored figures hold them;
    None when it has no stored figures or they predate ``keyed_rows`` (migration 0016)."""
    row = conn.execute(
        select(ImportSummary.keyed_rows, ImportSummary.persisted_rows).where(
            ImportSummary.import_id == import_id
        )
    ).first()
    if row is None or row.keyed_rows is None:
        return None
    return int(row.keyed_rows), int(row.persisted_rows) - int(row.keyed_rows)


def forget_figures(conn: Connection, import_id: str) -> None:
    """The import's rows are about to change (a retry, a replacement): its figures go too."""
    conn.execute(delete(ImportSummary).where(ImportSummary.import_id == import_id))


def import_figures(engine: Engine, import_id: str, ended: bool) -> dict[str, Any]:
    """The summary's figures: the stored row when there is one (one primary-key lookup).

    Without one they are computed from the rows; for an import that has ended (``ended``: it
    was finished before ``import_summaries`` existed) they are stored as well, so this happens
    once. An import still running is computed each time and stored by ``finish_import``.
    """
    with engine.connect() as conn:
        stored = _stored(conn, import_id)
        if stored is not None:
            return stored
        figures = compute_figures(conn, import_id)
        points = price_point_rows(conn, import_id) if ended else []
    if ended:
        try:
            with engine.begin() as conn:
                _store(conn, import_id, figures, points)
        except IntegrityError:
            pass  # another reader (or finish_import) stored it first: the same figures
    return figures


def fill_missing(engine: Engine, statuses: Iterable[str]) -> int:
    """Give every import of ``statuses`` that has no stored figures its figures (an import
    that ended before ``import_summaries``, or before migration 0013 cleared it to add the
    price points): readers of stored figures then find every import's. How many were added."""
    table = Import.__table__
    with engine.connect() as conn:
        missing = conn.execute(
            select(table.c.import_id)
            .outerjoin(ImportSummary, ImportSummary.import_id == table.c.import_id)
            .where(ImportSummary.import_id.is_(None), table.c.status.in_(list(statuses)))
        ).all()
    for (import_id,) in missing:
        import_figures(engine, import_id, ended=True)
    return len(missing)


__all__ = [
    "CARD_PRICE",
    "COUNT_FIGURES",
    "Figure",
    "WrittenFigures",
    "POINT_INPUT_COLUMNS",
    "ROW_FIGURES",
    "TOP_MODELS",
    "compute_figures",
    "edge_models",
    "fill_missing",
    "forget_figures",
    "import_figures",
    "record_figures",
    "point_input",
    "ranked_models",
    "price_point_rows",
    "row_figures",
    "stored_key_counts",
    "top_models",
]
