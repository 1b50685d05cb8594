"""An import's asset checks run after its ingest run, as a run of ``check_import`` that the
checks sensor launches, on the session's stack (conftest.running_stack): the import ends without
waiting for them, and their results land on the import's partition all the same."""

from __future__ import annotations

import time

import httpx
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from glyph_assets.contract import CHECK_JOB_NAME, CHECKED_RUN_TAG, INGEST_JOB_NAME
from tests.support.imports import TWO_DTO_ROWS
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def _checks_run(instance: DagsterInstance, ingest_run_id: str, timeout: float) -> DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.get_runs(RunsFilter(tags={CHECKED_RUN_TAG: ingest_run_id}))
        if runs and runs[0].status in FINISHED:
            assert len(runs) == 1, [r.run_id for r in runs]
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"no finished check_import run for {ingest_run_id} in {timeout:.0f} s")


def test_the_checks_follow_the_ingest_run_on_its_partition(running_stack: RunningStack) -> None:
    with httpx.Client(base_url=running_stack.api_url, timeout=120) as api:
        done = api.post("/api/persist/listings", json=TWO_DTO_ROWS)
        assert done.status_code == 200, done.text
        import_id = done.json()["import_id"]
        summary = api.get(f"/api/imports/{import_id}").json()
    assert summary["status"] == "succeeded"
    [ingest] = summary["runs"]

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(running_stack.home))) as instance:
        ingest_run = instance.get_run_by_id(ingest["run_id"])
        assert ingest_run is not None and ingest_run.job_name == INGEST_JOB_NAME
        ingest_steps = {s.step_key for s in instance.get_run_step_stats(ingest_run.run_id)}
        assert "persisted_listings" in ingest_steps
        assert not [s for s in ingest_steps if s.endswith("_checks")], ingest_steps

        # up to CHECKS_YIELD_SECONDS later if another import of the session is still under way
        checks = _checks_run(instance, ingest_run.run_id, timeout=150)
        assert checks.job_name == CHECK_JOB_NAME
        assert checks.status == DagsterRunStatus.SUCCESS, running_stack.logs()
        assert checks.tags["dagster/partition"] == import_id
        evaluations = [
            record.event_log_entry.dagster_event.event_specific_data
            for record in instance.get_records_for_run(
                checks.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
        ]
    assert len(evaluations) == 17
    assert {e.partition for e in evaluations} == {import_id}
    assert all(e.passed for e in evaluations), [e.check_name for e in evaluations if not e.passed]

    # the checks run is not an attempt of the import: its status and runs stay as they were
    with httpx.Client(base_url=running_stack.api_url, timeout=60) as api:
        after = api.get(f"/api/imports/{import_id}").json()
    assert after["status"] == "succeeded"
    assert [r["run_id"] for r in after["runs"]] == [ingest["run_id"]]
