"""The glyph database as unit tests find it: migrated and holding an import, counted, or left at
an older revision so that a migration can be run over rows stored before it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, func, select, text

from glyph_assets.store import repository
from glyph_assets.store.db import alembic_config, migrate
from glyph_assets.store.models import Import
from glyph_assets.tooling.bench.warehouse import refresh_market

__all__ = [
    "imports_recorded",
    "insert_rows",
    "record_import",
    "refresh_market",
    "warehouse_at",
    "warehouse_with_import",
]


def record_import(engine: Engine, import_id: str, **fields: Any) -> None:
    """``import_id`` recorded by the store as an upload is: by default a queued raw import of an
    empty file from source ``t``; ``fields`` (``store.repository.create_import``'s) set what a
    test needs instead, a status, counts, a source, a file name."""
    defaults: dict[str, Any] = {"source": "t", "sha256": "0" * 64, "size_bytes": 0, "kind": "raw"}
    repository.create_import(engine, import_id=import_id, **{**defaults, **fields})


def warehouse_with_import(url: str, import_id: str) -> Engine:
    """The database at ``url`` migrated to head, with ``import_id`` recorded (queued, no rows)."""
    engine = migrate(url)
    record_import(engine, import_id)
    return engine


def imports_recorded(engine: Engine) -> int:
    """How many imports the database records, whatever their status."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Import)).scalar_one())


def warehouse_at(tmp_path: Path, revision: str, import_id: str) -> tuple[str, Config]:
    """A SQLite file migrated only to ``revision`` and holding ``import_id`` (succeeded): the
    warehouse a later migration finds. Returns its URL and the Alembic config to migrate it."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, revision)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO imports (import_id, status, source, sha256, size_bytes, kind,"
                " created_at, updated_at) VALUES (:i, 'succeeded', 'old', :h, 1, 'raw',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"i": import_id, "h": "0" * 64},
        )
    engine.dispose()
    return url, config


def insert_rows(engine: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    """``rows`` (each with the same keys, the columns) written into ``table`` as plain SQL: a
    warehouse left at an older revision has a schema the ORM models no longer describe."""
    columns = list(rows[0])
    statement = text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    with engine.begin() as conn:
        conn.execute(statement, rows)
