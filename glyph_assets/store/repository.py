"""Reads and writes of imports, runs, listings and row errors (the only SQL glyph runs)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, select, update

from glyph_assets.sieve.columns import LISTING_COLUMNS
from glyph_assets.store.models import Import, ImportRun, Listing, RowError

TERMINAL_STATUSES = frozenset({"succeeded", "partially_succeeded", "failed", "canceled"})
ROW_ERROR_COLUMNS = ["import_index", "stage", "field", "reason", "raw_row"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_import(engine: Engine, **fields: Any) -> Import:
    now = utcnow()
    fields.setdefault("status", "queued")
    record = Import(created_at=now, updated_at=now, **fields)
    with engine.begin() as conn:
        conn.execute(Import.__table__.insert().values(**_columns_of(record)))
    return record


def _columns_of(record: Import) -> dict[str, Any]:
    return {c.name: getattr(record, c.key) for c in Import.__table__.columns}


def get_import(engine: Engine, import_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(Import.__table__).where(Import.import_id == import_id)).first()
    return dict(row._mapping) if row else None


def find_import(engine: Engine, **filters: Any) -> dict[str, Any] | None:
    """The newest import matching every given column (e.g. sha256=..., idempotency_key=...)."""
    table = Import.__table__
    query = select(table).order_by(table.c.created_at.desc()).limit(1)
    for name, value in filters.items():
        query = query.where(table.c[name] == value)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def set_import_status(
    engine: Engine, import_id: str, status: str, error_message: str | None = None, **extra: Any
) -> None:
    now = utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now, **extra}
    if error_message is not None or status in ("succeeded", "partially_succeeded"):
        values["error_message"] = error_message
    if status == "running":
        values.setdefault("started_at", now)
    if status in TERMINAL_STATUSES:
        values.setdefault("finished_at", now)
    with engine.begin() as conn:
        conn.execute(update(Import).where(Import.import_id == import_id).values(**values))


def add_run(engine: Engine, import_id: str, run_id: str, status: str = "QUEUED") -> int:
    """Record a Dagster run of an import; returns its attempt number (1 for the first run)."""
    now = utcnow()
    with engine.begin() as conn:
        existing = conn.execute(
            select(ImportRun.attempt).where(ImportRun.run_id == run_id)
        ).scalar_one_or_none()
        if existing is not None:
            return existing
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
            )
        )
    return attempt


def set_run_status(engine: Engine, run_id: str, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(ImportRun)
            .where(ImportRun.run_id == run_id)
            .values(status=status, updated_at=utcnow())
        )


def runs_of(engine: Engine, import_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ImportRun.__table__)
            .where(ImportRun.import_id == import_id)
            .order_by(ImportRun.attempt)
        ).all()
    return [dict(r._mapping) for r in rows]


def import_of_run(engine: Engine, run_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(ImportRun.import_id).where(ImportRun.run_id == run_id)
        ).scalar_one_or_none()


def _records(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    subset = frame.reindex(columns=columns).astype(object)
    subset = subset.where(subset.notna(), None)
    return list(subset.itertuples(index=False, name=None))


def _bulk_insert(conn: Connection, table: str, columns: list[str], rows: list[tuple]) -> None:
    """The database's fast path: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cursor = raw.cursor()
    try:
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def replace_import_rows(
    engine: Engine, import_id: str, chunks: Iterable[pd.DataFrame]
) -> dict[str, int]:
    """Write an import's listings and row errors in one transaction, replacing any earlier ones.

    Each chunk carries the scored columns plus error columns; rows with ``error_stage`` set go to
    ``row_errors``, all others to ``listings``. Re-running replaces, never duplicates.
    """
    counts = {"persisted_rows": 0, "error_rows": 0, "not_gpu_rows": 0, "unknown_model_rows": 0}
    listing_columns = ["import_id", *LISTING_COLUMNS]
    error_columns = ["import_id", *ROW_ERROR_COLUMNS]
    with engine.begin() as conn:
        conn.execute(delete(Listing).where(Listing.import_id == import_id))
        conn.execute(delete(RowError).where(RowError.import_id == import_id))
        for chunk in chunks:
            failed = chunk["error_stage"].notna()
            good = chunk.loc[~failed].assign(import_id=import_id)
            bad = (
                chunk.loc[failed]
                .rename(columns={"error_stage": "stage", "error_field": "field"})
                .assign(import_id=import_id, reason=lambda f: f["error_reason"])
            )
            _bulk_insert(conn, "listings", listing_columns, _records(good, listing_columns))
            _bulk_insert(conn, "row_errors", error_columns, _records(bad, error_columns))
            counts["persisted_rows"] += len(good)
            counts["error_rows"] += len(bad)
            counts["not_gpu_rows"] += int((good["reject_reason"] == "not_gpu").sum())
            counts["unknown_model_rows"] += int((good["reject_reason"] == "unknown_model").sum())
    return counts


def count_rows(engine: Engine, import_id: str) -> dict[str, int]:
    with engine.connect() as conn:
        listings = conn.execute(
            select(func.count()).select_from(Listing).where(Listing.import_id == import_id)
        ).scalar_one()
        errors = conn.execute(
            select(func.count()).select_from(RowError).where(RowError.import_id == import_id)
        ).scalar_one()
    return {"persisted_rows": listings, "error_rows": errors}


def delete_import_rows(engine: Engine, import_id: str) -> None:
    """Drop whatever rows an import has (used when a run is canceled)."""
    with engine.begin() as conn:
        conn.execute(delete(Listing).where(Listing.import_id == import_id))
        conn.execute(delete(RowError).where(RowError.import_id == import_id))


__all__ = [
    "TERMINAL_STATUSES",
    "add_run",
    "count_rows",
    "create_import",
    "delete_import_rows",
    "find_import",
    "get_import",
    "import_of_run",
    "replace_import_rows",
    "runs_of",
    "set_import_status",
    "set_run_status",
]
