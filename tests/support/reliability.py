"""Helpers of the reliability and security suites: extra API processes, a stack of their own,
finding a run's worker process, and the bad-input corpus uploaded once per session.

Every process started here binds 127.0.0.1 on a free port, logs under the stack's DAGSTER_HOME
and is stopped by the context that started it (by its own pid, never by name).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from glyph_assets.contract import ProgressEvent
from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.tooling import supervisor
from glyphd_api.dagster_client import progress_event
from tests.support.imports import db_counts, post_file, wait_all_final
from tests.support.stack import RunningStack, free_port, new_stack_env, started_stack

BAD_INPUTS = Path(__file__).resolve().parents[1] / "fixtures" / "bad_inputs"
CORPUS_SOURCE = "badin"


def joining_env(settings: Settings, home: Path) -> dict[str, str]:
    """The environment that makes a child process see the same stack as ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLYPH_")}
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "PYTHONUNBUFFERED": "1",
            "GLYPH_DATA_DIR": str(settings.data_dir),
            "GLYPH_PIPELINE_ROOT": str(settings.from_pipeline_root),
            "GLYPH_API_HOST": settings.api_host,
            "GLYPH_API_PORT": str(settings.api_port),
            "GLYPH_DAGSTER_HOST": settings.dagster_host,
            "GLYPH_DAGSTER_PORT": str(settings.dagster_port),
            "GLYPH_CODE_SERVER_PORT": str(settings.code_server_port),
            "GLYPH_ALLOW_RUN_CONFIG": "1" if settings.allow_run_config else "0",
            "GLYPH_CHUNK_ROWS": str(settings.chunk_rows),
        }
    )
    if settings.database_url:
        env["GLYPH_DATABASE_URL"] = settings.database_url
    if settings.dagster_postgres_url:
        env["GLYPH_DAGSTER_POSTGRES_URL"] = settings.dagster_postgres_url
    return env


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Until ``url`` answers at all (health may be 503 while Dagster is away)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process for {url} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def spawn(name: str, command: list[str], env: dict[str, str], home: Path) -> subprocess.Popen:
    """A child in its own session (so stop_processes can end its whole group), logged."""
    log_dir = home / "stack"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        command,
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextlib.contextmanager
def extra_api(running: RunningStack, **overrides: str) -> Iterator[str]:
    """One more uvicorn of the API against ``running``'s Dagster and database, with GLYPH_*
    overrides (``max_upload_bytes="2048"`` -> GLYPH_MAX_UPLOAD_BYTES); yields its base URL."""
    port = free_port()
    env = joining_env(running.settings, running.home)
    env["GLYPH_API_PORT"] = str(port)
    env.update({f"GLYPH_{k.upper()}": v for k, v in overrides.items()})
    command = supervisor.api_command("127.0.0.1", port)
    proc = spawn(f"api-{port}", command, env, running.home)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        supervisor.stop_processes({"api": proc})


@dataclass
class OwnStack:
    """A stack of one test module, which its tests may break (kill, stop, restart)."""

    running: RunningStack
    env: dict[str, str]
    restarts: dict[str, int] = field(default_factory=dict)

    @property
    def procs(self) -> dict[str, subprocess.Popen]:
        return self.running.procs

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs[name]
        if sig == signal.SIGTERM:
            supervisor.stop_processes({name: proc})
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            proc.wait(15)

    def start(self, name: str) -> None:
        """Start ``name`` again with the command and environment the stack started it with."""
        self.restarts[name] = self.restarts.get(name, 0) + 1
        command = supervisor._commands(self.running.settings, self.running.home)[name]
        proc = spawn(f"{name}-{self.restarts[name]}", command, self.env, self.running.home)
        self.procs[name] = proc
        if name == "api":
            wait_http(f"{self.running.api_url}/api/health", proc=proc)


@contextlib.contextmanager
def own_stack(root: Path, **overrides: str) -> Iterator[OwnStack]:
    """Start a whole stack (code server, webserver, daemon, API) under ``root``."""
    env = new_stack_env(root, **overrides)
    with started_stack(root, env) as running:
        child_env = joining_env(running.settings, running.home)
        child_env.update(env)
        yield OwnStack(running, child_env)


# -- run workers -----------------------------------------------------------------------------------
_LOGS = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}
"""


def run_messages(running: RunningStack, run_id: str) -> list[str]:
    response = httpx.post(
        f"{running.dagster_url}/graphql",
        json={"query": _LOGS, "variables": {"runId": run_id}},
        timeout=30,
    )
    connection = response.json()["data"]["logsForRun"]
    return [e.get("message") or "" for e in connection.get("events", [])]


_PROGRESS = """
query Progress($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection {
      events {
        __typename
        ... on ObservationEvent {
          metadataEntries {
            label
            ... on TextMetadataEntry { text }
            ... on IntMetadataEntry { intRepr }
          }
        }
      }
    }
  }
}
"""


def run_progress(running: RunningStack, run_id: str) -> list[ProgressEvent]:
    """Every progress event the run's stages reported so far, oldest first."""
    response = httpx.post(
        f"{running.dagster_url}/graphql",
        json={"query": _PROGRESS, "variables": {"runId": run_id}},
        timeout=30,
    )
    events = response.json()["data"]["logsForRun"].get("events", [])
    decoded = (progress_event(e.get("metadataEntries")) for e in events)
    return [event for event in decoded if event is not None]


def run_worker(running: RunningStack, run_id: str, timeout: float = 60) -> psutil.Process:
    """The process executing ``run_id``: the pid its in-process executor logged, checked to be
    a descendant of this stack's code server, daemon or webserver (the warm run launcher forks
    workers from the daemon's fork server, or the webserver's for an express launch), so
    nothing else can ever be signalled."""
    deadline = time.monotonic() + timeout
    launchers = {running.procs[name].pid for name in ("code-server", "daemon", "webserver")}
    while time.monotonic() < deadline:
        for message in run_messages(running, run_id):
            if message.startswith("Executing steps in process (pid: "):
                pid = int(message.split("pid: ")[1].split(")")[0])
                worker = psutil.Process(pid)
                assert launchers & {
                    p.pid for p in worker.parents()
                }, f"pid {pid} is not a child of the code server, the daemon or the webserver"
                return worker
        time.sleep(0.2)
    raise AssertionError(f"no worker process logged for run {run_id}")


# -- the bad-input corpus, submitted once per session ---------------------------------------------
def corpus_files() -> list[Path]:
    """The fixtures that must be accepted (``partial_*``, ``ok_*``), in name order."""
    return sorted(
        p for p in BAD_INPUTS.iterdir() if p.name.startswith(("partial_", "ok_")) and p.is_file()
    )


@dataclass
class CorpusRun:
    """Every accepted fixture, uploaded at the same moment (one thread each), followed to its
    end: what the bad-input contract and the concurrency test both check."""

    outcomes: dict[str, dict[str, Any]]
    concurrent: int
    seconds: float


@pytest.fixture(scope="session", name="corpus_run")
def corpus_run_fixture(running_stack: RunningStack) -> CorpusRun:
    """Import ``corpus_run_fixture`` into a test module to use the ``corpus_run`` fixture."""
    files = corpus_files()
    barrier = threading.Barrier(len(files))

    def submit(path: Path) -> tuple[str, dict[str, Any]]:
        with httpx.Client(base_url=running_stack.api_url, timeout=180) as client:
            data = path.read_bytes()
            barrier.wait()  # every upload starts together
            response = post_file(client, path.name, data, source=CORPUS_SOURCE)
        assert response.status_code == 202, (path.name, response.text)
        return path.name, response.json()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        accepted = dict(pool.map(submit, files))
    outcomes: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=running_stack.api_url, timeout=180) as client:
        finals = wait_all_final(
            client, [a["import_id"] for a in accepted.values()], CORPUS_SOURCE, timeout=600
        )
        seconds = time.monotonic() - started
        for name, acc in accepted.items():
            import_id = acc["import_id"]
            outcomes[name] = {
                "accepted": acc,
                "summary": finals[import_id],
                "listings": client.get(
                    f"/api/imports/{import_id}/listings", params={"limit": 1000}
                ).json(),
                "errors": client.get(
                    f"/api/imports/{import_id}/errors", params={"limit": 1000}
                ).json(),
                "db": db_counts(running_stack, import_id),
            }
    print(f"{len(files)} concurrent uploads of the corpus: all final in {seconds:.1f} s")
    return CorpusRun(outcomes=outcomes, concurrent=len(files), seconds=seconds)
