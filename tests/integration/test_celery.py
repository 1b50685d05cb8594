"""GLYPH_EXECUTOR=celery on the real RabbitMQ and PostgreSQL: two ``glyph worker`` processes,
each started in a directory of its own, take the steps of a 100,000-row import and six small
ones submitted at once. The large import fans out (``ingest_import_chunked``: eight chunk steps
of 12,500 rows) and its chunks run on both workers; one worker is SIGKILLed in the middle of a
chunk, and every import still ends with every row accounted for and no listing twice. The small
imports stay on ``ingest_import``, one step per stage.

The queue is unique to the test run, so parallel runs on one broker never take each other's
steps. Slow (a few minutes on two cores): marked ``celery`` as well as integration.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from glyph_assets.contract import FANOUT_JOB_NAME, INGEST_JOB_NAME, PIPELINE_STAGES
from glyph_assets.tooling.bench.datagen import generate_csv
from tests.support import pg
from tests.support.imports import db_counts, listings_csv, post_file, wait_all_final, wait_final
from tests.support.launched import launched, wait_gone
from tests.support.stack import RunningStack, new_stack_env, started_stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.celery,
    pytest.mark.timeout(900),
]

BROKER = ("127.0.0.1", 5672)
LARGE_ROWS = 100_000
CHUNK_ROWS = 12_500  # eight chunk steps: enough for both workers to take several
SMALL_ROWS = 40
SOURCE = "celery-test"


def _require_broker_and_postgres() -> None:
    pg.require_postgres()
    with socket.socket() as sock:
        sock.settimeout(1.0)
        if sock.connect_ex(BROKER) != 0:
            pytest.skip(f"no RabbitMQ broker at {BROKER[0]}:{BROKER[1]}")


def _queue() -> str:
    """A queue of this test run's own: parallel runs on one broker never take its steps."""
    return f"glyph-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[RunningStack, dict[str, str]]]:
    """A stack on PostgreSQL with GLYPH_EXECUTOR=celery and no supervised worker; yields it and
    the environment its workers need."""
    _require_broker_and_postgres()
    with pg.fresh_databases("glyph_celery") as dbs:
        env = {
            **new_stack_env(
                tmp_path / "stack",
                executor="celery",
                celery_queue=_queue(),
                celery_workers="0",
                max_concurrent_runs="8",
                chunk_rows=str(CHUNK_ROWS),
                fanout_min_rows=str(LARGE_ROWS // 2),
                fanout_chunk_rows=str(CHUNK_ROWS),
            ),
            **dbs.env(),
        }
        with started_stack(tmp_path / "stack", env) as running:
            yield running, env


@contextlib.contextmanager
def workers(root: Path, env: dict[str, str], names: list[str]) -> Iterator[dict[str, Any]]:
    """``glyph worker --name N`` per name, each in its own directory with its own DAGSTER_HOME,
    in a process group of its own (a SIGKILL of the group is a machine gone); stopped after."""
    procs: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    try:
        for name in names:
            workdir = root / name
            workdir.mkdir(parents=True)
            worker_env = {k: v for k, v in os.environ.items() if not k.startswith("GLYPH_")}
            worker_env.update({k: v for k, v in env.items() if k.startswith("GLYPH_")})
            worker_env["DAGSTER_HOME"] = str(workdir)
            logs[name] = workdir / "worker.log"
            with open(logs[name], "wb") as log:
                procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "glyph_assets.tooling.cli", "worker", "--name", name],
                    cwd=workdir,
                    env=worker_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + 120
        for name in names:
            while " ready." not in logs[name].read_text(errors="replace"):
                assert procs[name].poll() is None, logs[name].read_text(errors="replace")
                assert time.monotonic() < deadline, f"worker {name} not ready"
                time.sleep(0.2)
        yield {"procs": procs, "logs": logs}
    finally:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _node(worker: str | None) -> str | None:
    """``w1@host`` -> ``w1``."""
    return worker.split("@", 1)[0] if worker else None


def _chunk(step: dict[str, Any]) -> bool:
    return "transform_chunk[" in step["step_key"]


def _running_chunk(api: httpx.Client, import_id: str, timeout: float) -> tuple[str, str]:
    """Once the large import's chunk steps have ended on both workers: one of its chunk steps in
    progress, and the worker running it."""
    deadline = time.monotonic() + timeout
    summary: dict[str, Any] = {}
    while time.monotonic() < deadline:
        summary = api.get(f"/api/imports/{import_id}").json()
        steps = summary.get("steps", [])
        done = {_node(s["worker"]) for s in steps if _chunk(s) and s["status"] == "SUCCESS"}
        for step in steps if done >= {"w1", "w2"} else []:
            if _chunk(step) and step["status"] == "IN_PROGRESS" and step["worker"]:
                return step["step_key"], str(_node(step["worker"]))
        time.sleep(0.3)
    raise AssertionError(
        f"no chunk of {import_id} seen running after both workers ran one: {summary}"
    )


def test_two_workers_take_every_step_and_survive_one_killed(
    stack: tuple[RunningStack, dict[str, str]], tmp_path: Path
) -> None:
    running, env = stack
    large = generate_csv(tmp_path / "large.csv", LARGE_ROWS)
    with (
        workers(tmp_path / "workers", env, ["w1", "w2"]) as pool,
        httpx.Client(base_url=running.api_url, timeout=60) as api,
    ):
        response = post_file(api, "large.csv", large.read_bytes(), "text/csv", source=SOURCE)
        assert response.status_code == 202, response.text
        large_id = response.json()["import_id"]
        small_ids = []
        for n in range(6):
            data = listings_csv(SMALL_ROWS, tag=f"s{n}")
            response = post_file(api, f"small{n}.csv", data, "text/csv", source=SOURCE)
            assert response.status_code == 202, response.text
            small_ids.append(response.json()["import_id"])

        step, victim = _running_chunk(api, large_id, timeout=600)
        os.killpg(pool["procs"][victim].pid, signal.SIGKILL)  # the worker and its pool
        pool["procs"][victim].wait(10)

        ids = [large_id, *small_ids]
        summaries = wait_all_final(api, ids, SOURCE, timeout=600)
        statuses = {
            i: api.get(f"/api/jobs/{summaries[i]['runs'][-1]['run_id']}/status").json() for i in ids
        }

    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in pool["logs"].values())
    for import_id in ids:
        summary = summaries[import_id]
        rows = LARGE_ROWS if import_id == large_id else SMALL_ROWS
        assert summary["status"] in ("succeeded", "partially_succeeded"), (summary, logs)
        counts = db_counts(running, import_id)
        assert summary["persisted_rows"] + summary["error_rows"] == rows
        assert counts["persisted_rows"] + counts["error_rows"] == rows, counts
        assert counts["distinct_indexes"] == counts["persisted_rows"], counts  # no listing twice
        assert summary["steps"], summary
        assert all(s["status"] == "SUCCESS" for s in summary["steps"]), summary["steps"]

    nodes = {_node(s["worker"]) for i in ids for s in summaries[i]["steps"]}
    assert nodes == {"w1", "w2"}, nodes
    survivor = ({"w1", "w2"} - {victim}).pop()
    large_steps = {s["step_key"]: _node(s["worker"]) for s in summaries[large_id]["steps"]}
    assert large_steps[step] == survivor, large_steps  # the killed worker's step ran again
    # The large import fanned out: its eight chunks ran as steps of their own, on both workers.
    chunks = {key: node for key, node in large_steps.items() if "transform_chunk[" in key}
    assert len(chunks) == LARGE_ROWS // CHUNK_ROWS, large_steps
    assert set(chunks.values()) == {"w1", "w2"}, chunks
    assert statuses[large_id]["job_name"] == FANOUT_JOB_NAME, statuses[large_id]
    assert statuses[large_id]["progress"]["assets_done"] == 5, statuses[large_id]
    for small in small_ids:  # one step per stage: the one-step job, no chunk step
        assert statuses[small]["job_name"] == INGEST_JOB_NAME, statuses[small]
        keys = {s["step_key"] for s in summaries[small]["steps"]}
        assert set(PIPELINE_STAGES) <= keys and not any("[" in k for k in keys), keys


def test_glyph_dev_supervises_its_workers(tmp_path: Path) -> None:
    """``glyph dev`` with GLYPH_EXECUTOR=celery starts GLYPH_CELERY_WORKERS workers, starts a
    SIGKILLed one again, runs an import's steps on them, and leaves no process when stopped."""
    _require_broker_and_postgres()
    queue = _queue()
    with pg.fresh_databases("glyph_celery") as dbs, launched(tmp_path) as stack:
        stack.env.update(
            {
                **dbs.env(),
                "GLYPH_EXECUTOR": "celery",
                "GLYPH_CELERY_QUEUE": queue,
                "GLYPH_CELERY_WORKERS": "2",
            }
        )
        proc = stack.dev()
        children = stack.wait_running(timeout=400)["children"]
        assert {"worker-1", "worker-2"} <= set(children), children
        os.kill(children["worker-1"]["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while (stack.state() or {}).get("children", {}).get("worker-1", {}).get("restarts") != 1:
            assert time.monotonic() < deadline, stack.log()
            time.sleep(0.2)

        with httpx.Client(base_url=stack.api_url, timeout=60) as api:
            response = post_file(api, "few.csv", listings_csv(5), "text/csv", source="celery")
            assert response.status_code == 202, response.text
            summary = wait_final(api, response.json()["import_id"], timeout=300)
        assert summary["status"] == "succeeded", (summary, stack.log())
        nodes = {_node(s["worker"]) for s in summary["steps"]}
        assert nodes and nodes <= {f"{queue}-1", f"{queue}-2"}, summary["steps"]

        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert wait_gone(stack.home, 10) == [], "processes left by the stopped stack"
