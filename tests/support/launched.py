"""A stack started the way a developer starts it, by the ``glyph`` command (``glyph dev`` or
``glyph up``) in a process of its own, and every process of it found by its environment
(``DAGSTER_HOME`` of the test), so that whatever escaped its group or its parent is found, and
nothing else is ever signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from glyph_assets.settings import PROJECT_ROOT
from tests.support.stack import new_stack_env

CLI = [sys.executable, "-m", "glyph_assets.tooling.cli"]


def stack_processes(home: Path) -> list[psutil.Process]:
    """Every live process whose DAGSTER_HOME is ``home``: the supervisor, its guard, the
    children, their children (run workers, uvicorn workers)."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get("DAGSTER_HOME") == str(
                home
            ):
                found.append(proc)
    return found


def command(proc: psutil.Process) -> str:
    """The command line, or "" for a process that has just ended (a zombie has none)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def wait_gone(home: Path, timeout: float) -> list[psutil.Process]:
    """Until no process of ``home`` is left or ``timeout``; returns what is left."""
    deadline = time.monotonic() + timeout
    while (left := stack_processes(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill_leftovers(home: Path) -> None:
    """After a failed assertion, leave nothing of this test running (by pid, found above)."""
    for proc in stack_processes(home):
        with contextlib.suppress(psutil.Error):
            proc.kill()


@dataclass
class Launched:
    """One ``glyph dev`` (or ``glyph up``) of a test, with its own home and ports."""

    root: Path
    env: dict[str, str]
    proc: subprocess.Popen | None = None

    @property
    def home(self) -> Path:
        return Path(self.env["DAGSTER_HOME"])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['GLYPH_API_PORT']}"

    def state(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.home / "stack" / "supervisor.json").read_text())
        except (OSError, ValueError):
            return None

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args],
            env=self.env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def dev(self) -> subprocess.Popen:
        log = open(self.root / "dev.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [*CLI, "dev"], env=self.env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self.proc

    def wait_running(self, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state and state["status"] == "running":
                return state
            assert self.proc is None or self.proc.poll() is None, self.log()
            time.sleep(0.2)
        raise AssertionError(f"the stack did not start in {timeout} s\n{self.log()}")

    def log(self) -> str:
        parts = []
        for path in [self.root / "dev.log", *sorted((self.home / "stack").glob("*.log"))]:
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)


@contextlib.contextmanager
def launched(root: Path) -> Iterator[Launched]:
    """A stack environment with no GLYPH_CODE_SERVER_PORT: the supervisor picks one."""
    env = new_stack_env(root)
    del env["GLYPH_CODE_SERVER_PORT"]
    (root / "pipeline").mkdir(parents=True, exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith("GLYPH_")}
    full.update(env)
    full["PYTHONUNBUFFERED"] = "1"
    launch = Launched(root, full)
    try:
        yield launch
    finally:
        if launch.proc is not None and launch.proc.poll() is None:
            launch.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                launch.proc.wait(10)
        kill_leftovers(launch.home)
