"""SQLite's bulk path: Arrow tables ingested by ADBC's SQLite driver, in C.

Python's ``sqlite3.executemany`` turns every value of every row into a Python object and binds it
one by one: for a 40-column listing that was most of a large import's persisting time. ADBC's
driver binds straight from the Arrow buffers the pipeline already holds (about three times
faster here), inside one transaction that also holds the DELETE of the import's earlier rows,
so a failure or a killed process leaves the import exactly as it was.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import Boolean, Float, Integer, Table

from glyph_assets.store.models import Base

# Page cache of the writing connection (KiB, negative by SQLite's convention). With the default
# 2 MB every insert into the score index misses once an import passes ~50k rows; a cache that
# held the whole import made the writer's memory grow with the file, not with the chunk. So it
# follows the chunk in flight: the smallest of CACHE_STEPS_KIB that gives CACHE_KIB_PER_CHUNK_ROW
# per row of the first chunk (10,000-row chunks get 64 MiB; 50,000, the default, 256 MiB). The
# statements are constants: nothing is formatted into SQL at run time.
CACHE_STEPS_KIB = (32 * 1024, 64 * 1024, 128 * 1024, 256 * 1024)
CACHE_PRAGMAS = {kib: f"PRAGMA cache_size=-{kib}" for kib in CACHE_STEPS_KIB}
CACHE_KIB_PER_CHUNK_ROW = 4
BUSY_TIMEOUT_MS = 30_000
_PRAGMAS = (
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    CACHE_PRAGMAS[CACHE_STEPS_KIB[0]],
)
_IMPORT_KEY = "SELECT import_key FROM imports WHERE import_id = ?"
_FORGET_FIGURES = "DELETE FROM import_summaries WHERE import_id = ?"
_DELETE_ROWS = (
    "DELETE FROM listings WHERE import_key = ?",
    "DELETE FROM row_errors WHERE import_key = ?",
)
_SPEC_SET_COLUMNS = tuple(c.name for c in Base.metadata.tables["spec_sets"].columns)
_SPEC_SETS = f"SELECT {', '.join(_SPEC_SET_COLUMNS)} FROM spec_sets"
# The ids of the titles whose digests the one parameter lists (a JSON array of hex strings):
# one constant statement whatever their number, each digest sought in the unique index.
_TITLE_IDS = (
    "SELECT digest, title_id FROM titles WHERE digest IN (SELECT unhex(value) FROM json_each(?))"
)
_ADD_SPEC_SET = (
    f"INSERT INTO spec_sets ({', '.join(_SPEC_SET_COLUMNS[1:])}) "
    f"VALUES ({', '.join('?' for _ in _SPEC_SET_COLUMNS[1:])}) RETURNING spec_id"
)


def arrow_type(column: Any) -> pa.DataType:
    """The Arrow type whose values SQLite stores as this column's SQLAlchemy type does."""
    if isinstance(column.type, Boolean):
        return pa.bool_()
    if isinstance(column.type, Integer):
        return pa.int64()
    if isinstance(column.type, Float):
        return pa.float64()
    return pa.string()


def arrow_table(table: Table, columns: list[str], frame: pd.DataFrame) -> pa.Table:
    """The frame's columns typed by the table's schema (a column of mixed Python values, as a
    scored upload may have, is converted value by value: text columns take ``str(value)``)."""
    arrays = []
    for name in columns:
        target = arrow_type(table.c[name])
        values = frame[name] if name in frame else pd.Series(None, index=frame.index)
        try:
            arrays.append(pa.array(values, type=target, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            arrays.append(_coerced(values, target))
    return pa.Table.from_arrays(arrays, names=columns)


def _coerced(values: pd.Series, target: pa.DataType) -> pa.Array:
    plain = [None if v is None or v is pd.NA or v != v else v for v in values.astype(object)]
    if pa.types.is_string(target):
        return pa.array([None if v is None else str(v) for v in plain], type=target)
    if pa.types.is_integer(target):
        return pa.array([None if v is None else round(float(v)) for v in plain], type=target)
    if pa.types.is_floating(target):
        return pa.array([None if v is None else float(v) for v in plain], type=target)
    return pa.array([None if v is None else bool(v) for v in plain], type=target)


class AdbcSqliteWriter:
    """One transaction on its own ADBC connection: ``delete_import``, ``insert``..., commit on a
    clean exit, roll back on an exception."""

    def __init__(self, path: str) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        # Connection settings first, in autocommit (SQLite refuses journal, safety and foreign
        # key changes inside a transaction); then one explicit transaction for the import.
        self._conn = adbc.connect(path, autocommit=True)
        self._cursor = self._conn.cursor()
        for pragma in _PRAGMAS:
            self._cursor.execute(pragma)
            self._cursor.fetchall()
        self._conn.adbc_connection.set_autocommit(False)
        self._sized = False

    def __enter__(self) -> AdbcSqliteWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self._conn.adbc_connection.commit()
            else:
                self._conn.adbc_connection.rollback()
        finally:
            self._cursor.close()
            self._conn.close()

    def import_key(self, import_id: str) -> int | None:
        self._cursor.execute(_IMPORT_KEY, (import_id,))
        found = self._cursor.fetchall()
        return int(found[0][0]) if found else None

    def delete_import(self, import_id: str, import_key: int) -> None:
        self._cursor.execute(_FORGET_FIGURES, (import_id,))
        for statement in _DELETE_ROWS:
            self._cursor.execute(statement, (import_key,))

    def spec_sets(self) -> list[tuple[Any, ...]]:
        self._cursor.execute(_SPEC_SETS)
        return [tuple(row) for row in self._cursor.fetchall()]

    def add_spec_set(self, values: dict[str, Any]) -> int:
        self._cursor.execute(_ADD_SPEC_SET, tuple(values[n] for n in _SPEC_SET_COLUMNS[1:]))
        return int(self._cursor.fetchall()[0][0])

    def title_ids(self, digests: list[bytes]) -> dict[bytes, int]:
        if not digests:
            return {}
        self._cursor.execute(_TITLE_IDS, (json.dumps([d.hex() for d in digests]),))
        return {bytes(digest): int(title_id) for digest, title_id in self._cursor.fetchall()}

    def add_titles(self, titles: list[tuple[bytes, str]]) -> None:
        """Append new titles (this file's writers take turns, so none is added meanwhile)."""
        data = pa.table(
            {
                "digest": pa.array([d for d, _ in titles], type=pa.binary()),
                "text": pa.array([t for _, t in titles], type=pa.string()),
            }
        )
        self._cursor.adbc_ingest("titles", data, mode="append")

    def insert(self, table: str, columns: list[str], frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if not self._sized:  # the first chunk tells the chunk size
            wanted = len(frame) * CACHE_KIB_PER_CHUNK_ROW
            kib = next((k for k in CACHE_STEPS_KIB if k >= wanted), CACHE_STEPS_KIB[-1])
            self._cursor.execute(CACHE_PRAGMAS[kib])
            self._cursor.fetchall()
            self._sized = True
        data = arrow_table(Base.metadata.tables[table], columns, frame)
        self._cursor.adbc_ingest(table, data, mode="append")


__all__ = ["AdbcSqliteWriter", "arrow_table", "arrow_type"]
