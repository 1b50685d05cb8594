"""Start, supervise and stop glyph's local stack: one code server, Dagster webserver and daemon, the
API (``glyph dev``, ``glyph up`` and ``glyph down`` call it).

Every process binds to 127.0.0.1 by default; logs and the supervisor's state file live under
DAGSTER_HOME/stack.

Why the children cannot outlive whoever started them: each runs in a process group of its own (so
that its own children, run workers and uvicorn workers, are stopped with it by one group kill), is
sent SIGKILL by the kernel when its parent dies (``PR_SET_PDEATHSIG``), and its group is registered
with a guard process (``glyph_assets.tooling.supervisor_guard``) that SIGKILLs every registered
group when the parent disappears, SIGKILL included. Stopping gives every group ``STOP_GRACE``
seconds after SIGTERM, then SIGKILLs each group, so a stop is over within 5 s even though the code
server ignores SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psutil

from glyph_assets.logs import uvicorn_log_config
from glyph_assets.settings import PROJECT_ROOT, Settings, get_settings
from glyph_assets.stack_state import alive, dagster_home, read_state, state_path
from glyph_assets.tooling.dagster_instance import grpc_workspace, write_instance_config

BIN = Path(sys.executable).parent
log = logging.getLogger("glyph.stack")
STOP_GRACE = 2.0  # seconds between SIGTERM and SIGKILL of every group on stop
RESTART_FIRST_DELAY = 0.5  # seconds before the first restart of a child that died
RESTART_MAX_DELAY = 30.0  # the backoff doubles up to this
RESTART_RESET_AFTER = 30.0  # a child up this long starts its backoff over
PR_SET_PDEATHSIG = 1
# Resolved once here: the child calls it between fork and exec, where nothing may be allocated.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


class StopRequested(Exception):
    """A stop was asked for (a signal) while the stack was still starting."""


@dataclass
class StackUrls:
    dagster: str
    api: str

    @property
    def api_docs(self) -> str:
        return f"{self.api}/docs"


def urls(settings: Settings | None = None) -> StackUrls:
    settings = settings or get_settings()
    return StackUrls(
        dagster=f"http://{settings.dagster_host}:{settings.dagster_port}",
        api=f"http://{settings.api_host}:{settings.api_port}",
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the OS picks it), for a code server given no port."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def resolved(settings: Settings) -> Settings:
    """``settings`` with a code-server port: ``GLYPH_CODE_SERVER_PORT`` or a free one, so two
    stacks with their own homes and UI/API ports never collide on a fixed third port."""
    if settings.code_server_port:
        return settings
    return settings.model_copy(update={"code_server_port": free_port(settings.dagster_host)})


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def code_server_command(host: str, port: int, location: str) -> list[str]:
    """A Dagster code server of glyph's definitions, as code location ``location``."""
    return [
        str(BIN / "dagster"),
        "code-server",
        "start",
        "-m",
        "glyph_assets.definitions",
        "-h",
        host,
        "-p",
        str(port),
        "--location-name",
        location,
    ]


def api_command(host: str, port: int, *options: str) -> list[str]:
    """uvicorn serving the API on ``host:port``, with further uvicorn ``options``."""
    return [
        str(BIN / "uvicorn"),
        "glyphd_api.app:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        *options,
    ]


def worker_command(name: str) -> list[str]:
    """``glyph worker --name NAME``: one Celery worker of the stack's queue."""
    return [sys.executable, "-m", "glyph_assets.tooling.cli", "worker", "--name", name]


def _commands(settings: Settings, home: Path) -> dict[str, list[str]]:
    workspace = grpc_workspace(
        home, settings.dagster_host, settings.code_server_port, settings.dagster_location
    )
    log_config = home / "uvicorn-logging.json"
    log_config.write_text(json.dumps(uvicorn_log_config(settings.log_format)))
    workers = {
        f"worker-{i}": worker_command(f"{settings.celery_queue}-{i}")
        for i in range(1, settings.supervised_workers + 1)
    }
    return {
        "code-server": code_server_command(
            settings.dagster_host, settings.code_server_port, settings.dagster_location
        ),
        "webserver": [
            str(BIN / "dagster-webserver"),
            "-w",
            str(workspace),
            "-h",
            settings.dagster_host,
            "-p",
            str(settings.dagster_port),
        ],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
        "api": api_command(
            settings.api_host,
            settings.api_port,
            *(["--workers", str(settings.api_workers)] if settings.api_workers > 1 else []),
            "--log-config",
            str(log_config),
        ),
        # GLYPH_CELERY_WORKERS of them (2 by default with GLYPH_EXECUTOR=celery, else none).
        **workers,
    }


# -- children that cannot outlive their parent -----------------------------------------------------
class _Guard:
    """The client side of ``glyph_assets.tooling.supervisor_guard``: one guard per process that
    starts children, started with the first child and told about every group started and
    stopped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None

    def _pipe(self) -> IO[bytes] | None:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "glyph_assets.tooling.supervisor_guard"],
                stdin=subprocess.PIPE,
                cwd=PROJECT_ROOT,
                start_new_session=True,  # a signal to our group must not reach the guard
            )
        return self._proc.stdin

    def tell(self, line: str) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            pipe = self._pipe()
            if pipe is not None:
                pipe.write(f"{line}\n".encode())
                pipe.flush()


_GUARD = _Guard()


def _die_with_parent(parent: int) -> Callable[[], None]:
    """The child's ``preexec_fn``: its own process group, and SIGKILL when the parent dies.

    PDEATHSIG fires when the *thread* that forked the child ends, so children are only ever
    spawned from a thread that lives as long as the supervisor (its main thread). A parent that
    died between fork and prctl is caught by comparing the parent pid afterwards.
    """

    def preexec() -> None:
        os.setpgid(0, 0)
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)

    return preexec


def spawn(command: list[str], env: dict[str, str], log_path: Path | None) -> subprocess.Popen:
    """Start ``command`` as a child that cannot outlive this process (see the module docstring)."""
    output: Any = subprocess.DEVNULL
    if log_path is not None:
        output = open(log_path, "ab")  # noqa: SIM115 - owned by the child
    try:
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 - no threads fork here
        )
    finally:
        if log_path is not None:
            output.close()
    _GUARD.tell(f"+{proc.pid}")
    return proc


# The code server's own processes (the proxy and the gRPC server it starts); everything else in
# its group belongs to a run (the run worker, its log tailers, multiprocessing's tracker).
CODE_SERVER_MARKS = ("dagster api grpc", "code-server start")


def _reap_group(pgid: int, spare_runs: bool) -> bool:
    """SIGKILL what is left of a dead child's process group before it is started again (a uvicorn
    master gone leaves workers holding its port). A dead code server's run workers are spared:
    they write to the instance and the database themselves and finish their run, which nobody
    would otherwise mark failed (Dagster's default run launcher leaves that to the very code
    server that died). Returns whether anything of the group is left running."""
    if not spare_runs:
        _signal_group(pgid, signal.SIGKILL)
        return False
    left = False
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if os.getpgid(proc.pid) != pgid or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            command = " ".join(proc.info["cmdline"] or [])
            if any(mark in command for mark in CODE_SERVER_MARKS):
                proc.kill()
            else:
                left = True
        except (ProcessLookupError, psutil.Error):
            continue
    return left


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop_processes(procs: dict[str, subprocess.Popen], grace: float = STOP_GRACE) -> float:
    """SIGTERM every child's group, wait up to ``grace`` seconds, then SIGKILL every group (the
    leader and whatever it left behind: a run worker, a uvicorn worker). Returns the seconds."""
    started = time.monotonic()
    for proc in procs.values():
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = started + grace
    while time.monotonic() < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(0.05)
    for proc in procs.values():
        _signal_group(proc.pid, signal.SIGKILL)
    for proc in procs.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2)
        _GUARD.tell(f"-{proc.pid}")
    return time.monotonic() - started


# -- waiting for the children ----------------------------------------------------------------------
def _check_stop(stop_event: threading.Event | None) -> None:
    if stop_event is not None and stop_event.is_set():
        raise StopRequested("stop requested while the stack was starting")


def wait_http(
    url: str,
    timeout: float,
    proc: subprocess.Popen | None = None,
    stop_event: threading.Event | None = None,
    below: int = 500,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_stop(stop_event)
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < below:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


# Any query that reads the instance's run launcher makes the webserver create it.
_RUN_LAUNCHER_QUERY = "query GlyphRunLauncher { instance { runLauncher { name } } }"


def create_run_launcher(dagster_url: str) -> str | None:
    """Have the webserver create its run launcher now, not with the first small import it
    launches (``ExpressRunCoordinator``): a warm launcher then starts its fork server while the
    rest of the stack comes up (``glyph_assets.run_launcher``). Returns the launcher's name;
    None when the webserver did not say (the first launch then creates it, as before)."""
    try:
        answer = httpx.post(
            f"{dagster_url}/graphql", json={"query": _RUN_LAUNCHER_QUERY}, timeout=10.0
        )
        return str(answer.json()["data"]["instance"]["runLauncher"]["name"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        log.warning("the webserver did not name its run launcher: %s", exc)
        return None


def _wait_port(
    host: str,
    port: int,
    timeout: float,
    proc: subprocess.Popen,
    stop_event: threading.Event | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_stop(stop_event)
        if proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {proc.returncode}")
        if _port_open(host, port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open within {timeout:.0f} s")


def _migrate(home: Path, env: dict[str, str], stop_event: threading.Event | None) -> None:
    """``dagster instance migrate`` (creates the storage once, before the webserver and the daemon
    race to create it), as a guarded child so that a stop during start-up ends it too."""
    proc = spawn([str(BIN / "dagster"), "instance", "migrate"], env, home / "stack" / "migrate.log")
    try:
        while proc.poll() is None:
            _check_stop(stop_event)
            time.sleep(0.05)
    finally:
        stop_processes({"migrate": proc}, grace=0.5)
    if proc.returncode != 0:
        raise RuntimeError(f"dagster instance migrate failed ({home / 'stack' / 'migrate.log'})")


def _child_env(settings: Settings, home: Path) -> dict[str, str]:
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.setdefault("GLYPH_DATA_DIR", str(settings.data_dir))
    env["GLYPH_CODE_SERVER_PORT"] = str(settings.code_server_port)
    return env


def start(
    settings: Settings | None = None,
    home: Path | None = None,
    timeout: float = 90.0,
    stop_event: threading.Event | None = None,
) -> dict[str, subprocess.Popen]:
    """Start every process and wait until each answers; on any failure, or when ``stop_event``
    is set meanwhile (``StopRequested``), stop what was started and raise."""
    return Supervisor(settings, home, stop_event).start(timeout)


# -- the supervisor --------------------------------------------------------------------------------
@dataclass
class Child:
    """One supervised process and its restart history."""

    name: str
    proc: subprocess.Popen
    started: float
    restarts: int = 0
    failures: int = 0  # deaths since it last stayed up RESTART_RESET_AFTER seconds
    due: float | None = None  # when a dead child is started again
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """The stack's processes, started in order, restarted with backoff when one dies (a crash of
    the daemon is not a reason to stop the API), and stopped within ``STOP_GRACE`` + a moment.

    Every method is called from one thread, the one that lives as long as the supervisor (see
    ``_die_with_parent``).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        home: Path | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.settings = resolved(settings or get_settings())
        self.home = home or dagster_home()
        self.stop_event = stop_event
        self.stack_dir = self.home / "stack"
        self.children: dict[str, Child] = {}
        # Groups of dead code servers whose run workers still finish their runs.
        self.lingering: set[int] = set()
        self._env: dict[str, str] = {}
        self._commands: dict[str, list[str]] = {}

    @property
    def procs(self) -> dict[str, subprocess.Popen]:
        return {name: child.proc for name, child in self.children.items()}

    def _spawn(self, name: str) -> subprocess.Popen:
        env = self._env
        if name == "api":
            # prometheus-client's multiprocess mode (glyphd_api.metrics): one file per uvicorn
            # worker in a directory emptied before every start, so no dead worker is counted.
            metrics_dir = self.settings.data_dir / "metrics" / f"api-{self.settings.api_port}"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        return spawn(self._commands[name], env, self.stack_dir / f"{name}.log")

    def start(self, timeout: float = 90.0) -> dict[str, subprocess.Popen]:
        """Start the code server, webserver, daemon and API; wait until each answers."""
        settings, home = self.settings, self.home
        _check_stop(self.stop_event)
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        for name, port in (
            ("Dagster UI", settings.dagster_port),
            ("API", settings.api_port),
            ("code server", settings.code_server_port),
        ):
            if _port_open(settings.dagster_host, port):
                raise RuntimeError(f"port {port} for the {name} is already in use (glyph down?)")
        write_instance_config(home, settings)
        self._env = _child_env(settings, home)
        self._commands = _commands(settings, home)
        try:
            _migrate(home, self._env, self.stop_event)
            # code server, webserver, daemon, API, then the Celery workers
            for name in self._commands:
                _check_stop(self.stop_event)
                self.children[name] = Child(name, self._spawn(name), time.monotonic())
                if name == "code-server":
                    _wait_port(
                        settings.dagster_host,
                        settings.code_server_port or 0,
                        timeout,
                        self.children[name].proc,
                        self.stop_event,
                    )
            u = urls(settings)
            procs = self.procs
            wait_http(f"{u.dagster}/server_info", timeout, procs["webserver"], self.stop_event)
            create_run_launcher(u.dagster)
            # Any answer: the API is up (a 503 names a component still coming up, the daemon).
            wait_http(f"{u.api}/api/health", timeout, procs["api"], self.stop_event, 600)
        except BaseException:
            self.stop()
            raise
        return self.procs

    def _prune_lingering(self) -> None:
        for pgid in list(self.lingering):
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                self.lingering.discard(pgid)
                _GUARD.tell(f"-{pgid}")
            except PermissionError:
                pass

    def check(self) -> None:
        """Restart every child that died: its group is SIGKILLed first (a uvicorn master gone
        leaves workers holding its port), then it is started again after a backoff that doubles
        from ``RESTART_FIRST_DELAY`` up to ``RESTART_MAX_DELAY``; each death is logged."""
        now = time.monotonic()
        self._prune_lingering()
        for child in self.children.values():
            code = child.proc.poll()
            if code is None:
                if child.failures and now - child.started >= RESTART_RESET_AFTER:
                    child.failures = 0
                continue
            if child.due is None:
                if _reap_group(child.proc.pid, spare_runs=child.name == "code-server"):
                    self.lingering.add(child.proc.pid)  # still registered with the guard
                else:
                    _GUARD.tell(f"-{child.proc.pid}")
                delay = min(RESTART_MAX_DELAY, RESTART_FIRST_DELAY * 2**child.failures)
                child.failures += 1
                child.exits.append(code)
                child.due = now + delay
                log.warning(
                    "%s (pid %d) exited with %s after %.1f s; restarting in %.1f s",
                    child.name,
                    child.proc.pid,
                    code,
                    now - child.started,
                    delay,
                )
            elif now >= child.due:
                child.proc = self._spawn(child.name)
                child.started, child.due = now, None
                child.restarts += 1
                log.warning(
                    "%s restarted (pid %d, restart %d)", child.name, child.proc.pid, child.restarts
                )

    def stop(self, grace: float = STOP_GRACE) -> float:
        """Stop every child (see ``stop_processes``) and the run workers a dead code server
        left running; returns the seconds it took."""
        for pgid in self.lingering:
            _signal_group(pgid, signal.SIGTERM)
        seconds = stop_processes(self.procs, grace)
        for pgid in self.lingering:
            _signal_group(pgid, signal.SIGKILL)
            _GUARD.tell(f"-{pgid}")
        self.lingering.clear()
        return seconds

    def state(self, status: str) -> dict[str, Any]:
        """What ``glyph up``/``down``, health checks and tests read in ``stack/supervisor.json``."""
        return {
            "pid": os.getpid(),
            "status": status,
            "code_server_port": self.settings.code_server_port,
            "api_port": self.settings.api_port,
            "dagster_port": self.settings.dagster_port,
            "children": {
                name: {"pid": c.proc.pid, "restarts": c.restarts, "exits": c.exits}
                for name, c in self.children.items()
            },
        }

    def write_state(self, status: str) -> None:
        path = state_path(self.home)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state(status)))
        tmp.replace(path)


# -- a supervisor running in the background (glyph up / glyph down) --------------------------------
def stop(home: Path | None = None, timeout: float = 10.0) -> list[str]:
    """Stop the supervisor of ``home`` (SIGTERM; it stops its children within 5 s; SIGKILL
    after ``timeout``, its guard then kills the children). Returns what was running."""
    state = read_state(home)
    if state is None:
        return []
    pid = int(state["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return list(state.get("children", {}))
