"""Dagster's SQLite instance storage, with its connections kept open between writes.

Why: the embedded instance keeps its runs in ``history/runs.db`` and each run's event log in
``history/runs/<run_id>.db`` (plus an ``index.db`` mirror of asset events). Dagster's SQLite
storages create a SQLAlchemy engine for every read and write, open the file, and dispose of it
again; in WAL mode the last connection to close also checkpoints the log. A small import writes
about 145 events (23 "planned" events when the run is created, then each step's), and profiling a
3-row run worker showed half of its time in ``store_event``: engine creation, statement
compilation (the compiled-statement cache dies with each engine), connect, commit and close. On
this project's machine that is about 9.6 ms an event under load, 2.7 ms with connections kept.

The two classes here are Dagster's own ``SqliteEventLogStorage`` and ``SqliteRunStorage`` with one
change: each database file gets one engine per process, kept in a small LRU (``MAX_ENGINES``, so
a webserver reading many runs' logs does not hold a file open for each), whose pool keeps its
connection open. Two set-up costs of every process are also cut: a file already at Dagster's
newest schema revision is opened without Dagster's set-up, which would only read it (it reads
its 89 migration scripts to decide), and a run's new event-log shard is a copy of a blank shard
that Dagster's set-up made once in the process. Everything else, schema,
migrations, locking and the watchers the UI uses, is Dagster's. The event logs are written with
``synchronous=NORMAL``, which in the WAL mode Dagster already uses keeps the database consistent
after a crash and may lose only the last events before a power cut (never a half-written one);
run records keep SQLite's defaults.

Engines are per process: a process forked with some open (a fork server, a worker pool) starts
with an empty cache and never touches its parent's connections. ``glyph_assets.tooling.
dagster_instance`` configures these classes for the SQLite instance; PostgreSQL is unchanged.
"""

from __future__ import annotations

import functools
import glob
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import get_alembic_config
from dagster._core.storage.sqlite import create_db_conn_string
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

# Database files a process keeps an engine (and an open connection) for: the runs it is
# working on, the index shard and the run storage; older ones are disposed of.
MAX_ENGINES = 32


class EngineCache:
    """One engine per database URL in this process, the least recently used disposed beyond
    ``limit``. ``pragmas`` are run on each new connection."""

    def __init__(self, pragmas: tuple[str, ...] = (), limit: int = MAX_ENGINES) -> None:
        self._pragmas = pragmas
        self._limit = limit
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._engines: OrderedDict[str, Engine] = OrderedDict()

    def engine(self, url: str) -> Engine:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours
                self._pid = os.getpid()
                self._engines = OrderedDict()
            engine = self._engines.get(url)
            if engine is not None:
                self._engines.move_to_end(url)
                return engine
            engine = self._create(url)
            self._engines[url] = engine
            while len(self._engines) > self._limit:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    @contextmanager
    def transaction(self, url: str) -> Iterator[Connection]:
        """A connection of ``url``'s engine in a transaction (committed on leaving)."""
        with self.engine(url).connect() as conn, conn.begin():
            yield conn

    def __len__(self) -> int:
        return len(self._engines)

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def _create(self, url: str) -> Engine:
        # One connection in use at a time per storage (Dagster holds its lock around it); a few
        # more for the threads of a webserver reading runs while a write is under way.
        engine = create_engine(
            url,
            pool_size=1,
            max_overflow=4,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        if self._pragmas:
            pragmas = self._pragmas

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                for pragma in pragmas:
                    cursor.execute(pragma)
                cursor.close()

        return engine


class _DisposesEngines:
    """Disposing of the storage closes the connections it kept."""

    _engine_cache: EngineCache

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine_cache.dispose()


_blank_shard_lock = threading.Lock()
_blank_shard_bytes: bytes | None = None
# A copy of the blank shard on its way into place (never a ``*.db`` of Dagster's globs).
PARTIAL_SUFFIX = ".blank.tmp"
# A copy older than this was left by a process that died before it linked or removed it.
PARTIAL_STALE_SECONDS = 600


def sweep_partial_shards(directory: str, now: float | None = None) -> list[str]:
    """Remove the copies of the blank shard that a process which died between writing and
    linking (or unlinking) one left in ``directory``; returns their names. A left copy is a
    stray file, or a second name of a run's shard (removing the name leaves the shard)."""
    now = time.time() if now is None else now
    removed = []
    for path in glob.glob(os.path.join(glob.escape(directory), f"*{PARTIAL_SUFFIX}")):
        try:
            if now - os.stat(path).st_mtime > PARTIAL_STALE_SECONDS:
                os.unlink(path)
                removed.append(os.path.basename(path))
        except FileNotFoundError:
            pass
    return removed


@functools.cache
def sqlite_head_revision() -> str | None:
    """The newest revision of Dagster's SQLite schemas (runs, event logs and schedules share
    one set of migration scripts), read from those scripts once per process (the fork server
    reads it once; every worker forked from it inherits it)."""
    config = get_alembic_config(sqlite_event_log.__file__)
    return ScriptDirectory.from_config(config).as_revision_number("head")


def at_head(conn: Connection, tables: tuple[str, ...] = ()) -> bool:
    """Whether the database is stamped with the newest revision and has ``tables``: then
    Dagster's set-up of it would only read it and change nothing."""
    if MigrationContext.configure(conn).get_current_revision() != sqlite_head_revision():
        return False
    return all(conn.dialect.has_table(conn, table) for table in tables)


def file_at_head(base_dir: str, name: str, tables: tuple[str, ...]) -> str | None:
    """The connection string of ``base_dir/<name>.db`` when that file exists ``at_head`` with
    ``tables``; None when Dagster's set-up has to look at it (a new or older file).

    Why: Dagster's set-up of its run and schedule storages reads its migration scripts from
    disk before deciding, in every process that opens the instance: 30 ms each of every run
    worker's start here."""
    if not os.path.exists(os.path.join(base_dir, f"{name}.db")):
        return None
    conn_string = create_db_conn_string(base_dir, name)
    engine = create_engine(conn_string, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn_string if at_head(conn, tables) else None
    finally:
        engine.dispose()


class PooledSqliteEventLogStorage(_DisposesEngines, SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose shards keep their engine and connection open."""

    def __init__(
        self, base_dir: str, inst_data: ConfigurableClassData | None = None, **kwargs: Any
    ) -> None:
        self._engine_cache = EngineCache(pragmas=("PRAGMA synchronous=NORMAL",))
        self._tables: set[str] = set()  # tables of the index shard known to exist
        super().__init__(base_dir, inst_data=inst_data, **kwargs)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            url = self.conn_string_for_shard(shard)
            if shard not in self._initialized_dbs:
                self._initdb(self._engine_cache.engine(url))
                self._initialized_dbs.add(shard)
            with self._engine_cache.transaction(url) as conn:
                yield conn

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:
        """Dagster's set-up of a shard (create and stamp it when it has no revision yet),
        skipped when the shard is already stamped with the newest revision: then Dagster's
        own ``_initdb`` only reads and changes nothing. A run's shard that does not exist yet
        is a copy of a blank one (``_place_blank_shard``).

        Why: before deciding, Dagster reads its 89 migration scripts from disk for every shard
        a process opens; a run worker opens two (its run's and the index), 13 ms each here.
        """
        if not for_index_shard and self._place_blank_shard(engine):
            return
        with engine.connect() as conn:
            if at_head(conn):
                return
        super()._initdb(engine, for_index_shard)

    def _place_blank_shard(self, engine: Engine) -> bool:
        """Create a new run's shard as a copy of a blank shard that Dagster's own ``_initdb``
        made once in this process (its tables and indexes, WAL mode, stamped with the newest
        revision); False when the shard's file exists already, or cannot be placed so.

        Why: Dagster creates a run's shard when the run is created (its planned events), on the
        path of every launch: creating the tables and stamping the revision took 45 ms a run
        here, copying about 1 ms. The copy is written beside the shard, flushed to disk (as
        Dagster's own set-up commits), and linked into place, which fails if any process
        created the shard meanwhile: that shard is then set up (or found set up) by Dagster's
        own ``_initdb``, as before. Readers never see a half-written shard."""
        path = engine.url.database
        if not path or os.path.exists(path):
            return False
        blank = self._blank_shard(os.path.dirname(path))
        partial = f"{path}.{os.getpid()}.{threading.get_ident()}{PARTIAL_SUFFIX}"
        try:
            with open(partial, "wb") as fh:
                fh.write(blank)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(partial, path)
        except OSError:  # created meanwhile, or a file system without hard links
            return False
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return True

    def _blank_shard(self, directory: str) -> bytes:
        """The bytes of a run shard just set up by Dagster's ``_initdb``, made once a process;
        the first time, copies a crashed process left in ``directory`` are removed too."""
        global _blank_shard_bytes
        with _blank_shard_lock:
            if _blank_shard_bytes is None:
                sweep_partial_shards(directory)
                with tempfile.TemporaryDirectory(prefix="glyph-blank-shard-") as tmp:
                    path = os.path.join(tmp, "blank.db")
                    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
                    super()._initdb(engine)
                    engine.dispose()
                    with open(path, "rb") as fh:
                        _blank_shard_bytes = fh.read()
            return _blank_shard_bytes

    def wipe(self) -> None:
        """Dagster's wipe (every run's shard deleted, the index emptied), then the kept engines
        closed: theirs would go on writing to the deleted files."""
        super().wipe()
        self._engine_cache.dispose()
        self._tables = set()

    def has_table(self, table_name: str) -> bool:
        """Whether the index shard has ``table_name``, asked through a connection of the kept
        engine; a table found once is not looked up again (Dagster never drops one).

        Why: Dagster asks before most asset and check events (about 80 times in a 3-row run)
        and opens a new engine and connection for each answer. It asks while it holds the
        storage's lock for the event's own write, so this takes another connection of the
        index's engine, not the locked ``index_connection`` (as Dagster's own answer does).
        """
        if table_name in self._tables:
            return True
        engine = self._engine_cache.engine(self.conn_string_for_shard(INDEX_SHARD_NAME))
        with engine.connect() as conn:
            found = bool(conn.dialect.has_table(conn, table_name))
        if found:
            self._tables.add(table_name)
        return found


class PooledSqliteRunStorage(_DisposesEngines, SqliteRunStorage):
    """``SqliteRunStorage`` that keeps its engine and connection open."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engine_cache = EngineCache(limit=1)
        super().__init__(conn_string, inst_data)

    @classmethod
    def from_local(cls, base_dir: str, inst_data: ConfigurableClassData | None = None) -> Self:
        """Dagster's set-up of ``runs.db`` (create, stamp, migrate), skipped when the file is
        at the newest revision with every table that set-up adds (``file_at_head``)."""
        conn_string = file_at_head(base_dir, "runs", ("runs", "instance_info"))
        if conn_string is not None:
            return cls(conn_string, inst_data)
        return super().from_local(base_dir, inst_data)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._engine_cache.transaction(self._conn_string) as conn:
            yield conn


class StampedSqliteScheduleStorage(SqliteScheduleStorage):
    """Dagster's ``SqliteScheduleStorage``, opened without its set-up when ``schedules.db`` is
    already at the newest revision (``file_at_head``)."""

    @classmethod
    def from_local(
        cls, base_dir: str, inst_data: ConfigurableClassData | None = None
    ) -> SqliteScheduleStorage:
        conn_string = file_at_head(base_dir, "schedules", ("jobs", "job_ticks"))
        if conn_string is not None:
            return cls(conn_string, inst_data)
        return super().from_local(base_dir, inst_data)


class PooledSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite instance storage (``storage: sqlite``, same files under ``base_dir``)
    with the pooled run and event-log storages above; schedules are Dagster's own storage,
    opened without its set-up when the file is at the newest revision."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # DagsterSqliteStorage's own __init__ builds Dagster's storages; these are the same
        # files (Dagster's own layout under base_dir), each opened through the classes above.
        self.base_dir = base_dir
        self._run_storage = PooledSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = StampedSqliteScheduleStorage.from_local(
            _schedule_directory(base_dir)
        )
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


__all__ = [
    "MAX_ENGINES",
    "EngineCache",
    "PooledSqliteEventLogStorage",
    "PooledSqliteRunStorage",
    "PooledSqliteStorage",
    "StampedSqliteScheduleStorage",
    "at_head",
    "file_at_head",
    "sqlite_head_revision",
    "sweep_partial_shards",
]
