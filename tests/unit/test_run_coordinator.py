"""The run queue's fast lane (glyph_assets.run_coordinator), on a real SQLite DagsterInstance
whose launcher only records what it was asked to launch (Dagster's own MockedRunLauncher)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dagster import DagsterInstance
from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.test_utils import instance_for_test

from glyph_assets.contract import BACKGROUND_TAGS, LAUNCH_EXPRESS, LAUNCH_TAG, launch_tags
from glyph_assets.run_coordinator import ExpressRunCoordinator
from tests.support.runs import ingest_run

EXPRESS = {LAUNCH_TAG: LAUNCH_EXPRESS}


@pytest.fixture
def instance(request: pytest.FixtureRequest) -> Iterator[DagsterInstance]:
    limit = getattr(request, "param", 2)
    overrides = {
        "run_coordinator": {
            "module": "glyph_assets.run_coordinator",
            "class": "ExpressRunCoordinator",
            "config": {"max_concurrent_runs": limit},
        },
        "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
    }
    with instance_for_test(overrides=overrides) as test_instance:
        yield test_instance


def _submit(instance: DagsterInstance, tags: dict[str, str] | None = None) -> DagsterRun:
    run = ingest_run(instance, tags)
    coordinator = instance.run_coordinator
    assert isinstance(coordinator, ExpressRunCoordinator)
    return coordinator.submit_run(SubmitRunContext(run, workspace=None))  # type: ignore[arg-type]


def _launched(instance: DagsterInstance) -> list[str]:
    return [r.run_id for r in instance.run_launcher.queue()]  # type: ignore[attr-defined]


def test_an_express_run_is_launched_at_once_while_the_queue_has_room(
    instance: DagsterInstance,
) -> None:
    run = _submit(instance, EXPRESS)
    assert run.status == DagsterRunStatus.STARTING
    assert _launched(instance) == [run.run_id]


def test_a_run_without_the_tag_is_queued_as_before(instance: DagsterInstance) -> None:
    run = _submit(instance, {"glyph/import_id": "x"})
    assert run.status == DagsterRunStatus.QUEUED
    assert _launched(instance) == []


def test_an_express_run_never_overtakes_a_queued_one(instance: DagsterInstance) -> None:
    waiting = _submit(instance)
    run = _submit(instance, EXPRESS)
    assert (waiting.status, run.status) == (DagsterRunStatus.QUEUED, DagsterRunStatus.QUEUED)
    assert _launched(instance) == []


def test_a_queued_background_run_does_not_hold_an_express_run_back(
    instance: DagsterInstance,
) -> None:
    """The checks after an import wait in the queue (nobody waits for them); a small import a
    client waits for still takes the fast lane, as long as there is room."""
    background = _submit(instance, BACKGROUND_TAGS)
    assert background.status == DagsterRunStatus.QUEUED
    run = _submit(instance, EXPRESS)
    assert run.status == DagsterRunStatus.STARTING
    assert _launched(instance) == [run.run_id]
    queued = _submit(instance, {"glyph/import_id": "x"})  # any other queued run still counts
    assert queued.status == DagsterRunStatus.QUEUED
    assert _submit(instance, EXPRESS).status == DagsterRunStatus.QUEUED


def test_express_runs_respect_the_concurrent_run_limit(instance: DagsterInstance) -> None:
    first, second = _submit(instance, EXPRESS), _submit(instance, EXPRESS)
    third = _submit(instance, EXPRESS)  # two are in progress (STARTING): the limit is 2
    assert [first.status, second.status] == [DagsterRunStatus.STARTING] * 2
    assert third.status == DagsterRunStatus.QUEUED
    assert _launched(instance) == [first.run_id, second.run_id]


@pytest.mark.parametrize("instance", [0], indirect=True)
def test_a_paused_queue_launches_nothing(instance: DagsterInstance) -> None:
    assert _submit(instance, EXPRESS).status == DagsterRunStatus.QUEUED


@pytest.mark.parametrize("instance", [-1], indirect=True)
def test_no_limit_launches_every_express_run(instance: DagsterInstance) -> None:
    runs = [_submit(instance, EXPRESS) for _ in range(5)]
    assert {r.status for r in runs} == {DagsterRunStatus.STARTING}


@pytest.mark.parametrize(
    ("size", "limit", "tags"),
    [
        (0, 1024, EXPRESS),
        (1024, 1024, EXPRESS),
        (1025, 1024, {}),
        (None, 1024, {}),  # size unknown: queued
        (10, 0, {}),  # 0 queues every run
        (0, 0, {}),  # even an empty file
    ],
)
def test_launch_tags_mark_small_files_express(
    size: int | None, limit: int, tags: dict[str, str]
) -> None:
    assert launch_tags(size, limit) == tags


@pytest.mark.parametrize(
    ("size", "limit", "tags"),
    [
        (10**9, 1024, EXPRESS),  # a client waits for it: express at any size
        (None, 1024, EXPRESS),
        (10, 0, {}),  # 0 still queues every run
    ],
)
def test_launch_tags_mark_runs_a_client_waits_for_express(
    size: int | None, limit: int, tags: dict[str, str]
) -> None:
    assert launch_tags(size, limit, waited_on=True) == tags
