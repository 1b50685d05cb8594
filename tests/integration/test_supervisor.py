"""The stack's supervisor on real processes: ``glyph dev`` / ``glyph up`` / ``glyph down``.

Nothing of a stack may outlive its supervisor, however the supervisor ends (SIGTERM while it is
still starting, SIGTERM once up, SIGKILL); a stop takes less than 5 s; a child that dies is
started again and the stack keeps working; two stacks run side by side with no code-server port
given. Every process of a stack is found by its environment (``DAGSTER_HOME`` of the test), so a
process that escaped its group or its parent is found too, and nothing else is ever signalled.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from glyph_assets.tooling import supervisor
from tests.support.imports import post_file, wait_final
from tests.support.launched import command, launched, wait_gone

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_sigterm_during_start_up_leaves_no_process(tmp_path: Path) -> None:
    with launched(tmp_path) as stack:
        proc = stack.dev()
        supervisor = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        # In the middle of starting: the code server is up, the API is not.
        while not any("code-server" in command(c) for c in supervisor.children()):
            assert time.monotonic() < deadline and proc.poll() is None, stack.log()
            time.sleep(0.05)
        state = stack.state()
        assert state is not None and state["status"] == "starting", state
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        seconds = time.monotonic() - started
        assert wait_gone(stack.home, 3) == []
        assert seconds < 5, seconds
        assert stack.state() is None  # the state file goes with the supervisor


def test_two_stacks_restarts_and_stops(tmp_path: Path) -> None:
    """Two stacks side by side without a code-server port set: ``glyph up`` (twice) for one,
    ``glyph dev`` for the other. A SIGKILLed daemon and code server are started again and the
    stack still ingests; ``glyph down`` stops within 5 s; a SIGKILLed supervisor takes its
    whole stack down with it."""
    with launched(tmp_path / "a") as first, launched(tmp_path / "b") as second:
        second.dev()
        up = first.run("up")
        assert up.returncode == 0, up.stdout + up.stderr + first.log()
        state_a, state_b = first.wait_running(), second.wait_running()
        assert state_a["code_server_port"] != state_b["code_server_port"]
        # Before any run, the webserver (which launches the small imports) has started its warm
        # fork server: Dagster would create its run launcher, and so the server, with the first
        # launch, and that import would run in a fresh interpreter.
        assert _fork_server_of(state_a["children"]["webserver"]["pid"]), first.log()
        again = first.run("up", timeout=60)
        assert again.returncode == 0 and "already running" in again.stdout, again.stdout

        # A crash of the daemon and of the code server, seen by health while the supervisor is
        # held (SIGSTOP); then both come back and nothing else restarts.
        before = state_a["children"]
        os.kill(state_a["pid"], signal.SIGSTOP)
        try:
            for name in ("daemon", "code-server"):
                os.kill(before[name]["pid"], signal.SIGKILL)
            health = httpx.get(f"{first.api_url}/api/health", timeout=30)
        finally:
            os.kill(state_a["pid"], signal.SIGCONT)
        assert health.status_code == 503, health.text
        assert sorted(health.json()["down"]) == ["code_server", "daemon"], health.text
        assert health.json()["status"] == "degraded"
        deadline = time.monotonic() + 30
        while True:
            children = (first.state() or state_a)["children"]
            if all(children[n]["restarts"] == 1 for n in ("daemon", "code-server")):
                break
            assert time.monotonic() < deadline, first.log()
            time.sleep(0.2)
        restarted = time.monotonic() - (deadline - 30)
        print(f"daemon and code server restarted {restarted:.1f} s after the kill")
        assert children["daemon"]["exits"] == [-signal.SIGKILL]
        assert children["api"]["pid"] == before["api"]["pid"]
        assert children["webserver"]["pid"] == before["webserver"]["pid"]
        deadline = time.monotonic() + 60
        while (health := httpx.get(f"{first.api_url}/api/health", timeout=30)).status_code != 200:
            assert time.monotonic() < deadline, health.text  # the new code server serves
            time.sleep(0.2)
        assert health.json()["down"] == []
        with httpx.Client(base_url=first.api_url, timeout=60) as api:
            body = "title,price,seller\nNVIDIA L4 24GB,2000,Acme\nNVIDIA L4 24GB b,2100,Acme\n"
            accepted = post_file(api, "after-restart.csv", body.encode(), source="supervisor")
            if accepted.status_code == 502:  # recorded; the code server is still loading code
                import_id = accepted.json()["error"]["details"]["import_id"]
                while (retry := api.post(f"/api/imports/{import_id}/retry")).status_code == 502:
                    assert time.monotonic() < deadline, retry.text
                    time.sleep(1.0)
                assert retry.status_code == 202, retry.text
            else:
                assert accepted.status_code == 202, accepted.text
                import_id = accepted.json()["import_id"]
            summary = wait_final(api, import_id, timeout=120)
        assert summary["status"] == "succeeded" and summary["persisted_rows"] == 2, summary

        # What ``glyph down`` does, timed without the CLI's own start-up (a second or more on a
        # busy machine): SIGTERM to the supervisor, until nothing of the stack is left.
        started = time.monotonic()
        stopped = supervisor.stop(first.home)
        left = wait_gone(first.home, 5)
        stop_seconds = time.monotonic() - started
        assert sorted(stopped) == sorted(before) and left == []
        print(f"stack stopped by its supervisor in {stop_seconds:.1f} s")
        assert stop_seconds < 5, stop_seconds
        down = first.run("down", timeout=60)
        assert down.returncode == 0 and "no stack was running" in down.stdout, down.stdout

        assert second.proc is not None
        second.proc.send_signal(signal.SIGKILL)
        second.proc.wait(5)
        assert wait_gone(second.home, 5) == [], "orphans of a SIGKILLed supervisor"


def _fork_server_of(pid: int, wait: float = 30.0) -> bool:
    """Whether the process ``pid`` has a multiprocessing fork server among its children, within
    ``wait`` s (the supervisor asks for it once the webserver answers, without waiting)."""
    deadline = time.monotonic() + wait
    while True:
        children = psutil.Process(pid).children()
        if any("multiprocessing.forkserver" in command(c) for c in children):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
