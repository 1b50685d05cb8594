"""WarmRunLauncher on a real Dagster instance (SQLite, its own DAGSTER_HOME): a launched run
executes in a worker forked from the preloaded fork server, is visible with its worker, can be
terminated (also while still starting), and a worker that dies fails its run at once."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from dagster import DagsterInstance, reconstructable
from dagster._core.launcher.base import WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from glyph_assets.contract import PRIORITY_BACKGROUND, PRIORITY_TAG, RUN_WORKER_TAG
from glyph_assets.run_launcher import (
    BACKGROUND_NICENESS,
    WarmRunLauncher,
    live_worker,
    worker_of,
)
from tests.support.launcher_jobs import define_probe_job

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterInstance]:
    home = tmp_path_factory.mktemp("warm_home")
    config = {
        "run_launcher": {
            "module": "glyph_assets.run_launcher",
            "class": "WarmRunLauncher",
            "config": {"preload_modules": ["dagster", "tests.support.launcher_jobs"]},
        },
        "telemetry": {"enabled": False},
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with DagsterInstance.from_config(str(home)) as loaded:
        yield loaded


def _launch(
    instance: DagsterInstance, tags: dict[str, str] | None = None, **probe: Any
) -> DagsterRun:
    recon = reconstructable(define_probe_job)
    run = instance.create_run_for_job(
        job_def=recon.get_definition(),
        run_config={"ops": {"probe": {"config": probe}}},
        job_code_origin=recon.get_python_origin(),
        tags=tags,
    )
    return instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]


def _wait(instance: DagsterInstance, run_id: str, statuses: set[DagsterRunStatus]) -> DagsterRun:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        if run.status in statuses:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {statuses}: {run.status}")


def _messages(instance: DagsterInstance, run_id: str) -> list[str]:
    return [r.message or "" for r in instance.all_logs(run_id)]


def _running_worker(instance: DagsterInstance, run_id: str) -> psutil.Process:
    run = _wait(instance, run_id, {DagsterRunStatus.STARTED})
    worker = live_worker(run)
    assert worker is not None, run.tags
    return worker


def test_the_instance_builds_the_warm_launcher(instance: DagsterInstance) -> None:
    assert isinstance(instance.run_launcher, WarmRunLauncher)


def test_a_run_executes_in_a_forked_worker_that_records_itself(
    instance: DagsterInstance,
) -> None:
    run = _launch(instance)
    done = _wait(instance, run.run_id, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE})
    assert done.status == DagsterRunStatus.SUCCESS
    known = worker_of(done)
    assert known is not None
    pid, _started = known
    assert pid != os.getpid()
    messages = _messages(instance, run.run_id)
    assert any(m == f"probe pid {pid}" for m in messages), messages
    assert any("Forked run worker from the warm fork server" in m for m in messages), messages
    assert any(m == f"Started process for run (pid: {pid})." for m in messages)
    # Finished: once the worker has exited it is reported as no longer running.
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(30)
    health = instance.run_launcher.check_run_worker_health(done)
    assert health.status == WorkerStatus.FAILED


def test_a_background_run_yields_the_cpu_and_others_do_not(instance: DagsterInstance) -> None:
    """The checks after an import run tagged background: their worker lowers its priority, so
    on a busy machine the imports clients wait for come first; other runs keep the default."""
    base = os.nice(0)
    background = _launch(instance, tags={PRIORITY_TAG: PRIORITY_BACKGROUND})
    plain = _launch(instance)
    for run, niceness in ((background, base + BACKGROUND_NICENESS), (plain, base)):
        done = _wait(instance, run.run_id, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE})
        assert done.status == DagsterRunStatus.SUCCESS
        messages = _messages(instance, run.run_id)
        assert f"probe niceness {min(niceness, 19)}" in messages, messages


def test_health_follows_the_worker_and_terminate_cancels_it(instance: DagsterInstance) -> None:
    run = _launch(instance, sleep_seconds=60)
    worker = _running_worker(instance, run.run_id)
    started = instance.get_run_by_id(run.run_id)
    assert started is not None
    # Another process's launcher (the webserver's, the monitoring daemon's) sees the same worker.
    other = WarmRunLauncher()
    assert other.check_run_worker_health(started).status == WorkerStatus.RUNNING

    assert instance.run_launcher.terminate(run.run_id) is True
    canceled = _wait(instance, run.run_id, {DagsterRunStatus.CANCELED, DagsterRunStatus.FAILURE})
    assert canceled.status == DagsterRunStatus.CANCELED
    worker.wait(30)
    assert instance.run_launcher.terminate(run.run_id) is False  # already finished


def test_a_termination_the_worker_missed_is_sent_again(instance: DagsterInstance) -> None:
    """The worker misses the first SIGTERM (as when the interrupt is raised inside a garbage
    collector's callback): the launcher signals it again while the run is still CANCELING."""
    run = _launch(instance, sleep_seconds=60, lose_first_interrupt=True)
    worker = _running_worker(instance, run.run_id)
    deadline = time.monotonic() + 60
    while not any(m.startswith("probe pid") for m in _messages(instance, run.run_id)):
        assert time.monotonic() < deadline, "the probe never started"
        time.sleep(0.05)
    started = time.monotonic()
    assert instance.run_launcher.terminate(run.run_id) is True
    canceled = _wait(instance, run.run_id, {DagsterRunStatus.CANCELED, DagsterRunStatus.FAILURE})
    assert canceled.status == DagsterRunStatus.CANCELED
    assert time.monotonic() - started < 30  # not the probe's 60 s sleep
    assert any("termination sent again" in m for m in _messages(instance, run.run_id))
    worker.wait(30)


def test_a_run_terminated_while_starting_is_canceled_by_its_worker(
    instance: DagsterInstance,
) -> None:
    recon = reconstructable(define_probe_job)
    run = instance.create_run_for_job(
        job_def=recon.get_definition(),
        run_config={"ops": {"probe": {"config": {"sleep_seconds": 60}}}},
        job_code_origin=recon.get_python_origin(),
        status=DagsterRunStatus.STARTING,
    )
    # No worker yet: the termination is recorded (CANCELING) but there is nothing to signal.
    assert instance.run_launcher.terminate(run.run_id) is False
    canceling = instance.get_run_by_id(run.run_id)
    assert canceling is not None and canceling.status == DagsterRunStatus.CANCELING
    from dagster._core.launcher import LaunchRunContext

    instance.run_launcher.launch_run(LaunchRunContext(dagster_run=canceling, workspace=None))
    done = _wait(instance, run.run_id, {DagsterRunStatus.CANCELED, DagsterRunStatus.FAILURE})
    assert done.status == DagsterRunStatus.CANCELED
    assert not any(m.startswith("probe pid") for m in _messages(instance, run.run_id))


def test_a_killed_worker_fails_its_run_at_once(instance: DagsterInstance) -> None:
    run = _launch(instance, sleep_seconds=60)
    worker = _running_worker(instance, run.run_id)
    worker.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    failed = _wait(instance, run.run_id, {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED})
    assert failed.status == DagsterRunStatus.FAILURE
    assert time.monotonic() - killed_at < 30  # the launcher's own watch, not a monitoring pass
    assert any("exited with code -9" in m for m in _messages(instance, run.run_id))
    assert WarmRunLauncher().check_run_worker_health(failed).status == WorkerStatus.FAILED


def test_a_failing_step_fails_the_run_as_a_step_failure(instance: DagsterInstance) -> None:
    run = _launch(instance, fail=True)
    done = _wait(instance, run.run_id, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE})
    assert done.status == DagsterRunStatus.FAILURE
    messages = _messages(instance, run.run_id)
    assert not any("exited with code" in m for m in messages), messages
    assert any("probe asked to fail" in m for m in messages) or any(
        "STEP_FAILURE" in str(r.dagster_event) for r in instance.all_logs(run.run_id)
    )


def test_a_worker_tag_from_another_host_or_a_reused_pid_is_never_ours(tmp_path: Path) -> None:
    me = psutil.Process()
    ours = DagsterRun(
        job_name="x",
        run_id="r1",
        tags={
            RUN_WORKER_TAG: f'{{"pid": {me.pid}, "started": {me.create_time()}, '
            f'"host": "{os.uname().nodename}"}}'
        },
    )
    assert live_worker(ours) is not None
    elsewhere = ours.with_tags({RUN_WORKER_TAG: f'{{"pid": {me.pid}, "started": 1, "host": "x"}}'})
    assert worker_of(elsewhere) is None
    reused = ours.with_tags(
        {RUN_WORKER_TAG: f'{{"pid": {me.pid}, "started": 1, "host": "{os.uname().nodename}"}}'}
    )
    assert worker_of(reused) is not None and live_worker(reused) is None
    assert worker_of(ours.with_tags({RUN_WORKER_TAG: "not json"})) is None


def test_a_run_launched_while_the_fork_server_warms_up_starts_cold(
    instance: DagsterInstance,
) -> None:
    launcher = WarmRunLauncher(preload_modules=["dagster", "tests.support.launcher_jobs"])
    launcher.register_instance(instance)
    launcher._warming = True  # as in a daemon whose background warm-up has not finished
    recon = reconstructable(define_probe_job)
    run = instance.create_run_for_job(
        job_def=recon.get_definition(),
        job_code_origin=recon.get_python_origin(),
        status=DagsterRunStatus.STARTING,
    )
    from dagster._core.launcher import LaunchRunContext

    launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    done = _wait(instance, run.run_id, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE})
    assert done.status == DagsterRunStatus.SUCCESS
    assert any("fresh interpreter" in m for m in _messages(instance, run.run_id))
