"""Dagster's SQLite instance storage with connections kept open (glyph_assets.dagster_storage):
the same files Dagster's own classes read and write, from many threads, an engine per file and
process, bounded."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import yaml
from alembic.script import ScriptDirectory
from dagster import DagsterInstance
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.test_utils import create_run_for_test
from sqlalchemy import Engine, text

from glyph_assets import dagster_storage
from glyph_assets.dagster_storage import EngineCache, PooledSqliteEventLogStorage


def _instance(home: Path, pooled: bool) -> DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    storage = (
        {
            "custom": {
                "module": "glyph_assets.dagster_storage",
                "class": "PooledSqliteStorage",
                "config": {"base_dir": str(home)},
            }
        }
        if pooled
        else {"sqlite": {"base_dir": str(home)}}
    )
    (home / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage}))
    return DagsterInstance.from_config(str(home))


def _messages(instance: DagsterInstance, run_id: str) -> list[str]:
    return [e.message for e in instance.all_logs(run_id) if e.message.startswith("m")]


def _dagsters_set_ups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The database files Dagster's own shard set-up (``SqliteEventLogStorage._initdb``) runs
    on from now on, in order."""
    set_up: list[str] = []
    dagsters = SqliteEventLogStorage._initdb

    def counting(self: SqliteEventLogStorage, engine: Engine, for_index_shard: bool = False):
        set_up.append(str(engine.url.database))
        return dagsters(self, engine, for_index_shard)

    monkeypatch.setattr(SqliteEventLogStorage, "_initdb", counting)
    return set_up


def test_runs_and_events_are_dagsters_own_files(tmp_path: Path) -> None:
    pooled = _instance(tmp_path, pooled=True)
    assert isinstance(pooled.event_log_storage, PooledSqliteEventLogStorage)
    run = create_run_for_test(pooled, job_name="ingest_import", tags={"k": "v"})
    for n in range(5):
        pooled.report_engine_event(f"m{n}", run)
    pooled.dispose()

    plain = _instance(tmp_path, pooled=False)  # Dagster's own classes over the same files
    stored = plain.get_run_by_id(run.run_id)
    assert stored is not None and stored.tags["k"] == "v"
    assert _messages(plain, run.run_id) == [f"m{n}" for n in range(5)]
    plain.report_engine_event("m5", stored)
    plain.dispose()

    again = _instance(tmp_path, pooled=True)
    assert _messages(again, run.run_id) == [f"m{n}" for n in range(6)]
    again.dispose()


def test_threads_share_the_storage_and_lose_no_event(tmp_path: Path) -> None:
    instance = _instance(tmp_path, pooled=True)
    runs = [create_run_for_test(instance, job_name="ingest_import") for _ in range(3)]

    def write(worker: int) -> None:
        for n in range(20):
            instance.report_engine_event(f"m{worker}-{n}", runs[n % len(runs)])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = sorted(m for run in runs for m in _messages(instance, run.run_id))
    assert stored == sorted(f"m{w}-{n}" for w in range(4) for n in range(20))
    instance.dispose()


def test_engines_are_bounded_and_never_crossed_into_a_fork(tmp_path: Path) -> None:
    cache = EngineCache(limit=2)
    urls = [f"sqlite:///{tmp_path / f'{n}.db'}" for n in range(3)]
    first = cache.engine(urls[0])
    assert cache.engine(urls[0]) is first  # one engine per file
    cache.engine(urls[1])
    cache.engine(urls[2])  # the least recently used (urls[0]) goes
    assert len(cache) == 2
    assert cache.engine(urls[0]) is not first

    cache._pid = os.getpid() + 1  # as a forked child sees the cache it inherited
    assert cache.engine(urls[1]) is not None
    assert len(cache) == 1  # the parent's engines are left to the parent
    cache.dispose()
    assert len(cache) == 0


def test_a_shard_at_the_newest_revision_skips_dagsters_schema_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _instance(tmp_path, pooled=False)
    run = create_run_for_test(plain, job_name="ingest_import")
    plain.report_engine_event("m0", run)  # Dagster creates and stamps the run's shard
    plain.dispose()

    checked = _dagsters_set_ups(monkeypatch)
    pooled = _instance(tmp_path, pooled=True)
    pooled.report_engine_event("m1", run)
    assert not [url for url in checked if run.run_id in url]
    fresh = create_run_for_test(pooled, job_name="ingest_import")
    pooled.report_engine_event("m0", fresh)  # a new shard: a copy of Dagster's blank one
    assert _messages(pooled, run.run_id) == ["m0", "m1"]
    assert _messages(pooled, fresh.run_id) == ["m0"]
    pooled.dispose()


def _shard_schema(path: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], str]:
    """A shard's tables and indexes, its alembic revision and its journal mode."""
    conn = sqlite3.connect(path)
    try:
        objects = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        return objects, revision, conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def test_a_new_run_shard_is_a_copy_of_the_blank_shard_dagster_sets_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's new shard is copied from a blank shard made by Dagster's own set-up once per
    process: the same tables, indexes, revision and journal mode as a shard Dagster creates,
    readable by Dagster's own classes. A shard file some other process created first (even
    empty) is left to Dagster's set-up."""
    monkeypatch.setattr(dagster_storage, "_blank_shard_bytes", None)
    set_up = _dagsters_set_ups(monkeypatch)
    pooled = _instance(tmp_path / "pooled", pooled=True)
    runs = [create_run_for_test(pooled, job_name="ingest_import") for _ in range(3)]
    for run in runs:
        pooled.report_engine_event("m0", run)
    made = [url for url in set_up if not url.endswith("index.db")]
    assert len(made) == 1 and made[0].endswith("blank.db")  # once, outside the logs

    plain = _instance(tmp_path / "plain", pooled=False)
    theirs = create_run_for_test(plain, job_name="ingest_import")
    plain.report_engine_event("m0", theirs)
    expected = _shard_schema(tmp_path / "plain" / "history" / "runs" / f"{theirs.run_id}.db")
    logs = tmp_path / "pooled" / "history" / "runs"
    for run in runs:
        assert _shard_schema(logs / f"{run.run_id}.db") == expected
    assert expected[2] == "wal" and expected[1]
    assert not [p.name for p in logs.iterdir() if p.name.endswith(".tmp")]

    late = create_run_for_test(pooled, job_name="ingest_import")
    (logs / f"{late.run_id}.db").touch()  # another process connected first
    pooled.report_engine_event("m0", late)
    assert [url for url in set_up if late.run_id in url]
    assert _shard_schema(logs / f"{late.run_id}.db") == expected
    pooled.dispose()
    plain.dispose()

    reread = _instance(tmp_path / "pooled", pooled=False)  # Dagster's own classes
    assert [_messages(reread, r.run_id) for r in [*runs, late]] == [["m0"]] * 4
    reread.dispose()


def test_index_tables_are_looked_up_through_the_kept_connection(tmp_path: Path) -> None:
    instance = _instance(tmp_path, pooled=True)
    storage = instance.event_log_storage
    assert isinstance(storage, PooledSqliteEventLogStorage)
    assert storage.has_table("asset_check_executions")
    assert not storage.has_table("no_such_table")
    with storage.index_connection() as conn:
        conn.execute(text("CREATE TABLE created_later (id INTEGER)"))
    assert storage.has_table("created_later")  # a missing answer is not remembered
    with storage.index_connection() as conn:
        conn.execute(text("DROP TABLE created_later"))
    assert storage.has_table("created_later")  # a found one is (Dagster never drops a table)

    # Dagster asks while it writes an asset event, holding the storage's lock: no deadlock.
    answers: list[bool] = []

    def ask_while_writing() -> None:
        with storage.index_connection():
            answers.append(storage.has_table("asset_event_tags"))
            answers.append(storage.has_table("not_yet_created"))

    writer = threading.Thread(target=ask_while_writing, daemon=True)
    writer.start()
    writer.join(timeout=30)
    assert answers == [True, False], "has_table deadlocked under the storage's lock"
    instance.dispose()


def test_run_and_schedule_files_at_the_newest_revision_skip_dagsters_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the instance reads Dagster's migration scripts only when a file needs Dagster's
    set-up (new, or stamped with an older revision); the newest revision is the same for the
    run, schedule and event-log schemas."""
    from dagster._core.storage.runs.sqlite import sqlite_run_storage
    from dagster._core.storage.schedules.sqlite import sqlite_schedule_storage
    from dagster._core.storage.sql import get_alembic_config

    checked: list[str] = []
    for module in (sqlite_run_storage, sqlite_schedule_storage):
        dagsters = module.check_alembic_revision

        def counting(config: object, conn: object, _name: str = module.__name__, _f=dagsters):
            checked.append(_name.rsplit(".", 1)[-1])
            return _f(config, conn)

        monkeypatch.setattr(module, "check_alembic_revision", counting)
        heads = ScriptDirectory.from_config(get_alembic_config(module.__file__))
        assert heads.as_revision_number("head") == dagster_storage.sqlite_head_revision()

    first = _instance(tmp_path, pooled=True)  # new files: Dagster's own set-up
    run = create_run_for_test(first, job_name="ingest_import")
    first.dispose()
    assert sorted(checked) == ["sqlite_run_storage", "sqlite_schedule_storage"]

    checked.clear()
    again = _instance(tmp_path, pooled=True)
    assert checked == []
    assert again.get_run_by_id(run.run_id) is not None
    schedules = again.schedule_storage
    assert schedules is not None and schedules.all_instigator_state() == []
    again.dispose()

    runs_db = tmp_path / "history" / "runs.db"
    with sqlite3.connect(runs_db) as conn:  # as a file left by an older Dagster would be
        conn.execute("UPDATE alembic_version SET version_num = 'older'")
    older = _instance(tmp_path, pooled=True)  # Dagster's own set-up looks at that file again
    assert checked == ["sqlite_run_storage"]
    older.dispose()


def test_a_shard_created_by_another_process_while_copying_is_left_to_dagster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process creates the shard between the look and the link: the link fails, the
    copy is removed, and Dagster's own set-up takes the shard another process made."""
    pooled = _instance(tmp_path, pooled=True)
    run = create_run_for_test(pooled, job_name="ingest_import")
    logs = tmp_path / "history" / "runs"
    shard = logs / f"{run.run_id}.db"
    storage = pooled.event_log_storage
    assert isinstance(storage, PooledSqliteEventLogStorage)
    storage._engine_cache.dispose()
    for leftover in logs.glob(f"{run.run_id}.db*"):
        leftover.unlink()
    storage._initialized_dbs.discard(run.run_id)
    set_up = _dagsters_set_ups(monkeypatch)
    real_exists = os.path.exists

    def racing(path: object) -> bool:
        if str(path) == str(shard) and not real_exists(shard):
            shard.touch()  # the other process connects first, right after the look
            return False
        return real_exists(path)  # type: ignore[arg-type]

    monkeypatch.setattr(dagster_storage.os.path, "exists", racing)
    pooled.report_engine_event("m0", run)
    monkeypatch.undo()
    assert str(shard) in set_up  # the link found the shard there: Dagster set it up
    assert _messages(pooled, run.run_id) == ["m0"]
    assert not [p.name for p in logs.iterdir() if p.name.endswith(".tmp")]
    pooled.dispose()


def test_copies_a_dead_process_left_behind_are_swept(tmp_path: Path) -> None:
    stale = tmp_path / f"run.db.123.456{dagster_storage.PARTIAL_SUFFIX}"
    fresh = tmp_path / f"other.db.123.789{dagster_storage.PARTIAL_SUFFIX}"
    shard = tmp_path / "run.db"
    for path in (stale, fresh, shard):
        path.write_bytes(b"x")
    old = time.time() - dagster_storage.PARTIAL_STALE_SECONDS - 5
    os.utime(stale, (old, old))
    assert dagster_storage.sweep_partial_shards(str(tmp_path)) == [stale.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, shard.name])
