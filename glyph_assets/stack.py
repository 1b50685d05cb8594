"""Start and stop glyph's local stack: one code server, Dagster webserver and daemon, the API.

Every process binds to 127.0.0.1 by default; logs and pid files live under DAGSTER_HOME/stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from glyph_assets.instance import (
    dagster_home,
    grpc_workspace,
    migrate_instance,
    write_instance_config,
)
from glyph_assets.settings import PROJECT_ROOT, Settings, get_settings

BIN = Path(sys.executable).parent


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


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _commands(settings: Settings, home: Path) -> dict[str, list[str]]:
    workspace = grpc_workspace(
        home, settings.dagster_host, settings.code_server_port, settings.dagster_location
    )
    return {
        "code-server": [
            str(BIN / "dagster"),
            "code-server",
            "start",
            "-m",
            "glyph_assets.definitions",
            "-h",
            settings.dagster_host,
            "-p",
            str(settings.code_server_port),
            "--location-name",
            settings.dagster_location,
        ],
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
        "api": [
            str(BIN / "uvicorn"),
            "glyphd_api.app:create_app",
            "--factory",
            "--host",
            settings.api_host,
            "--port",
            str(settings.api_port),
            *(["--workers", str(settings.api_workers)] if settings.api_workers > 1 else []),
        ],
    }


def _wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def _wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {proc.returncode}")
        if _port_open(host, port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open within {timeout:.0f} s")


def start(
    settings: Settings | None = None, home: Path | None = None, timeout: float = 90.0
) -> dict[str, subprocess.Popen]:
    """Start every process in the background and wait until each answers."""
    settings = settings or get_settings()
    home = home or dagster_home()
    stack_dir = home / "stack"
    stack_dir.mkdir(parents=True, exist_ok=True)
    for name, port in (
        ("Dagster UI", settings.dagster_port),
        ("API", settings.api_port),
        ("code server", settings.code_server_port),
    ):
        if _port_open(settings.dagster_host, port):
            raise RuntimeError(f"port {port} for the {name} is already in use (glyph down?)")
    write_instance_config(home, settings)
    migrate_instance(home)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.setdefault("GLYPH_DATA_DIR", str(settings.data_dir))
    procs: dict[str, subprocess.Popen] = {}
    commands = _commands(settings, home)
    try:
        for name in ("code-server", "webserver", "daemon", "api"):
            log = open(stack_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
            procs[name] = subprocess.Popen(
                commands[name],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if name == "code-server":
                _wait_port(settings.dagster_host, settings.code_server_port, timeout, procs[name])
        u = urls(settings)
        _wait_http(f"{u.dagster}/server_info", timeout, procs["webserver"])
        _wait_http(f"{u.api}/api/health", timeout, procs["api"])
    except BaseException:
        stop_processes(procs)
        raise
    (stack_dir / "pids.json").write_text(json.dumps({n: p.pid for n, p in procs.items()}))
    return procs


def stop_processes(procs: dict[str, subprocess.Popen], timeout: float = 15.0) -> None:
    for proc in procs.values():
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop(home: Path | None = None, timeout: float = 15.0) -> list[str]:
    """Stop a stack started in the background by ``start``; returns what was stopped."""
    home = home or dagster_home()
    pid_file = home / "stack" / "pids.json"
    if not pid_file.exists():
        return []
    pids: dict[str, int] = json.loads(pid_file.read_text())
    for pid in pids.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in pids.values():
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
    pid_file.unlink()
    return list(pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True
