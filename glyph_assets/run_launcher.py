"""A Dagster run launcher that starts each run worker warm, from a preloaded fork server.

Why: Dagster's default launcher asks the code server to start a run, and the code server starts
every run worker with multiprocessing ``spawn``: a fresh interpreter that imports Dagster, pandas
and the code location before the first step runs. On this project's machine that is 2-4 s of a
3-row import that otherwise takes well under a second. ``WarmRunLauncher`` keeps one
multiprocessing fork server per launching process (the daemon, which dequeues runs, and the
webserver, which launches small imports at once) with Dagster and ``glyph_assets.definitions``
already imported, and forks each run worker from it. The worker
then does exactly what ``dagster api execute_run`` does for the container launchers
(``_execute_run_command_body``): load the run, report its pid, execute it.

What Dagster needs from a launcher, and how this one gives it:

- ``launch_run`` forks the worker, which first records its pid, start time and host in the
  run's ``glyph/run_worker`` tag: how any process of the instance finds the worker again;
- ``terminate`` marks the run CANCELING and sends the worker SIGTERM, which the worker (as the
  CLI does) turns into Dagster's interrupt, so the run ends CANCELED;
- ``check_run_worker_health`` lets the daemon's run monitoring fail a run whose worker died
  (killed, out of memory), and so hand it to run retries; the launching process also watches its
  own workers and fails such a run as soon as its worker exits;
- ``resume_run`` is not offered (``supports_resume_run`` stays False): a run whose worker died is
  re-executed by run retries instead, as with the default launcher.

The fork server imports the code once, when the launcher is created. Dagster creates an
instance's run launcher on first use, so the stack's supervisor asks the webserver for it as soon
as the webserver answers: the first small import after a start was otherwise run in a fresh
interpreter (a 100-row import sent 10 s after the start: 4.4-5.5 s, then 0.9-1.2 s; now
0.9-1.9 s). The daemon's is created with its first launch (the checks after the first import, a
queued import): created at the daemon's start, its fork server made the checks of the first
imports run sooner, beside the imports that followed, which were then slower. Code changed after
that is picked up when the process restarts (the local stack restarts all its processes
together).
"""

from __future__ import annotations

import importlib.metadata
import json
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from multiprocessing import forkserver
from typing import Any

import psutil
from dagster import Field
from dagster import _check as check
from dagster._config.config_schema import UserConfigSchema
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.launcher.base import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._serdes import ConfigurableClass, serialize_value
from dagster._serdes.config_class import ConfigurableClassData

from glyph_assets.contract import PRIORITY_BACKGROUND, PRIORITY_TAG, RUN_WORKER_TAG

DEFAULT_PRELOAD = ("dagster", "glyph_assets.run_worker_preload")
# The processes (by program name) that launch runs and so keep a warm fork server.
LAUNCHING_PROCESSES = frozenset({"dagster-daemon", "dagster-webserver"})
_START_TIME_SLACK = 1.0  # seconds: psutil's create_time is rounded to the clock tick
# A terminated run still CANCELING this long after its worker was signalled is signalled again.
TERMINATE_AGAIN_SECONDS = 2.0
TERMINATE_AGAIN_TIMES = 5
# How far a background run's worker (``PRIORITY_TAG``) lowers its priority: at 10 it gets about
# a tenth of a core that a run at the default priority also wants (Linux's weights).
BACKGROUND_NICENESS = 10


def _execute_run(serialized_instance_ref: str, run_id: str) -> None:
    """The run worker's body, in the process forked from the fork server.

    The worker records itself (pid, start time, host) on the run before anything else, so the
    run never reaches STARTED without a worker any process of the instance can find. Then the
    same steps as ``dagster api execute_run`` (the container launchers' entry point): SIGTERM and
    SIGINT become Dagster's captured interrupt, so a terminated run ends CANCELED. A run tagged
    background (``PRIORITY_TAG``: the checks after an import) lowers its worker's priority first.
    """
    from dagster._cli.api import _execute_run_command_body
    from dagster._core.instance import DagsterInstance, InstanceRef
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import capture_interrupts

    code = 0
    with capture_interrupts():
        ref = deserialize_value(serialized_instance_ref, InstanceRef)
        with DagsterInstance.from_ref(ref) as instance:
            me = psutil.Process()
            worker = {"pid": me.pid, "started": me.create_time(), "host": socket.gethostname()}
            instance.add_run_tags(run_id, {RUN_WORKER_TAG: json.dumps(worker)})
            run = instance.get_run_by_id(run_id)
            if run is not None and run.tags.get(PRIORITY_TAG) == PRIORITY_BACKGROUND:
                os.nice(BACKGROUND_NICENESS)
            if run is not None and run.status == DagsterRunStatus.CANCELING:
                # Terminated while starting, before this worker could be signalled.
                instance.report_run_canceled(run, "Canceled before its run worker started.")
            else:
                code = _execute_run_command_body(
                    run_id, instance, lambda _event: None, set_exit_code_on_failure=False
                )
    os._exit(code)  # no atexit handlers: they belong to the fork server the worker came from


def entry_point_modules() -> list[str]:
    """The module behind this process's console script (``dagster-webserver`` is
    ``dagster_webserver.cli``), for the fork server to import once.

    Why: every process multiprocessing starts re-runs the launching process's main script first
    (``spawn._fixup_main_from_path``). For the webserver, which launches express runs, that
    script imports the whole webserver (Starlette, GraphQL): 0.5 s of every run worker it forked,
    measured here. With the module already imported in the fork server the re-run is an import
    found in ``sys.modules``. (Listing ``__main__`` in the preload would be the documented way,
    but Python 3.11's fork server never receives the main path it needs for that.)
    """
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    found = importlib.metadata.entry_points(group="console_scripts", name=script)
    return sorted({entry.module for entry in found})


def worker_of(run: DagsterRun) -> tuple[int, float] | None:
    """The (pid, start time) ``launch_run`` recorded for ``run``; None before it launched, or
    when it was launched on another host."""
    raw = run.tags.get(RUN_WORKER_TAG)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        if data.get("host") != socket.gethostname():
            return None  # forked on another host (container): not ours to see or signal
        return int(data["pid"]), float(data["started"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def live_worker(run: DagsterRun) -> psutil.Process | None:
    """The run's worker process if it is still running: same pid *and* same start time, so a
    pid reused by another process is never mistaken for it (or signalled)."""
    known = worker_of(run)
    if known is None:
        return None
    pid, started = known
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - started) > _START_TIME_SLACK:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Runs each run worker as a fork of a server that has Dagster and the code preloaded."""

    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        preload_modules: Sequence[str] = DEFAULT_PRELOAD,
    ) -> None:
        self._inst_data = inst_data
        self._preload = list(preload_modules)
        self._context: Any = None
        self._lock = threading.Lock()
        self._warming = False  # a warm-up started in the background and may not be done
        self._ready = threading.Event()  # the fork server has imported preload_modules
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {"preload_modules": Field([str], is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> WarmRunLauncher:
        return cls(
            inst_data=inst_data,
            preload_modules=config_value.get("preload_modules") or DEFAULT_PRELOAD,
        )

    def register_instance(self, instance: Any) -> None:
        """In the processes that launch runs (the daemon, which dequeues them; the webserver,
        which launches small imports at once: ``run_coordinator``), start the fork server as
        soon as the launcher exists rather than on the first launch: the preload takes seconds,
        and a run must not spend them STARTING (run monitoring fails a run that starts too
        slowly). Dagster creates an instance's launcher on first use: the stack's supervisor
        has the webserver create it at start-up (see the module docstring)."""
        super().register_instance(instance)
        if os.path.basename(sys.argv[0] if sys.argv else "") in LAUNCHING_PROCESSES:
            self._warming = True
            threading.Thread(target=self.warm_up, name="warm-fork-server", daemon=True).start()

    def warm_up(self) -> None:
        """Start the fork server and let it import ``preload_modules`` (idempotent)."""
        self._mp_context()
        forkserver.ensure_running()
        self._ready.set()

    def _launch_context(self) -> Any:
        """Where the next worker comes from: the fork server once it is warm; while a
        background warm-up is still importing (a stack that has just started, a loaded
        machine), a fresh interpreter as Dagster's default launcher would start, so that no run
        waits STARTING behind the warm-up. (Waiting for the warm-up instead was slower: a
        3-row persist sent as the stack came up answered in 4.9-5.4 s, against 3.7-4.6 s from
        a fresh interpreter: the preload imports and warms more than one run needs.)"""
        if self._ready.is_set() or not self._warming:
            self.warm_up()
            return self._mp_context()
        return multiprocessing.get_context("spawn")

    def _mp_context(self) -> Any:
        """The fork-server context, its server started (and the code imported) on first use."""
        with self._lock:
            if self._context is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([*self._preload, *entry_point_modules()])
                self._context = context
            return self._context

    def launch_run(self, context: LaunchRunContext) -> None:
        run = check.inst(context.dagster_run, DagsterRun)
        check.invariant(run.job_code_origin is not None, "the run has no Python origin")
        start = self._launch_context()
        process = start.Process(
            target=_execute_run,
            args=(serialize_value(self._instance.get_ref()), run.run_id),
            name=f"run-worker-{run.run_id[:8]}",
            daemon=False,
        )
        process.start()
        where = (
            "Forked run worker from the warm fork server"
            if start.get_start_method() == "forkserver"
            else "Started run worker in a fresh interpreter: the fork server is still warming up"
        )
        self._instance.report_engine_event(
            f"{where} (pid: {process.pid}).",
            run,
            cls=self.__class__,
        )
        threading.Thread(
            target=self._watch, args=(process, run.run_id), name="watch-run-worker", daemon=True
        ).start()

    def _watch(self, process: Any, run_id: str) -> None:
        """Fail the run at once when its worker exits without finishing it (killed, crashed),
        rather than at the next run-monitoring pass; run retries take it from there."""
        process.join()
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return
        self._instance.report_run_failed(
            run,
            f"The run worker (pid {process.pid}) exited with code {process.exitcode}.",
            job_failure_data=JobFailureData(
                error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION
            ),
        )

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        worker = live_worker(run)
        if worker is None:
            self._instance.report_engine_event(
                "No live run worker to send the termination to.", run, cls=self.__class__
            )
            return False
        try:
            worker.send_signal(signal.SIGTERM)
        except psutil.Error:
            return False
        threading.Thread(
            target=self._signal_again, args=(run_id, worker), name="resend-sigterm", daemon=True
        ).start()
        return True

    def _signal_again(self, run_id: str, worker: psutil.Process) -> None:
        """SIGTERM again, every ``TERMINATE_AGAIN_SECONDS``, while the run is still CANCELING
        and its worker alive (at most ``TERMINATE_AGAIN_TIMES``).

        Why: Dagster's handler raises the interrupt in whatever code the worker is running, and
        when that is a garbage collector's callback (SQLAlchemy's, for an engine being freed)
        Python prints "Exception ignored" and goes on: the run then ran to its end, SUCCESS,
        though terminated. Another signal lands elsewhere. One that arrives while the worker is
        already cancelling is only recorded by Dagster, which is cancelling anyway."""
        for _ in range(TERMINATE_AGAIN_TIMES):
            time.sleep(TERMINATE_AGAIN_SECONDS)
            run = self._instance.get_run_by_id(run_id)
            if run is None or run.status != DagsterRunStatus.CANCELING:
                return
            try:
                if not worker.is_running():
                    return
                worker.send_signal(signal.SIGTERM)
            except psutil.Error:
                return
            self._instance.report_engine_event(
                f"The run worker (pid {worker.pid}) is still running: termination sent again.",
                run,
                cls=self.__class__,
            )

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        if worker_of(run) is None:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, "no run worker was recorded")
        if live_worker(run) is None:
            return CheckRunHealthResult(WorkerStatus.FAILED, "the run worker is no longer running")
        return CheckRunHealthResult(WorkerStatus.RUNNING)


__all__ = ["WarmRunLauncher", "live_worker", "worker_of"]
