"""Runs an operator starts in Dagster (UI materializations, backfills) are attempts of the import.

They run Dagster's implicit asset job ``__ASSET_JOB``, not ``ingest_import``; the tests launch them
through Dagster's GraphQL exactly as the UI does, on the session's stack (conftest.running_stack),
and read the import back through the REST API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from glyph_assets.contract import PIPELINE_STAGES
from glyph_assets.sensors import run_failure_message
from tests.support.imports import SAMPLE, TERMINAL, outcome_counts, upload, wait_final
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ASSET_SELECTION = [{"path": [name]} for name in PIPELINE_STAGES]

_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""

_LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""

_TERMINATE = """
mutation($id: String!) {
  terminateRun(runId: $id, terminatePolicy: SAFE_TERMINATE) {
    __typename
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
  }
}
"""

_TAGS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { jobName tags { key value } } } }"


@pytest.fixture(scope="module")
def api(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_stack.api_url, timeout=400) as client:
        yield client


def graphql(stack: RunningStack, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.dagster_url}/graphql",
        json={"query": query, "variables": variables},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return dict(body["data"])


def wait_until(
    api: httpx.Client, import_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 240
) -> dict[str, Any]:
    started = time.monotonic()
    deadline = started + timeout
    summary: dict[str, Any] = {}
    while time.monotonic() < deadline:
        summary = api.get(f"/api/imports/{import_id}").json()
        if done(summary):
            print(f"{import_id}: {summary['status']} after {time.monotonic() - started:.1f} s")
            return summary
        time.sleep(0.5)
    raise AssertionError(f"import {import_id} never reached the expected state: {summary}")


def settled_after(attempts: int) -> Callable[[dict[str, Any]], bool]:
    """At least ``attempts`` runs recorded, all of them finished, and the import final."""

    def done(summary: dict[str, Any]) -> bool:
        runs = summary["runs"]
        return (
            len(runs) >= attempts
            and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
            and summary["status"] in TERMINAL
        )

    return done


def imported(api: httpx.Client, source: str, **fields: Any) -> dict[str, Any]:
    response = upload(api, SAMPLE, source=source, **fields)
    assert response.status_code == 202, response.text
    return wait_final(api, response.json()["import_id"])


def run_tags(stack: RunningStack, run_id: str) -> tuple[str, dict[str, str]]:
    run = graphql(stack, _TAGS, {"id": run_id})["runOrError"]
    return run["jobName"], {t["key"]: t["value"] for t in run["tags"]}


STEP_ERROR = "step enriched_listings: RuntimeError: fault switch set for enriched_listings"


@pytest.fixture(scope="module")
def failed_then_backfilled(api: httpx.Client, running_stack: RunningStack) -> dict[str, Any]:
    """An import whose API run failed at a step, and a backfill over its partition launched at
    once: the backfill daemon's 30 s cycle then passes while the other tests run."""
    failed = imported(
        api,
        "itest-step-error",
        run_config={"ops": {"enriched_listings": {"config": {"fail": True}}}},
    )
    launched = graphql(
        running_stack,
        _BACKFILL,
        {
            "params": {
                "assetSelection": ASSET_SELECTION,
                "partitionNames": [failed["import_id"]],
                "title": "itest backfill",
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return {"failed": failed, "backfill_id": launched["backfillId"]}


def test_an_api_run_that_fails_names_the_step_and_its_error(
    api: httpx.Client, running_stack: RunningStack, failed_then_backfilled: dict[str, Any]
) -> None:
    failed = failed_then_backfilled["failed"]
    assert failed["status"] == "failed" and failed["error_message"] == STEP_ERROR, failed
    run_id = failed["runs"][0]["run_id"]
    job = api.get(f"/api/jobs/{run_id}/status").json()
    assert job["failure_message"] == STEP_ERROR
    # The failure sensor reads the step events from the instance, not GraphQL: same text.
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(running_stack.home))) as instance:
        generic = "Execution of run failed."
        assert run_failure_message(instance, run_id, generic) == STEP_ERROR


def launch_ui_run(stack: RunningStack, import_id: str, ops: dict[str, Any]) -> str:
    """Materialize the pipeline assets of one partition as the UI's "Materialize" does."""
    launched = graphql(
        stack,
        _LAUNCH,
        {
            "params": {
                "selector": {
                    "repositoryLocationName": stack.settings.dagster_location,
                    "repositoryName": "__repository__",
                    "jobName": "__ASSET_JOB",
                    "assetSelection": ASSET_SELECTION,
                    "assetCheckSelection": [],
                },
                "runConfigData": {"ops": ops},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": import_id}]},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return str(launched["run"]["runId"])


def test_a_ui_run_is_an_attempt_from_its_start_and_its_cancel_cancels_the_import(
    api: httpx.Client, running_stack: RunningStack
) -> None:
    first = imported(api, "itest-ui-cancel")
    import_id = first["import_id"]
    assert first["persisted_rows"] > 0
    run_id = launch_ui_run(
        running_stack, import_id, {"enriched_listings": {"config": {"delay_seconds": 60}}}
    )

    running = wait_until(api, import_id, lambda s: len(s["runs"]) == 2, timeout=60)
    assert running["status"] == "running"
    assert [(r["run_id"], r["attempt"]) for r in running["runs"]] == [
        (first["runs"][0]["run_id"], 1),
        (run_id, 2),
    ]
    stopped = graphql(running_stack, _TERMINATE, {"id": run_id})["terminateRun"]
    assert stopped["__typename"] == "TerminateRunSuccess", stopped
    canceled = wait_until(api, import_id, settled_after(2), timeout=60)
    assert canceled["status"] == "canceled" and canceled["runs"][1]["status"] == "CANCELED"
    assert outcome_counts(running_stack, import_id) == {
        "persisted_rows": 0,
        "error_rows": 0,
        "not_gpu_rows": 0,
        "unknown_model_rows": 0,
    }


def test_a_failing_ui_run_fails_the_import_with_its_steps_error(
    api: httpx.Client, running_stack: RunningStack
) -> None:
    first = imported(api, "itest-ui-run")
    import_id = first["import_id"]
    run_id = launch_ui_run(
        running_stack, import_id, {"normalized_listings": {"config": {"fail": True}}}
    )

    failed = wait_until(api, import_id, settled_after(2))
    assert failed["status"] == "failed", failed
    assert failed["error_message"] == (
        "step normalized_listings: RuntimeError: fault switch set for normalized_listings"
    )
    assert [(r["run_id"], r["attempt"], r["status"]) for r in failed["runs"][1:]] == [
        (run_id, 2, "FAILURE")
    ]

    # The operator's retry through the API resumes the UI run from its failed step.
    retried = api.post(f"/api/imports/{import_id}/retry", json={"run_config": {}})
    assert retried.status_code == 202, retried.text
    retry = retried.json()
    assert (retry["attempt"], retry["parent_run_id"]) == (3, run_id), retry
    done = wait_until(api, import_id, settled_after(3))
    assert done["status"] in ("succeeded", "partially_succeeded"), done
    assert done["error_message"] is None
    assert [r["attempt"] for r in done["runs"]] == [1, 2, 3]


def test_a_backfill_over_the_imports_partitions_is_an_attempt(
    api: httpx.Client, running_stack: RunningStack, failed_then_backfilled: dict[str, Any]
) -> None:
    """The backfill re-runs the failed import: it is attempt 2 and the import ends succeeded."""
    failed = failed_then_backfilled["failed"]
    import_id = failed["import_id"]
    assert [r["attempt"] for r in failed["runs"]] == [1]

    done = wait_until(api, import_id, settled_after(2))
    assert done["status"] in ("succeeded", "partially_succeeded"), done
    assert done["error_message"] is None
    attempts = [r["attempt"] for r in done["runs"]]
    assert attempts == list(range(1, len(attempts) + 1)) and len(attempts) >= 2, done["runs"]
    later = done["runs"][1:]
    for run in later:
        job, tags = run_tags(running_stack, run["run_id"])
        assert job == "__ASSET_JOB", job
        assert tags.get("dagster/backfill") == failed_then_backfilled["backfill_id"], tags
        assert run["status"] == "SUCCESS"
    counts = outcome_counts(running_stack, import_id)
    assert counts["persisted_rows"] + counts["error_rows"] == done["total_rows"] > 0
    assert {k: done[k] for k in counts} == counts
