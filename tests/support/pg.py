"""Fresh PostgreSQL databases for tests, on the local server (127.0.0.1:5432, trust auth).

Every test session gets its own databases, created from the maintenance database ``test`` and
dropped afterwards, so parallel CI runs and reruns never see each other's rows. glyph's listing
store and Dagster's instance get two databases (``<name>`` and ``<name>_dagster``): both are
migrated with Alembic and both would otherwise claim the same ``alembic_version`` table.

The switch for the integration suite is the environment variable ``GLYPH_TEST_BACKEND``:
``sqlite`` (default) or ``postgres``. ``backend_env()`` turns it into the environment a stack
needs (``GLYPH_DATABASE_URL`` and ``GLYPH_DAGSTER_POSTGRES_URL``), or nothing for SQLite.
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import psycopg
from psycopg import sql

PG_HOST = os.environ.get("GLYPH_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("GLYPH_TEST_PG_PORT", "5432"))
PG_MAINTENANCE_DB = os.environ.get("GLYPH_TEST_PG_DB", "test")
BACKEND_ENV = "GLYPH_TEST_BACKEND"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def selected_backend() -> str:
    """The backend the integration suite runs against: ``sqlite`` or ``postgres``."""
    backend = os.environ.get(BACKEND_ENV, "sqlite").strip().lower() or "sqlite"
    if backend not in ("sqlite", "postgres"):
        raise ValueError(f"{BACKEND_ENV} must be sqlite or postgres, not {backend!r}")
    return backend


def use_postgres() -> bool:
    return selected_backend() == "postgres"


def _dsn(user: str, dbname: str) -> str:
    return f"host={PG_HOST} port={PG_PORT} user={user} dbname={dbname} connect_timeout=3"


@lru_cache(maxsize=1)
def pg_user() -> str | None:
    """The first role that can log in and create databases: ``postgres``, then the OS user."""
    candidates = [os.environ.get("GLYPH_TEST_PG_USER"), "postgres", getpass.getuser()]
    for user in dict.fromkeys(c for c in candidates if c):
        try:
            with psycopg.connect(_dsn(user, PG_MAINTENANCE_DB)) as conn:
                row = conn.execute(
                    "select rolcreatedb or rolsuper from pg_roles where rolname = current_user"
                ).fetchone()
            if row and row[0]:
                return user
        except psycopg.Error:
            continue
    return None


def pg_available() -> bool:
    return pg_user() is not None


def skip_reason() -> str:
    return (
        f"no PostgreSQL role can log in to {PG_HOST}:{PG_PORT}/{PG_MAINTENANCE_DB} "
        "and create databases"
    )


@dataclass(frozen=True)
class PgDatabases:
    """The databases of one test session and the URLs glyph and Dagster use for them."""

    user: str
    glyph_db: str
    dagster_db: str

    def _url(self, scheme: str, dbname: str) -> str:
        return f"{scheme}://{self.user}@{PG_HOST}:{PG_PORT}/{dbname}"

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of glyph's listing store (psycopg 3 driver)."""
        return self._url("postgresql+psycopg", self.glyph_db)

    @property
    def dagster_url(self) -> str:
        """URL of Dagster's run, event and schedule storage (dagster-postgres uses psycopg2)."""
        return self._url("postgresql", self.dagster_db)

    def env(self) -> dict[str, str]:
        return {
            "GLYPH_DATABASE_URL": self.database_url,
            "GLYPH_DAGSTER_POSTGRES_URL": self.dagster_url,
        }


def _admin(user: str) -> psycopg.Connection:
    return psycopg.connect(_dsn(user, PG_MAINTENANCE_DB), autocommit=True)


def create_database(name: str, user: str | None = None) -> None:
    user = user or _require_user()
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a safe database name: {name!r}")
    with _admin(user) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str, user: str | None = None) -> None:
    """Drop a database even while a leftover process still holds a connection to it."""
    user = user or _require_user()
    with _admin(user) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _require_user() -> str:
    user = pg_user()
    if user is None:
        raise RuntimeError(skip_reason())
    return user


@contextmanager
def fresh_databases(prefix: str = "glyph_test") -> Iterator[PgDatabases]:
    """Create a glyph database and a Dagster database, yield their URLs, drop both after."""
    user = _require_user()
    base = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    dbs = PgDatabases(user=user, glyph_db=base, dagster_db=f"{base}_dagster")
    created: list[str] = []
    try:
        for name in (dbs.glyph_db, dbs.dagster_db):
            create_database(name, user)
            created.append(name)
        yield dbs
    finally:
        _dispose_glyph_engines()
        for name in created:
            drop_database(name, user)


def _dispose_glyph_engines() -> None:
    """Close this process's pooled connections so DROP DATABASE does not have to force them."""
    from glyph_assets.store.db import dispose_engines

    dispose_engines()


@contextmanager
def backend_env() -> Iterator[dict[str, str]]:
    """The extra environment for a stack under ``GLYPH_TEST_BACKEND``: empty for SQLite.

    For ``postgres`` it creates fresh databases for the duration of the block (and fails, rather
    than silently falling back to SQLite, when the server cannot be reached).
    """
    if not use_postgres():
        yield {}
        return
    with fresh_databases() as dbs:
        yield dbs.env()


def database_exists(name: str) -> bool:
    with _admin(_require_user()) as conn:
        row = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
    return row is not None


def require_postgres() -> None:
    """Skip a PostgreSQL test where no server is reachable, but fail when the run asked for it."""
    import pytest

    if pg_available():
        return
    if use_postgres():
        pytest.fail(f"{BACKEND_ENV}=postgres but {skip_reason()}")
    pytest.skip(skip_reason())


__all__ = [
    "BACKEND_ENV",
    "PgDatabases",
    "backend_env",
    "create_database",
    "database_exists",
    "drop_database",
    "fresh_databases",
    "pg_available",
    "pg_user",
    "require_postgres",
    "skip_reason",
    "selected_backend",
    "use_postgres",
]
