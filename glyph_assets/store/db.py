"""Engine creation and schema migration for glyph's listing store."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text  # Engine: the store's handle
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Executable

from glyph_assets.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_migrated: set[str] = set()
# Any constant works; it only has to be the same in every process that migrates glyph's schema.
_MIGRATION_LOCK_KEY = 0x67_6C_79_70_68  # "glyph"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the API read while a run writes; busy_timeout turns "database is locked" into a wait.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def normalize_url(url: str) -> str:
    """Send plain PostgreSQL URLs to psycopg 3, the driver whose COPY the bulk writer uses.

    SQLAlchemy maps ``postgresql://`` to psycopg2 (installed only for dagster-postgres); the same
    database URL can then be given to glyph and Dagster alike.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process, created on first use."""
    url = normalize_url(url or get_settings().sqlalchemy_url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                # The API serves reads from up to 40 threads: a pool that holds as many avoids
                # opening (and re-running the PRAGMAs on) a connection per request under load.
                engine = create_engine(
                    url, connect_args={"timeout": 30}, pool_size=16, max_overflow=32
                )
                event.listen(engine, "connect", _sqlite_pragmas)
            elif parsed.get_backend_name() == "postgresql":
                engine = create_engine(url, **_postgres_options(parsed.drivername))
            else:
                engine = create_engine(url, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def _postgres_options(drivername: str) -> dict[str, Any]:
    """Pool sized for one process: a run worker uses one connection, the API a few per worker.

    Every run worker, API worker and the daemon has its own pool, so the server's
    ``max_connections`` (100 by default) bounds processes x (pool_size + max_overflow).
    """
    options: dict[str, Any] = {
        "pool_pre_ping": True,  # a restarted server or a proxy's idle cut does not fail a request
        "pool_size": 5,
        "max_overflow": 5,
        "pool_recycle": 1800,
        "pool_timeout": 30,
    }
    if drivername in ("postgresql+psycopg", "postgresql+psycopg2"):
        # application_name shows who holds a connection in pg_stat_activity.
        options["connect_args"] = {"application_name": "glyph", "connect_timeout": 10}
    return options


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None) -> Engine:
    """Bring the schema to the newest Alembic revision (cheap when already there).

    On PostgreSQL several run workers may start on a new database at once: a transaction-level
    advisory lock lets one of them migrate while the others wait and then find the schema current.
    """
    url = normalize_url(url or get_settings().sqlalchemy_url)
    engine = get_engine(url)
    if url in _migrated:
        return engine
    cfg = alembic_config(url)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        with engine.begin() as conn:
            if _lock_migrations(conn):
                current = MigrationContext.configure(conn).get_current_revision()
            if current != head:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
    _migrated.add(url)
    return engine


def migrated_engine(url: str | None = None) -> Engine | None:
    """The engine when this process has already migrated ``url``, else None (never blocks)."""
    url = normalize_url(url or get_settings().sqlalchemy_url)
    return _engines.get(url) if url in _migrated else None


def _lock_migrations(conn: Connection) -> bool:
    """Serialize migrations across processes where the database can (PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return False
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    return True


def fetch_all(engine: Engine, query: Executable) -> list[dict[str, Any]]:
    """Every row of ``query`` as a plain dict: what the store hands its callers."""
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def fetch_first(engine: Engine, query: Executable) -> dict[str, Any] | None:
    """The first row of ``query`` as a plain dict, None when there is none."""
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None


FRAME_BATCH = 100_000


def fetch_frame(
    conn: Connection, query: Executable, columns: list[str], types: dict[str, Any]
) -> pd.DataFrame:
    """Every row of ``query`` as a DataFrame of ``columns``, read in batches each cast to
    ``types`` as it arrives (text as ``string[pyarrow]``): a million rows then never sit in
    memory as Python objects, a few hundred MB that the cast frame holds in tens."""
    # Per statement: Connection.execution_options would keep streaming every later statement
    # of the connection (on PostgreSQL a server-side cursor, which a DELETE cannot be).
    result = conn.execute(query, execution_options={"yield_per": FRAME_BATCH})
    frames = [pd.DataFrame(part, columns=columns).astype(types) for part in result.partitions()]
    if not frames:
        return pd.DataFrame(columns=columns).astype(types)
    return pd.concat(frames, ignore_index=True)


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()


__all__ = [
    "MIGRATIONS_DIR",
    "Engine",
    "alembic_config",
    "dispose_engines",
    "fetch_all",
    "fetch_frame",
    "fetch_first",
    "get_engine",
    "migrate",
    "migrated_engine",
    "normalize_url",
]
