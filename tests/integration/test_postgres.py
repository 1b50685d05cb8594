"""glyph on PostgreSQL, for real: the listing store and the Dagster instance on the local server.

Every test here uses fresh databases (``tests/support/pg.py``), created for this module and dropped
after. What is checked: the Alembic migrations build the same schema as on SQLite (and several first
migrations at once do not collide), the per-import replace is idempotent, transactional and goes
through COPY, the indexes serve the API's filters, the five assets materialize end to end on a
PostgreSQL-backed DagsterInstance, and three imports ingest at once through Dagster's own queue,
daemon and code server without lock errors.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter, materialize
from sqlalchemy import Engine, inspect, select, text

from glyph_assets.assets.pipeline import PIPELINE_ASSETS
from glyph_assets.contract import (
    IMPORT_TAG,
    IMPORTS_PARTITIONS_NAME,
    INGEST_JOB_NAME,
    PARTITION_TAG,
    PERSISTED_LISTINGS,
)
from glyph_assets.imports import file_chunks, register_import
from glyph_assets.io_managers import ParquetPartsIOManager
from glyph_assets.resources import resources_from
from glyph_assets.settings import Settings
from glyph_assets.sieve.read import iter_raw_chunks
from glyph_assets.store import repository
from glyph_assets.store.db import alembic_config, dispose_engines, get_engine, migrate
from glyph_assets.store.listing_rows import LISTINGS, column, of_import
from glyph_assets.store.models import Import, Listing, RowError
from glyph_assets.tooling.bench.storage import scored_frame
from glyph_assets.tooling.dagster_instance import grpc_workspace, write_instance_config
from glyph_assets.tooling.environ import glyph_environment
from glyph_assets.tooling.supervisor import code_server_command
from tests.support import pg
from tests.support.stack import free_port
from tests.support.warehouse import record_import, titles_migration_round_trip

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

DEMO = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "demo_listings.csv"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def dbs() -> Iterator[pg.PgDatabases]:
    pg.require_postgres()
    with pg.fresh_databases("glyph_it") as databases:
        yield databases


@pytest.fixture(scope="module")
def pg_env(
    dbs: pg.PgDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Path]]:
    """GLYPH_* and DAGSTER_HOME pointing at the fresh databases and a temporary home."""
    root = tmp_path_factory.mktemp("pg")
    env = {
        **dbs.env(),
        "GLYPH_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "GLYPH_MAX_CONCURRENT_RUNS": "3",
    }
    with glyph_environment(env) as settings:
        home = Path(env["DAGSTER_HOME"])
        write_instance_config(home, settings)
        yield settings, home


@pytest.fixture(scope="module")
def instance(pg_env: tuple[Settings, Path]) -> Iterator[DagsterInstance]:
    _, home = pg_env
    with DagsterInstance.from_config(str(home)) as dagster_instance:
        assert type(dagster_instance.run_storage).__name__ == "PostgresRunStorage"
        yield dagster_instance


def _demo() -> Path:
    if not DEMO.exists():
        pytest.skip(f"corpus not found at {DEMO}")
    return DEMO


def _register(settings: Settings, source: str) -> str:
    demo = _demo()
    registered = register_import(
        file_chunks(demo), filename=demo.name, source=source, settings=settings
    )
    return registered.import_id


def _count(engine: Engine, model: Any, import_id: str) -> int:
    with engine.connect() as conn:
        return len(
            conn.execute(select(model.import_index).where(of_import(import_id, model))).all()
        )


def _indexes(engine: Engine, model: Any, import_id: str) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(select(model.import_index).where(of_import(import_id, model))).all()
    return [r[0] for r in rows]


# --- the listing store -------------------------------------------------------------------------


_INDEX_NAMES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table",
    "postgresql": "SELECT indexname FROM pg_indexes"
    " WHERE schemaname = current_schema() AND tablename = :table",
}


def _schema(engine: Engine) -> dict[str, Any]:
    """Columns, indexes and unique constraints per table. The index names come from the catalog
    as well: SQLAlchemy's SQLite reflection skips expression indexes (``lower(vendor)``)."""
    found = inspect(engine)
    schema = {}
    for table in sorted(found.get_table_names()):
        with engine.connect() as conn:
            names = conn.execute(text(_INDEX_NAMES[engine.dialect.name]), {"table": table})
            index_names = {r[0] for r in names if r[0].startswith("ix_")}
        schema[table] = {
            "columns": sorted(c["name"] for c in found.get_columns(table)),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"])) for i in found.get_indexes(table)
            ),
            "index_names": index_names,
            "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
        }
    return schema


def test_migrations_build_the_same_schema_as_on_sqlite(dbs: pg.PgDatabases, tmp_path: Path) -> None:
    postgres = migrate(dbs.database_url)
    sqlite = migrate(f"sqlite:///{tmp_path / 'glyph.db'}")
    head = ScriptDirectory.from_config(alembic_config(dbs.database_url)).get_current_head()
    for engine in (postgres, sqlite):
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
    pg_schema, lite_schema = _schema(postgres), _schema(sqlite)
    assert {"imports", "import_runs", "listings", "row_errors", "gpu_models"} <= set(pg_schema)
    for table, shape in lite_schema.items():
        if table == "alembic_version":
            continue
        assert pg_schema[table]["columns"] == shape["columns"], table
        assert pg_schema[table]["index_names"] == shape["index_names"], table
        # SQLite reports UNIQUE constraints as indexes too, and reflects no expression index:
        # compare the columns of the named indexes it does reflect.
        reflected = {i for i in shape["indexes"] if i[0].startswith("ix_")}
        names = {name for name, _ in reflected}
        assert {i for i in pg_schema[table]["indexes"] if i[0] in names} == reflected, table
        assert pg_schema[table]["unique"] == shape["unique"], table


def test_first_migrations_from_several_processes_do_not_collide() -> None:
    pg.require_postgres()
    name = f"glyph_it_migrate_{os.getpid()}"
    pg.create_database(name)
    try:
        url = f"postgresql+psycopg://{pg.pg_user()}@{pg.PG_HOST}:{pg.PG_PORT}/{name}"
        code = "import sys; from glyph_assets.store.db import migrate; migrate(sys.argv[1])"
        procs = [
            subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
        with psycopg.connect(
            f"host={pg.PG_HOST} port={pg.PG_PORT} user={pg.pg_user()} dbname={name}"
        ) as conn:
            versions = conn.execute("select version_num from alembic_version").fetchall()
        assert len(versions) == 1
    finally:
        dispose_engines()
        pg.drop_database(name)


def test_titles_migration_converts_a_warehouse_in_place() -> None:
    """Migration 0015 on a PostgreSQL warehouse written before it (and back)."""
    pg.require_postgres()
    name = f"glyph_it_titles_{os.getpid()}"
    pg.create_database(name)
    try:
        titles_migration_round_trip(
            f"postgresql+psycopg://{pg.pg_user()}@{pg.PG_HOST}:{pg.PG_PORT}/{name}"
        )
    finally:
        dispose_engines()
        pg.drop_database(name)


def _new_import(engine: Engine, import_id: str) -> None:
    record_import(engine, import_id, source="test")


def test_replace_is_idempotent_transactional_and_uses_copy(
    dbs: pg.PgDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = migrate(dbs.database_url)
    assert engine.dialect.driver == "psycopg"
    import_id = "7f0c8a52-3a4e-4c47-9d4e-000000000001"
    _new_import(engine, import_id)

    copies: list[str] = []
    real_copy = psycopg.Cursor.copy

    def counting_copy(self: psycopg.Cursor, statement: Any, *args: Any, **kwargs: Any) -> Any:
        copies.append(statement.as_string(self) if hasattr(statement, "as_string") else statement)
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", counting_copy)
    frames = [scored_frame(3000, start, seed=1) for start in (0, 3000)]
    frames[0] = frames[0].loc[frames[0]["error_stage"].isna()].reset_index(drop=True)
    titles = ['He said "hi", twice', "two\nlines\tand a tab", "\\.", "", None, "back\\slash"]
    frames[0].loc[: len(titles) - 1, "title"] = titles
    # A scored upload's integer columns arrive as floats (4.0); COPY must still accept them.
    frames[1]["pcie_gen"] = frames[1]["pcie_gen"].astype("float64")
    # A column that mixes types is not Arrow-typable: that chunk takes the row-by-row COPY.
    frames[1]["bulk_notes"] = pd.Series([1.5, "x"] * 1500, dtype=object)
    total = len(frames[0]) + len(frames[1])
    first = repository.replace_import_rows(engine, import_id, iter(frames))
    assert first["persisted_rows"] + first["error_rows"] == total
    listing_copies = [c for c in copies if c.startswith('COPY "listings"')]
    assert len(listing_copies) == 2
    assert listing_copies[0].endswith("(FORMAT csv)")  # Arrow-built CSV
    assert listing_copies[1].endswith("FROM STDIN")  # the fallback, text rows
    assert sum(c.startswith('COPY "row_errors"') for c in copies) == 1
    with engine.connect() as conn:
        stored = conn.execute(
            select(column("title"))
            .where(of_import(import_id), Listing.import_index < len(titles))
            .order_by(Listing.import_index)
        ).scalars()
        assert list(stored) == titles  # NULL stays NULL, "" stays "", quotes and \. survive
        notes = conn.execute(
            select(Listing.bulk_notes)
            .where(of_import(import_id), Listing.import_index >= 3000)
            .order_by(Listing.import_index)
            .limit(2)
        ).scalars()
        assert list(notes) == ["1.5", "x"]
    listing_indexes = _indexes(engine, Listing, import_id)
    error_indexes = _indexes(engine, RowError, import_id)
    assert sorted(listing_indexes + error_indexes) == sorted(
        [*frames[0]["import_index"], *frames[1]["import_index"]]
    )

    again = repository.replace_import_rows(engine, import_id, iter(frames))
    assert again == first
    assert sorted(_indexes(engine, Listing, import_id)) == sorted(listing_indexes)

    def broken() -> Iterator[Any]:
        yield frames[0]
        raise RuntimeError("the run died half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        repository.replace_import_rows(engine, import_id, broken())
    # The failed write rolled back as a whole: the earlier rows are all still there.
    assert _count(engine, Listing, import_id) == first["persisted_rows"]
    assert _count(engine, RowError, import_id) == first["error_rows"]
    with engine.connect() as conn:
        pcie = conn.execute(
            select(column("pcie_gen"))
            .select_from(LISTINGS)
            .where(of_import(import_id), Listing.import_index >= 3000)
        ).scalars()
        assert {type(v) for v in pcie if v is not None} == {int}


def _plan_indexes(engine: Engine, statement: Any) -> set[str]:
    compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
    names: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            names.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return names


def test_indexes_serve_the_api_filters(dbs: pg.PgDatabases) -> None:
    engine = migrate(dbs.database_url)
    import_ids = [f"3b1e5f7a-0000-4000-8000-{n:012d}" for n in range(12)]
    for n, import_id in enumerate(import_ids):
        _new_import(engine, import_id)
        repository.replace_import_rows(engine, import_id, iter([scored_frame(2000, seed=n)]))
    # Many imports, few failed, row errors spread over them: a long-lived instance's shape.
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO imports (import_id, import_key, source, sha256, size_bytes, kind, "
                "status, created_at, updated_at) SELECT md5(g::text),"
                " (SELECT max(import_key) FROM imports) + g, 'bulk', "
                "repeat('0', 64), 0, 'raw', "
                "CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'succeeded' END, "
                "now() - g * interval '1 minute', now() FROM generate_series(1, 20000) g"
            )
        )
        conn.execute(
            text(
                "INSERT INTO row_errors (import_key, import_index, stage, reason) "
                "SELECT i.import_key, g, 'clean', 'price is not a number' "
                "FROM generate_series(1, 40000) g "
                "JOIN imports i ON i.import_id = md5((g % 20000 + 1)::text)"
            )
        )
        conn.execute(text("ANALYZE"))

    one = import_ids[3]
    checks = {
        "ix_listings_import_score_desc": select(Listing.import_index, Listing.score)
        .where(of_import(one))
        .order_by(Listing.score.desc().nulls_last(), Listing.import_index)
        .limit(50),
        "ix_listings_model_score": select(Listing.import_key, Listing.score)
        .where(Listing.canonical_model == "MI300X")
        .order_by(Listing.score.desc().nulls_last())
        .limit(50),
        "ix_imports_status": select(Import.import_id).where(Import.status == "failed").limit(50),
        "ix_imports_created_at": select(Import.import_id)
        .where(Import.created_at >= text("now() - interval '30 minutes'"))
        .order_by(Import.created_at.desc())
        .limit(50),
        "uq_row_errors_import_row": select(RowError.import_index)
        .where(of_import(one, RowError))
        .order_by(RowError.import_index)
        .limit(50),
        "uq_listings_import_row": select(Listing.import_index)
        .where(of_import(one))
        .order_by(Listing.import_index)
        .limit(50),
    }
    used = {name: _plan_indexes(engine, query) for name, query in checks.items()}
    for name, indexes in used.items():
        assert name in indexes, f"{name} not used: plan used {sorted(indexes) or 'no index'}"


# --- Dagster on PostgreSQL ---------------------------------------------------------------------


def _input_rows() -> int:
    return sum(len(chunk) for chunk in iter_raw_chunks(_demo(), filename=DEMO.name))


def test_pipeline_materializes_on_postgres_and_reruns_idempotently(
    pg_env: tuple[Settings, Path], instance: DagsterInstance
) -> None:
    settings, _ = pg_env
    import_id = _register(settings, "pg-e2e")
    instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, [import_id])
    io_manager = ParquetPartsIOManager(base_dir=str(settings.staging_dir))
    engine = get_engine(settings.sqlalchemy_url)
    assert engine.dialect.name == "postgresql"
    total = _input_rows()

    counts = []
    for _ in range(2):
        result = materialize(
            PIPELINE_ASSETS,
            partition_key=import_id,
            instance=instance,
            resources={"io_manager": io_manager, **resources_from(settings)},
        )
        assert result.success
        stored = instance.get_run_by_id(result.run_id)
        assert stored is not None and stored.status == DagsterRunStatus.SUCCESS
        listings = _indexes(engine, Listing, import_id)
        errors = _indexes(engine, RowError, import_id)
        assert sorted(listings + errors) == list(range(1, total + 1))
        counts.append((len(listings), len(errors)))
    assert counts[0] == counts[1]

    record = repository.get_import(engine, import_id)
    assert record is not None
    assert record["status"] in ("succeeded", "partially_succeeded")
    assert record["total_rows"] == total
    assert record["persisted_rows"] == counts[0][0]
    # Dagster's event log lives in PostgreSQL too: both materializations of the partition.
    records = instance.fetch_materializations(PIPELINE_ASSETS[-1].key, limit=10).records
    assert sum(r.partition_key == import_id for r in records) == 2
    with psycopg.connect(pg_env[0].dagster_postgres_url.replace("+psycopg", "")) as conn:
        runs = conn.execute("select count(*) from runs").fetchone()
    assert runs is not None and runs[0] >= 2


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"code server exited with {proc.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"code server did not listen on {port} within {timeout:.0f} s")


@pytest.fixture
def daemon_stack(pg_env: tuple[Settings, Path]) -> Iterator[Path]:
    """One code server and the daemon (queue: 3 runs at once) on the PostgreSQL instance."""
    settings, home = pg_env
    assert settings.max_concurrent_runs == 3
    port = free_port()
    workspace = grpc_workspace(home, "127.0.0.1", port, settings.dagster_location)
    logs = home / "stack"
    logs.mkdir(exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    commands = {
        "code-server": code_server_command("127.0.0.1", port, settings.dagster_location),
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
    }
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands.items():
            with open(logs / f"{name}.log", "ab") as log:
                procs[name] = subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            if name == "code-server":
                _wait_port(port, procs[name], 60)
        yield workspace
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _launch(workspace: Path, import_id: str) -> subprocess.Popen:
    """Submit an ingest run to the instance's queue, as any Dagster client would."""
    tags = {PARTITION_TAG: import_id, IMPORT_TAG: import_id}
    return subprocess.Popen(
        [
            str(BIN / "dagster"),
            "job",
            "launch",
            "-w",
            str(workspace),
            "-j",
            INGEST_JOB_NAME,
            "--tags",
            json.dumps(tags),
        ],
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_blocked_writers(conn: psycopg.Connection, dbname: str, count: int) -> None:
    """Until ``count`` backends wait on the listings lock in their DELETE (all writing at once)."""
    deadline = time.monotonic() + 240
    blocked = 0
    while time.monotonic() < deadline:
        row = conn.execute(
            "select count(*) from pg_stat_activity where datname = %s "
            "and wait_event_type = 'Lock' and query ilike 'DELETE FROM listings%%'",
            (dbname,),
        ).fetchone()
        blocked = row[0] if row else 0
        if blocked >= count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"only {blocked} of {count} runs reached their write")


def _step_window(instance: DagsterInstance, run_id: str, step: str) -> tuple[float, float]:
    events = instance.all_logs(
        run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    )
    times = {e.dagster_event.event_type: e.timestamp for e in events if e.step_key == step}
    return times[DagsterEventType.STEP_START], times[DagsterEventType.STEP_SUCCESS]


@pytest.mark.timeout(420)
def test_three_imports_ingest_at_once_through_the_queue(
    pg_env: tuple[Settings, Path],
    instance: DagsterInstance,
    daemon_stack: Path,
    dbs: pg.PgDatabases,
) -> None:
    settings, _ = pg_env
    import_ids = [_register(settings, f"pg-concurrent-{n}") for n in range(3)]
    instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, import_ids)
    # Hold writes to listings back (readers pass) until all three runs are inside their write
    # transaction: then they are released together and really write at the same time.
    gate = psycopg.connect(  # autocommit: pg_stat_activity is a snapshot per transaction
        f"host={pg.PG_HOST} port={pg.PG_PORT} user={dbs.user} dbname=test", autocommit=True
    )
    holder = psycopg.connect(
        f"host={pg.PG_HOST} port={pg.PG_PORT} user={dbs.user} dbname={dbs.glyph_db}"
    )
    try:
        holder.execute("LOCK TABLE listings IN SHARE MODE")
        launchers = [_launch(daemon_stack, import_id) for import_id in import_ids]
        for launcher in launchers:
            output, _ = launcher.communicate(timeout=180)
            assert launcher.returncode == 0, output
        _wait_for_blocked_writers(gate, dbs.glyph_db, 3)
        holder.commit()
    finally:
        holder.close()
        gate.close()

    deadline = time.monotonic() + 180
    runs: list[Any] = []
    while time.monotonic() < deadline:
        runs = [
            r
            for r in instance.get_runs(RunsFilter(tags={IMPORT_TAG: import_ids}))
            if r.tags.get(IMPORT_TAG) in import_ids
        ]
        if len(runs) == 3 and all(r.is_finished for r in runs):
            break
        time.sleep(1)
    statuses = {r.tags[IMPORT_TAG]: r.status for r in runs}
    assert statuses == {i: DagsterRunStatus.SUCCESS for i in import_ids}, statuses

    for run in runs:
        troubles = instance.all_logs(
            run.run_id,
            of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY},
        )
        assert not troubles, [e.message for e in troubles]
    windows = [_step_window(instance, r.run_id, PERSISTED_LISTINGS) for r in runs]
    records = [instance.get_run_record_by_id(r.run_id) for r in runs]
    timing = [(r.create_timestamp.timestamp(), r.start_time, r.end_time) for r in records if r]
    assert max(start for start, _ in windows) < min(end for _, end in windows), (windows, timing)

    engine = get_engine(settings.sqlalchemy_url)
    total = _input_rows()
    for import_id in import_ids:
        found = _indexes(engine, Listing, import_id) + _indexes(engine, RowError, import_id)
        assert sorted(found) == list(range(1, total + 1))
        record = repository.get_import(engine, import_id)
        assert record is not None and record["status"] in ("succeeded", "partially_succeeded")
