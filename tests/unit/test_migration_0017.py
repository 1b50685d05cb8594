"""Migration 0017: runs recorded before it keep every field, their Dagster facts unknown (NULL),
and the store reads them at head; a downgrade drops the three columns."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from glyph_assets.store import repository
from tests.support.warehouse import insert_rows, warehouse_at

IMPORT_ID = "00000000-0000-4000-8000-000000000017"
FACTS = ("parent_run_id", "started_at", "ended_at")


def test_runs_recorded_before_keep_their_fields_and_downgrade_drops_the_facts(
    glyph_env: object, tmp_path: Path
) -> None:
    url, config = warehouse_at(tmp_path, "0016", IMPORT_ID)
    engine = create_engine(url)
    run = {"import_id": IMPORT_ID, "run_id": "old-run", "attempt": 1, "status": "SUCCESS"}
    times = {"created_at": "2026-12-01 10:00:00", "updated_at": "2026-12-01 10:05:00"}
    insert_rows(engine, "import_runs", [run | times])
    command.upgrade(config, "0017")
    [stored] = repository.runs_of(engine, IMPORT_ID)
    assert {k: stored[k] for k in run} == run
    assert [stored[k] for k in FACTS] == [None, None, None]
    facts = repository.RunFacts.of("parent", 1_765_000_000.0, 1_765_000_060.0)
    repository.set_run_status(engine, "old-run", "SUCCESS", facts)
    [stored] = repository.runs_of(engine, IMPORT_ID)
    assert stored["parent_run_id"] == "parent" and stored["ended_at"] is not None
    command.downgrade(config, "0016")
    with engine.connect() as conn:
        columns = {r[1] for r in conn.execute(text("PRAGMA table_info(import_runs)"))}
        kept = conn.execute(text("SELECT run_id, attempt, status FROM import_runs")).all()
    assert columns.isdisjoint(FACTS) and "status" in columns
    assert [tuple(r) for r in kept] == [("old-run", 1, "SUCCESS")]
    engine.dispose()
