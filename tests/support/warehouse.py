"""The glyph database as unit tests find it: migrated and holding an import, counted, or left at
an older revision so that a migration can be run over rows stored before it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, func, inspect, select, text

from glyph_assets.store import repository
from glyph_assets.store.db import alembic_config, migrate
from glyph_assets.store.models import Import
from glyph_assets.tooling.bench.warehouse import refresh_market

__all__ = [
    "imports_recorded",
    "insert_rows",
    "record_import",
    "refresh_market",
    "titles_migration_round_trip",
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


# Titles as a warehouse written before migration 0015 holds them, two imports' worth: a title
# both imports share, "" (a title) beside NULL (none), and text the COPY and CSV paths escape.
TITLES_BEFORE_0015 = {
    1: ["RTX 4090 Founders Edition", "", None, 'Ünïcode "quoted", \\. and\nnewline'],
    2: ["RTX 4090 Founders Edition", "H100 PCIe 80GB"],
}


def titles_migration_round_trip(url: str) -> None:
    """Migration 0015 on the database at ``url`` (empty): migrated to 0014, given listings
    with titles as the release before it wrote them, upgraded (each distinct title kept once,
    every listing reading back its own), written to by the new writer (a known title found
    again), and downgraded (every title back on its listing)."""
    from glyph_assets.store import listing_rows
    from glyph_assets.store.models import Title, title_digest

    config = alembic_config(url)
    command.upgrade(config, "0014")
    engine = create_engine(url)
    ids = {key: f"00000000-0000-4000-8000-00000000001{key}" for key in TITLES_BEFORE_0015}
    with engine.begin() as conn:
        for key, import_id in ids.items():
            conn.execute(
                text(
                    "INSERT INTO imports (import_id, import_key, status, source, sha256,"
                    " size_bytes, kind, created_at, updated_at) VALUES (:i, :k, 'succeeded',"
                    " 'old', :h, 1, 'raw', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"i": import_id, "k": key, "h": "0" * 64},
            )
    for key, titles in TITLES_BEFORE_0015.items():
        insert_rows(
            engine,
            "listings",
            [
                {"import_key": key, "import_index": n, "title": title}
                for n, title in enumerate(titles, start=1)
            ],
        )

    def titles_of(import_id: str) -> list[str | None]:
        query = (
            select(listing_rows.column("title"))
            .select_from(listing_rows.LISTINGS)
            .where(listing_rows.of_import(import_id))
            .order_by(text("import_index"))
        )
        with engine.connect() as conn:
            return list(conn.execute(query).scalars())

    command.upgrade(config, "0015")
    for key, import_id in ids.items():
        assert titles_of(import_id) == TITLES_BEFORE_0015[key]
    with engine.connect() as conn:
        stored = {t.text: t.digest for t in conn.execute(select(Title.text, Title.digest))}
    assert set(stored) == {t for ts in TITLES_BEFORE_0015.values() for t in ts if t is not None}
    assert all(bytes(digest) == title_digest(title) for title, digest in stored.items())

    frame = pd.DataFrame(
        {
            "import_index": [1, 2],
            "title": ["RTX 4090 Founders Edition", "A new title"],
            "is_gpu": [True, True],
            "reject_reason": [None, None],
            "error_stage": [None, None],
            "error_field": [None, None],
            "error_reason": [None, None],
        }
    )
    repository.replace_import_rows(engine, ids[2], [frame])
    assert titles_of(ids[2]) == ["RTX 4090 Founders Edition", "A new title"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Title)).scalar_one() == 5

    command.downgrade(config, "0014")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT import_key, title FROM listings ORDER BY import_key, import_index")
        ).all()
        tables = inspect(conn).get_table_names()
    assert [tuple(r) for r in rows] == [
        *[(1, t) for t in TITLES_BEFORE_0015[1]],
        (2, "RTX 4090 Founders Edition"),
        (2, "A new title"),
    ]
    assert "titles" not in tables
    engine.dispose()
