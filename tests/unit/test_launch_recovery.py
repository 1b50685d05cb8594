"""Launches a killed process cut short (glyph_assets.launch_recovery), on a real SQLite
DagsterInstance and a real SQLite warehouse: what stalled is settled, what is fresh or already
launched is left alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test, instance_for_test
from sqlalchemy import Engine

from glyph_assets.contract import IMPORT_TAG
from glyph_assets.launch_recovery import (
    ADOPTED,
    DELETED,
    FAILED,
    NEVER_LAUNCHED,
    QUEUED,
    recover_stalled_launches,
)
from glyph_assets.store import repository
from glyph_assets.store.status import ImportStatus
from tests.support.runs import ingest_run
from tests.support.warehouse import record_import, warehouse_with_import

STALL = 90.0
LATER = timedelta(seconds=STALL + 1)


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return warehouse_with_import(f"sqlite:///{tmp_path / 'glyph.db'}", "launched")


def _run(instance: DagsterInstance, import_id: str, status: DagsterRunStatus) -> str:
    return ingest_run(instance, {IMPORT_TAG: import_id}, status).run_id


def _status(instance: DagsterInstance, run_id: str) -> DagsterRunStatus | None:
    run = instance.get_run_by_id(run_id)
    return None if run is None else run.status


def test_a_stalled_not_started_run_is_queued(instance: DagsterInstance, engine: Engine) -> None:
    run_id = _run(instance, "launched", DagsterRunStatus.NOT_STARTED)
    repository.add_run(engine, "launched", run_id)

    done = recover_stalled_launches(instance, engine, datetime.now(UTC) + LATER, STALL)

    assert done.ids(QUEUED) == [run_id]
    assert _status(instance, run_id) == DagsterRunStatus.QUEUED


def test_a_fresh_not_started_run_is_left_to_its_submitter(
    instance: DagsterInstance, engine: Engine
) -> None:
    run_id = _run(instance, "launched", DagsterRunStatus.NOT_STARTED)
    repository.add_run(engine, "launched", run_id)

    done = recover_stalled_launches(instance, engine, datetime.now(UTC), STALL)

    assert not done
    assert _status(instance, run_id) == DagsterRunStatus.NOT_STARTED


def test_a_stalled_run_replaced_by_a_newer_one_is_deleted(
    instance: DagsterInstance, engine: Engine
) -> None:
    stalled = _run(instance, "launched", DagsterRunStatus.NOT_STARTED)
    newer = _run(instance, "launched", DagsterRunStatus.SUCCESS)
    repository.add_run(engine, "launched", newer, status="SUCCESS")

    done = recover_stalled_launches(instance, engine, datetime.now(UTC) + LATER, STALL)

    assert done.ids(DELETED) == [stalled]
    assert instance.get_run_by_id(stalled) is None
    assert _status(instance, newer) == DagsterRunStatus.SUCCESS


def test_an_import_whose_run_exists_records_it(instance: DagsterInstance, engine: Engine) -> None:
    first = _run(instance, "launched", DagsterRunStatus.FAILURE)
    second = _run(instance, "launched", DagsterRunStatus.STARTED)

    done = recover_stalled_launches(instance, engine, datetime.now(UTC) + LATER, STALL)

    assert done.ids(ADOPTED) == ["launched"]
    runs = repository.runs_of(engine, "launched")
    assert [(r["run_id"], r["attempt"]) for r in runs] == [(first, 1), (second, 2)]
    assert repository.get_import(engine, "launched")["status"] == ImportStatus.QUEUED


def test_an_import_never_launched_fails_with_the_reason(
    instance: DagsterInstance, engine: Engine
) -> None:
    done = recover_stalled_launches(instance, engine, datetime.now(UTC) + LATER, STALL)

    assert done.ids(FAILED) == ["launched"]
    record = repository.get_import(engine, "launched")
    assert record["status"] == ImportStatus.FAILED
    assert record["error_message"] == NEVER_LAUNCHED


def test_young_imports_and_imports_with_runs_are_left_alone(
    instance: DagsterInstance, engine: Engine
) -> None:
    record_import(engine, "running", status=ImportStatus.RUNNING)
    record_import(engine, "recorded")
    repository.add_run(engine, "recorded", _run(instance, "recorded", DagsterRunStatus.QUEUED))

    assert not recover_stalled_launches(instance, engine, datetime.now(UTC), STALL)
    done = recover_stalled_launches(instance, engine, datetime.now(UTC) + LATER, STALL)

    assert done.ids(FAILED) == ["launched"]  # only the import that has no run and is queued
    assert repository.get_import(engine, "running")["status"] == ImportStatus.RUNNING
    assert repository.get_import(engine, "recorded")["status"] == ImportStatus.QUEUED


def test_a_stalled_run_the_queue_cannot_launch_is_deleted(
    instance: DagsterInstance, engine: Engine
) -> None:
    orphan = create_run_for_test(instance, job_name="ingest_import", tags={IMPORT_TAG: "launched"})
    other = create_run_for_test(instance, job_name="market_refresh")  # not an import's run

    done = recover_stalled_launches(instance, engine, datetime.now(UTC) + LATER, STALL)

    assert done.ids(DELETED) == [orphan.run_id]
    assert _status(instance, other.run_id) == DagsterRunStatus.NOT_STARTED
