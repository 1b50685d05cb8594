"""Reads and writes of imports, runs, listings and row errors, and how an import ends.

An import's record and its runs, the bulk write of its rows, the counts of those rows (one set
of figures, ``summaries.row_figures``) and :func:`finish_import`, the one place an import gets
its final status and its stored figures.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Integer, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from glyph_assets.contract import MAX_ERROR_CHARS
from glyph_assets.sieve.columns import ERROR_OUTPUT_COLUMNS, ERROR_OUTPUT_NAMES, LISTING_COLUMNS
from glyph_assets.store import summaries
from glyph_assets.store.db import fetch_all, fetch_first
from glyph_assets.store.listing_rows import SPEC_SET_KEYS, of_errors, of_import
from glyph_assets.store.models import (
    Base,
    Import,
    ImportRun,
    Listing,
    RowError,
    SpecSet,
    Title,
    title_digest,
)
from glyph_assets.store.status import PERSISTED_STATUSES, TERMINAL_STATUSES, ImportStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


# Serializes the choice of the next import_key on PostgreSQL (SQLite's write lock already
# does); any constant works, as long as every process uses the same one.
_IMPORT_KEY_LOCK = 0x67_6C_79_6B_79  # "glyky"


def create_import(engine: Engine, **fields: Any) -> Import:
    """Record a new import. Its ``import_key`` (the key of its rows in the per-row tables) is
    the next integer, chosen inside the INSERT itself, so imports get them in creation order."""
    now = utcnow()
    fields.setdefault("status", ImportStatus.QUEUED)
    record = Import(created_at=now, updated_at=now, **fields)
    values = {k: v for k, v in _columns_of(record).items() if k != "import_key"}
    following = select(func.coalesce(func.max(Import.import_key), 0) + 1).scalar_subquery()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_IMPORT_KEY_LOCK)))
        record.import_key = conn.execute(
            Import.__table__.insert()
            .values(**values, import_key=following)
            .returning(Import.import_key)
        ).scalar_one()
    return record


def _columns_of(record: Import) -> dict[str, Any]:
    return {c.name: getattr(record, c.key) for c in Import.__table__.columns}


def get_import(engine: Engine, import_id: str) -> dict[str, Any] | None:
    return fetch_first(engine, select(Import.__table__).where(Import.import_id == import_id))


def find_import(engine: Engine, **filters: Any) -> dict[str, Any] | None:
    """The newest import matching every given column (e.g. sha256=..., idempotency_key=...)."""
    table = Import.__table__
    query = select(table).order_by(table.c.created_at.desc()).limit(1)
    for name, value in filters.items():
        query = query.where(table.c[name] == value)
    return fetch_first(engine, query)


def set_import_status(
    engine: Engine, import_id: str, status: str, error_message: str | None = None, **extra: Any
) -> None:
    now = utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now, **extra}
    if error_message is not None or status in PERSISTED_STATUSES:
        values["error_message"] = error_message
    if status == ImportStatus.RUNNING:
        values.setdefault("started_at", now)
    if status in TERMINAL_STATUSES:
        values.setdefault("finished_at", now)
    with engine.begin() as conn:
        conn.execute(update(Import).where(Import.import_id == import_id).values(**values))


def record_score_scale(
    engine: Engine, import_id: str, scale: str, warning: str | None = None
) -> None:
    """The scale a scored import's client scores were read on, with its warning if any (the
    one import-level warning of this kind: a re-run replaces it rather than adding another)."""
    with engine.begin() as conn:
        conn.execute(
            update(Import)
            .where(Import.import_id == import_id)
            .values(score_scale=scale, warnings=[warning] if warning else None)
        )


def reopen_import(engine: Engine, import_id: str) -> None:
    """A retry puts a failed or canceled import back in the queue, its old error and figures
    cleared (the retry's end records new ones)."""
    with engine.begin() as conn:
        summaries.forget_figures(conn, import_id)
        conn.execute(
            update(Import)
            .where(Import.import_id == import_id)
            .values(
                status=ImportStatus.QUEUED,
                error_message=None,
                finished_at=None,
                updated_at=utcnow(),
            )
        )


def latest_run(engine: Engine, import_id: str) -> dict[str, Any] | None:
    """The import's newest attempt (highest attempt number), if any run was recorded."""
    return fetch_first(
        engine,
        select(ImportRun.__table__)
        .where(ImportRun.import_id == import_id)
        .order_by(ImportRun.attempt.desc())
        .limit(1),
    )


@dataclass(frozen=True)
class RunFacts:
    """What Dagster says of a run beyond its status, kept in ``import_runs`` once known: the
    run it re-executes (a retry's parent), and when it started and ended."""

    parent_run_id: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @classmethod
    def of(cls, parent_run_id: str | None, start: float | None, end: float | None) -> RunFacts:
        """From Dagster's form: epoch seconds (None or 0 for not yet)."""
        return cls(
            parent_run_id,
            datetime.fromtimestamp(start, tz=UTC) if start else None,
            datetime.fromtimestamp(end, tz=UTC) if end else None,
        )

    def values(self) -> dict[str, Any]:
        """The known facts as ``import_runs`` columns (an unknown one is not written)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def missing_from(self, run: Mapping[str, Any]) -> bool:
        """Does the stored ``run`` lack one of these facts?"""
        return any(run.get(k) is None for k in self.values())


def add_run(
    engine: Engine,
    import_id: str,
    run_id: str,
    status: str = "QUEUED",
    facts: RunFacts | None = None,
) -> int:
    """Record a Dagster run of an import; returns its attempt number (1 for the first run).

    Idempotent per run: the API that launched a run and the run itself (or a sensor) may record
    it at the same moment; the one that loses the unique run_id gets the winner's attempt, and
    its ``facts`` fill in what the winner did not know (``keep_run_facts``).
    """
    facts = facts or RunFacts()
    try:
        attempt, inserted = _insert_run(engine, import_id, run_id, status, facts)
    except IntegrityError:
        with engine.connect() as conn:
            existing = conn.execute(
                select(ImportRun.attempt).where(ImportRun.run_id == run_id)
            ).scalar_one_or_none()
        if existing is None:
            raise
        attempt, inserted = int(existing), False
    if not inserted:
        keep_run_facts(engine, run_id, facts)
    return attempt


def _insert_run(
    engine: Engine, import_id: str, run_id: str, status: str, facts: RunFacts
) -> tuple[int, bool]:
    """The run's attempt, and whether this call recorded it (False: it was already)."""
    now = utcnow()
    with engine.begin() as conn:
        existing = conn.execute(
            select(ImportRun.attempt).where(ImportRun.run_id == run_id)
        ).scalar_one_or_none()
        if existing is not None:
            return existing, False
        attempt = (
            conn.execute(
                select(func.max(ImportRun.attempt)).where(ImportRun.import_id == import_id)
            ).scalar_one_or_none()
            or 0
        ) + 1
        conn.execute(
            ImportRun.__table__.insert().values(
                import_id=import_id,
                run_id=run_id,
                attempt=attempt,
                status=status,
                created_at=now,
                updated_at=now,
                **facts.values(),
            )
        )
    return attempt, True


def set_run_status(engine: Engine, run_id: str, status: str, facts: RunFacts | None = None) -> None:
    """The run's status, and whatever ``facts`` are known (the others are left as stored)."""
    with engine.begin() as conn:
        conn.execute(
            update(ImportRun)
            .where(ImportRun.run_id == run_id)
            .values(status=status, updated_at=utcnow(), **(facts or RunFacts()).values())
        )


def keep_run_facts(engine: Engine, run_id: str, facts: RunFacts) -> None:
    """Fill in the run's facts that are still missing, and nothing else: its status is left as
    it is (a cancel recorded meanwhile stays recorded)."""
    values = {
        name: func.coalesce(getattr(ImportRun, name), value)
        for name, value in facts.values().items()
    }
    if values:
        with engine.begin() as conn:
            conn.execute(update(ImportRun).where(ImportRun.run_id == run_id).values(**values))


def runs_of(engine: Engine, import_id: str) -> list[dict[str, Any]]:
    return fetch_all(
        engine,
        select(ImportRun.__table__)
        .where(ImportRun.import_id == import_id)
        .order_by(ImportRun.attempt),
    )


def imports_without_runs(
    engine: Engine, status: str, created_before: datetime
) -> list[dict[str, Any]]:
    """Imports in ``status`` created before ``created_before`` with no run recorded: whose
    launch stalled (``launch_recovery``), oldest first."""
    return fetch_all(
        engine,
        select(Import.__table__)
        .where(
            Import.status == status,
            Import.created_at < created_before,
            ~select(ImportRun.run_id).where(ImportRun.import_id == Import.import_id).exists(),
        )
        .order_by(Import.created_at),
    )


def import_of_run(engine: Engine, run_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(ImportRun.import_id).where(ImportRun.run_id == run_id)
        ).scalar_one_or_none()


_INTEGER_COLUMNS = frozenset(
    column.name
    for table in (Listing.__table__, RowError.__table__)
    for column in table.columns
    if isinstance(column.type, Integer)
)


def _integral(values: pd.Series) -> pd.Series:
    """Floats bound for an INTEGER column as integers: PostgreSQL refuses "4.0" for an integer,
    SQLite quietly converts it, and both must store the same row."""
    if values.dtype.kind == "f":
        return values.round().astype("Int64")
    if values.dtype == object:
        return values.map(lambda v: round(v) if isinstance(v, float) and v == v else v)
    return values


def _typed(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    subset = frame.reindex(columns=columns)
    for name in _INTEGER_COLUMNS.intersection(columns):
        subset[name] = _integral(subset[name])
    return subset


def _records(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """Rows as tuples of Python values (None for missing), built column-wise by Arrow: about
    six times faster than ``astype(object)`` + ``itertuples``; that path stays as the fallback
    for a column of mixed types Arrow cannot hold."""
    import pyarrow as pa

    typed = _typed(frame, columns)
    try:
        table = pa.Table.from_pandas(typed, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        subset = typed.astype(object)
        subset = subset.where(subset.notna(), None)
        return list(subset.itertuples(index=False, name=None))
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def _csv_payload(frame: pd.DataFrame, columns: list[str]) -> bytes | None:
    """The rows as COPY CSV, built by Arrow's C++ writer (several times faster than a row loop).

    Every value is quoted and NULL is the unquoted empty field, so empty strings, quotes,
    newlines and a lone ``\\.`` survive. None when a column mixes types Arrow cannot hold.
    """
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    try:
        table = pa.Table.from_pandas(_typed(frame, columns), preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    sink = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
    pa_csv.write_csv(table, sink, options)
    return sink.getvalue()


def _bulk_insert(conn: Connection, table: str, columns: list[str], frame: pd.DataFrame) -> None:
    """The database's fast path: COPY on PostgreSQL (psycopg 3), executemany elsewhere.

    COPY runs on the driver connection beneath ``conn``, so it belongs to the same transaction
    as the DELETE that precedes it: a failure rolls both back and the import keeps its old rows.
    """
    if frame.empty:
        return
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        from psycopg import sql

        target = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        payload = _csv_payload(frame, columns)
        with raw.cursor() as cursor:
            if payload is not None:
                with cursor.copy(target + sql.SQL(" (FORMAT csv)")) as copy:
                    copy.write(payload)
            else:
                with cursor.copy(target) as copy:
                    for row in _records(frame, columns):
                        copy.write_row(row)
        return
    rows = _records(frame, columns)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        cursor = raw.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        finally:
            cursor.close()
        return
    conn.execute(
        Base.metadata.tables[table].insert(),
        [dict(zip(columns, row, strict=True)) for row in rows],
    )


@contextlib.contextmanager
def sqlite_writer_turn(engine: Engine, timeout_s: float = 3600.0) -> Iterator[None]:
    """Queue bulk writers of one SQLite file behind a file lock.

    SQLite has one writer at a time and its busy timeout (30 s) is shorter than a large import's
    transaction, so concurrent imports would fail with "database is locked". Each waits its turn
    here instead. Other databases need no turn.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    deadline = time.monotonic() + timeout_s
    with open(f"{database}.writer.lock", "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"waited {timeout_s:.0f} s for the SQLite writer turn"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# The columns a listing is written with: its own, its import's key and its spec set.
STORED_LISTING_COLUMNS = [
    "import_key",
    *("title_id" if c == "title" else c for c in LISTING_COLUMNS if c not in SPEC_SET_KEYS),
    "spec_set",
]
STORED_ERROR_COLUMNS = ["import_key", *ERROR_OUTPUT_COLUMNS]


class UnknownImport(LookupError):
    """Rows were written for an import that is not recorded."""


def replace_import_rows(
    engine: Engine,
    import_id: str,
    chunks: Iterable[pd.DataFrame],
    written: summaries.WrittenFigures | None = None,
) -> dict[str, int]:
    """Write an import's listings and row errors in one transaction, replacing any earlier ones.

    Each chunk carries the scored columns plus error columns; rows with ``error_stage`` set go to
    ``row_errors``, all others to ``listings``. Re-running replaces, never duplicates. A listing
    is stored lean (migration 0012): its import as ``import_key``, its specs and spec-decided
    score components as a reference to their ``spec_sets`` row, ``unit_price`` only where it
    differs from ``price``; ``store.listing_rows`` reads every column back as it was given.

    ``written``, when given, adds up the figures of what is stored (and the price points'
    input), for :func:`finish_import` to store instead of aggregating the import's rows again.
    Returns the row counts (``COUNT_KEYS``).
    """
    with sqlite_writer_turn(engine), bulk_writer(engine) as writer:
        return write_import_rows(writer, import_id, chunks, written)


def write_import_rows(
    writer: BulkWriter,
    import_id: str,
    chunks: Iterable[pd.DataFrame],
    written: summaries.WrittenFigures | None = None,
) -> dict[str, int]:
    """The body of :func:`replace_import_rows` on a writer's open transaction: the import's
    earlier rows deleted, each chunk's listings and row errors inserted; returns the counts."""
    figures = written if written is not None else summaries.WrittenFigures(with_points=False)
    key = writer.import_key(import_id)
    if key is None:
        raise UnknownImport(f"no import {import_id} is recorded")
    writer.delete_import(import_id, key)
    catalog = SpecCatalog(writer)
    titles = TitleCatalog(writer)
    for chunk in chunks:
        failed = chunk["error_stage"].notna()
        # most chunks have no row error: taking every row of every column would copy the chunk
        good = chunk.loc[~failed] if failed.any() else chunk
        bad = chunk.loc[failed].rename(columns=ERROR_OUTPUT_NAMES).assign(import_key=key)
        listings = lean_listings(good, key, catalog, titles)
        writer.insert("listings", STORED_LISTING_COLUMNS, listings)
        writer.insert("row_errors", STORED_ERROR_COLUMNS, bad)
        figures.add(listings, error_rows=len(bad))
    return figures.counts()


def lean_listings(
    good: pd.DataFrame, key: int, catalog: SpecCatalog, titles: TitleCatalog
) -> pd.DataFrame:
    """Listings as stored: ``import_key``, ``spec_set`` and ``title_id`` added, ``unit_price``
    dropped where it is the price itself (read back as ``coalesce(unit_price, price)``)."""
    price = pd.to_numeric(good["price"], errors="coerce") if "price" in good else None
    unit = good.get("unit_price")
    title = good["title"] if "title" in good else pd.Series(None, index=good.index, dtype=object)
    out = good.assign(import_key=key, spec_set=catalog.ids(good), title_id=titles.ids(title))
    if unit is not None and price is not None:
        same = (pd.to_numeric(unit, errors="coerce") == price).to_numpy()
        out["unit_price"] = unit.mask(same)
    return out


def _spec_value(kind: type, value: Any) -> Any:
    """A spec set's value as both databases give it back: None for missing, else of the
    column's Python type (SQLite returns booleans as 0 / 1, drivers integral floats as ints)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if kind is bool:
        return bool(value)
    if kind is int:
        return int(round(float(value)))
    if kind is float:
        return float(value)
    return str(value)


_SPEC_KINDS: tuple[type, ...] = tuple(
    SpecSet.__table__.c[name].type.python_type for name in SPEC_SET_KEYS
)


def spec_tuple(values: Iterable[Any]) -> tuple[Any, ...]:
    """One spec set as a comparable tuple of the columns of ``SPEC_SET_KEYS``."""
    return tuple(_spec_value(kind, v) for kind, v in zip(_SPEC_KINDS, values, strict=True))


class SpecCatalog:
    """The spec sets of the database, read once per write, with the ones a write adds.

    Rows are grouped by their spec columns in pandas (a few distinct sets per chunk), so only
    the distinct sets are compared and, when new, inserted. Two concurrent writers on
    PostgreSQL may both add the same new set: two rows with equal values, both correct.
    """

    def __init__(self, writer: BulkWriter) -> None:
        self.writer = writer
        self.known = {spec_tuple(values): spec_id for spec_id, *values in writer.spec_sets()}

    def ids(self, frame: pd.DataFrame) -> pd.Series:
        """The ``spec_set`` of every row of ``frame`` (None where it has no spec at all)."""
        if frame.empty:
            return pd.Series([], index=frame.index, dtype="Int64")
        specs = frame.reindex(columns=list(SPEC_SET_KEYS))
        codes = specs.groupby(list(SPEC_SET_KEYS), dropna=False, sort=False).ngroup().to_numpy()
        firsts = pd.Series(range(len(specs))).groupby(codes).first()
        found = [self._id_of(spec_tuple(specs.iloc[row])) for row in firsts.to_numpy()]
        ids = pd.array(found, dtype="Int64")
        return pd.Series(ids[firsts.index.get_indexer(codes)], index=frame.index)

    def _id_of(self, values: tuple[Any, ...]) -> int | None:
        if all(v is None for v in values):
            return None
        spec_id = self.known.get(values)
        if spec_id is None:
            spec_id = self.writer.add_spec_set(dict(zip(SPEC_SET_KEYS, values, strict=True)))
            self.known[values] = spec_id
        return spec_id


class TitleCatalog:
    """The ``titles`` of one write: each distinct title of a chunk is looked up by its digest
    once (``title_digest``), added when new, and remembered for the write's later chunks.

    On PostgreSQL two writers may add the same new title at once: the second insert waits for
    the first's transaction and then does nothing, and both read the one row back."""

    # Digests per lookup statement (SQLite binds at most 32,766 parameters).
    BATCH = 5_000
    # Titles remembered across a write's chunks: beyond this many (a file of mostly distinct
    # titles) the memory is given back and later chunks look theirs up again.
    KNOWN_LIMIT = 100_000

    def __init__(self, writer: BulkWriter) -> None:
        self.writer = writer
        self.known: dict[str, int] = {}

    def ids(self, titles: pd.Series) -> pd.Series:
        """The ``title_id`` of every row (<NA> where the row has no title; "" is a title)."""
        codes, uniques = pd.factorize(titles.astype(object), use_na_sentinel=True)
        texts = [str(t) for t in np.asarray(uniques, dtype=object).tolist()]
        if len(self.known) + len(texts) > self.KNOWN_LIMIT:
            self.known.clear()
        missing = {title_digest(t): t for t in texts if t not in self.known}
        if missing:
            found = self._lookup(list(missing))
            new = [(d, t) for d, t in missing.items() if d not in found]
            if new:
                self.writer.add_titles(new)
                found.update(self._lookup([d for d, _ in new]))
            for digest, text in missing.items():
                self.known[text] = found[digest]
        ids = pd.array([self.known[t] for t in texts] + [None], dtype="Int64")
        return pd.Series(ids[np.where(codes < 0, len(texts), codes)], index=titles.index)

    def _lookup(self, digests: list[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for start in range(0, len(digests), self.BATCH):
            found.update(self.writer.title_ids(digests[start : start + self.BATCH]))
        return found


class BulkWriter(Protocol):
    def import_key(self, import_id: str) -> int | None: ...

    def delete_import(self, import_id: str, import_key: int) -> None: ...

    def spec_sets(self) -> list[tuple[Any, ...]]: ...

    def add_spec_set(self, values: dict[str, Any]) -> int: ...

    def title_ids(self, digests: list[bytes]) -> dict[bytes, int]: ...

    def add_titles(self, titles: list[tuple[bytes, str]]) -> None: ...

    def insert(self, table: str, columns: list[str], frame: pd.DataFrame) -> None: ...


class SqlAlchemyWriter:
    """The bulk path through the engine's own connection: COPY on PostgreSQL, executemany
    elsewhere (SQLite in memory, other databases)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def import_key(self, import_id: str) -> int | None:
        found = self.conn.execute(
            select(Import.import_key).where(Import.import_id == import_id)
        ).first()
        return None if found is None else int(found[0])

    def delete_import(self, import_id: str, import_key: int) -> None:
        summaries.forget_figures(self.conn, import_id)
        self.conn.execute(delete(Listing).where(Listing.import_key == import_key))
        self.conn.execute(delete(RowError).where(RowError.import_key == import_key))

    def spec_sets(self) -> list[tuple[Any, ...]]:
        table = SpecSet.__table__
        query = select(table.c.spec_id, *[table.c[n] for n in SPEC_SET_KEYS])
        return [tuple(row) for row in self.conn.execute(query)]

    def add_spec_set(self, values: dict[str, Any]) -> int:
        return int(
            self.conn.execute(
                SpecSet.__table__.insert().values(**values).returning(SpecSet.spec_id)
            ).scalar_one()
        )

    def title_ids(self, digests: list[bytes]) -> dict[bytes, int]:
        query = select(Title.digest, Title.title_id).where(Title.digest.in_(digests))
        return {bytes(digest): int(title_id) for digest, title_id in self.conn.execute(query)}

    def add_titles(self, titles: list[tuple[bytes, str]]) -> None:
        dialect = self.conn.dialect.name
        insert_ = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = insert_(Title).on_conflict_do_nothing(index_elements=["digest"])
        self.conn.execute(statement, [{"digest": d, "text": t} for d, t in titles])

    def insert(self, table: str, columns: list[str], frame: pd.DataFrame) -> None:
        _bulk_insert(self.conn, table, columns, frame)


@contextlib.contextmanager
def bulk_writer(engine: Engine, native_sqlite: bool = True) -> Iterator[BulkWriter]:
    """One transaction for an import's rows: ADBC's C ingest for a SQLite file, the engine's
    connection otherwise (``native_sqlite=False`` forces it, for comparing the two)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if native_sqlite and database and database != ":memory:":
        from glyph_assets.store.sqlite_bulk import AdbcSqliteWriter

        # ADBC links its own copy of SQLite. Two copies of SQLite must never hold the same file
        # open in one process at once (POSIX locks are per process: closing one copy's file
        # would drop the other's locks, and each keeps its own view of the WAL index), so this
        # process's sqlite3 connections to the file are closed first and reopen on next use.
        engine.dispose()
        with AdbcSqliteWriter(database) as writer:
            yield writer
        return
    with engine.begin() as conn:
        yield SqlAlchemyWriter(conn)


# The counts an import's record carries (``imports.*_rows``), as a finished run leaves them.
COUNT_KEYS = summaries.COUNT_FIGURES


def _row_figures(engine: Engine, import_id: str, names: Iterable[str]) -> dict[str, Any]:
    with engine.connect() as conn:
        return summaries.row_figures(conn, import_id, names)


def import_row_stats(engine: Engine, import_id: str) -> dict[str, Any]:
    """Live counts and the score range of an import's rows, computed now (the summary reads
    them as ``finish_import`` stored them: ``summaries.import_figures``)."""
    return _row_figures(engine, import_id, summaries.ROW_FIGURES)


def import_counts(engine: Engine, import_id: str) -> dict[str, int]:
    """The four row counts an import's record carries, counted from its rows."""
    figures = _row_figures(engine, import_id, COUNT_KEYS)
    return {key: figures[key] for key in COUNT_KEYS}


def count_rows(engine: Engine, import_id: str) -> dict[str, int]:
    """How many listings and row errors an import has (both zero: it keeps no rows)."""
    return _row_figures(engine, import_id, ("persisted_rows", "error_rows"))


def delete_import_rows(engine: Engine, import_id: str) -> None:
    """Drop whatever rows an import has (used when a run is canceled)."""
    with engine.begin() as conn:
        conn.execute(delete(Listing).where(of_import(import_id)))
        conn.execute(delete(RowError).where(of_errors(import_id)))


def finish_import(
    engine: Engine,
    import_id: str,
    ending: ImportStatus,
    *,
    counts: Mapping[str, int] | None = None,
    total_rows: int | None = None,
    error_message: str | None = None,
    written: summaries.WrittenFigures | None = None,
) -> ImportStatus:
    """Give an import its final status: the one place each ending's rule is written.

    - ``succeeded`` (or ``partially_succeeded``): all rows are written. The status is
      ``partially_succeeded`` when some rows were rejected, else ``succeeded``; the record gets
      the row counts (``counts`` as the writer counted them, else counted now) and
      ``total_rows`` (else persisted + rejected).
    - ``failed``: with ``error_message`` (``run failed`` when none is known), bounded to
      ``MAX_ERROR_CHARS``.
    - ``canceled``: a canceled import keeps no rows, whoever noticed the cancellation first;
      only what changed is written (on SQLite a needless write queues behind a bulk insert).

    Every ending also stores the import's figures (``summaries.record_figures``: counts, score
    range, first / last and top models), which its summary then reads instead of its rows;
    ``written`` (the figures :func:`replace_import_rows` added up while writing them) spares
    aggregating the listings again. Returns the status given.
    """
    status = _end(engine, import_id, ending, counts, total_rows, error_message)
    if get_import(engine, import_id) is not None:
        # what the writer added up is the rows' figures only while they are kept
        kept = written if ending in PERSISTED_STATUSES else None
        summaries.record_figures(engine, import_id, kept)
    return status


def _end(
    engine: Engine,
    import_id: str,
    ending: ImportStatus,
    counts: Mapping[str, int] | None,
    total_rows: int | None,
    error_message: str | None,
) -> ImportStatus:
    if ending in PERSISTED_STATUSES:
        found = dict(counts) if counts is not None else import_counts(engine, import_id)
        status = ImportStatus.of_finished_rows(found["error_rows"])
        if total_rows is None:
            total_rows = found["persisted_rows"] + found["error_rows"]
        set_import_status(engine, import_id, status, total_rows=total_rows, **found)
        return status
    if ending == ImportStatus.FAILED:
        message = (error_message or "run failed")[:MAX_ERROR_CHARS]
        set_import_status(engine, import_id, ImportStatus.FAILED, error_message=message)
        return ImportStatus.FAILED
    if ending == ImportStatus.CANCELED:
        record = get_import(engine, import_id)
        already = record is not None and record["status"] == ImportStatus.CANCELED
        if not already or any(count_rows(engine, import_id).values()):
            delete_import_rows(engine, import_id)
        if not already:
            set_import_status(engine, import_id, ImportStatus.CANCELED)
        return ImportStatus.CANCELED
    raise ValueError(f"{ending!r} is not how an import ends")


__all__ = [
    "COUNT_KEYS",
    "add_run",
    "count_rows",
    "create_import",
    "delete_import_rows",
    "find_import",
    "finish_import",
    "get_import",
    "import_counts",
    "import_row_stats",
    "import_of_run",
    "latest_run",
    "reopen_import",
    "replace_import_rows",
    "SpecCatalog",
    "UnknownImport",
    "write_import_rows",
    "runs_of",
    "set_import_status",
    "set_run_status",
    "keep_run_facts",
    "RunFacts",
]
