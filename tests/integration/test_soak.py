"""Soak: the real stack under its supervisor (``glyph dev``) takes imports of mixed sizes at
intervals while a killer SIGKILLs, at random moments, the daemon, the code server, the webserver,
a run worker and the API. The supervisor restarts what dies, Dagster retries runs whose worker
died, clients repeat what got no answer (with an Idempotency-Key, so nothing is submitted twice).

One import is recorded without a launch, as a killed API can leave it: the daemon's
stalled-launch sensor fails it with that reason. Afterwards every import is final; an import that
still failed (its run killed more often than Dagster retries, or never launched) is retried once,
as an operator would, and then every import has succeeded with persisted + row errors == total
rows, no listing twice, and summaries equal to the database.

Sized for CI by default (about a minute). ``GLYPH_SOAK=full`` runs the issue's size: 40 imports,
one of 200,000 rows, a longer fault window; ``GLYPH_SOAK_IMPORTS``, ``GLYPH_SOAK_BIG_ROWS``,
``GLYPH_SOAK_WINDOW`` and ``GLYPH_SOAK_SEED`` set each figure by hand.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from glyph_assets.imports import register_import
from glyph_assets.launch_recovery import NEVER_LAUNCHED
from glyph_assets.settings import Settings
from glyph_assets.store import repository
from glyph_assets.store.db import dispose_engines, migrate
from glyph_assets.store.listing_rows import of_import
from glyph_assets.store.models import Listing
from tests.support.imports import TERMINAL, listings_csv
from tests.support.launched import Launched, launched

FULL = os.environ.get("GLYPH_SOAK") == "full"
IMPORTS = int(os.environ.get("GLYPH_SOAK_IMPORTS", 40 if FULL else 6))
BIG_ROWS = int(os.environ.get("GLYPH_SOAK_BIG_ROWS", 200_000 if FULL else 2_000))
WINDOW = float(os.environ.get("GLYPH_SOAK_WINDOW", 240 if FULL else 15))  # seconds of faults
SEED = int(os.environ.get("GLYPH_SOAK_SEED", random.randrange(1 << 30)))
SIZES = (3, 20, 150, 800)
SOURCE = "soak"
TARGETS = ("daemon", "code-server", "webserver", "run-worker", "api")

# Waits, not latency targets: under a loaded machine (the PostgreSQL pass's Celery workers beside
# it) the stack took 130 s to start and a run over a minute to start, and one import was still
# queued 150 s after the faults; it is final that matters here, and a hang still fails.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600 if FULL else 600)]


@dataclass
class Figures:
    faults: Counter = field(default_factory=Counter)
    missed: Counter = field(default_factory=Counter)  # a run worker was not running then
    resubmits: int = 0
    relaunches: int = 0
    failures: list[str] = field(default_factory=list)  # why imports failed before the pass
    operator_retries: int = 0


def run_worker_pid(code_server: int) -> int | None:
    """A run worker under the code server, if one is running: the gRPC server starts each run
    in a multiprocessing child (not its resource tracker)."""
    try:
        children = psutil.Process(code_server).children(recursive=True)
    except psutil.Error:
        return None
    for child in children:
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in command and "resource_tracker" not in command:
            return child.pid
    return None


def killer(stack: Launched, rng: random.Random, figures: Figures, stop: threading.Event) -> None:
    """Every target once, then random ones, at random moments within ``WINDOW`` seconds."""
    started = time.monotonic()
    plan = list(TARGETS) + [rng.choice(TARGETS) for _ in range(int(WINDOW // 30))]
    rng.shuffle(plan)
    moments = sorted(rng.uniform(0.1, 0.95) * WINDOW for _ in plan)
    for moment, target in zip(moments, plan, strict=True):
        while time.monotonic() - started < moment:
            if stop.wait(0.2):
                return
        children = (stack.state() or {}).get("children", {})
        if target == "run-worker":
            pid = run_worker_pid(children.get("code-server", {}).get("pid", 0))
            if pid is None:  # no run in flight at that moment: try again shortly
                figures.missed[target] += 1
                pid = _wait_for_worker(stack, stop)
        else:
            pid = children.get(target, {}).get("pid")
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                figures.faults[target] += 1
            except ProcessLookupError:
                figures.missed[target] += 1


def _wait_for_worker(stack: Launched, stop: threading.Event, timeout: float = 15) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        children = (stack.state() or {}).get("children", {})
        pid = run_worker_pid(children.get("code-server", {}).get("pid", 0))
        if pid:
            return pid
        time.sleep(0.1)
    return None


def submit(client: httpx.Client, name: str, body: bytes, figures: Figures) -> str:
    """POST until the import exists: repeats carry the same Idempotency-Key, so a submission
    whose answer was lost (the API killed) is found again rather than made twice."""
    key = str(uuid.uuid4())
    deadline = time.monotonic() + 180
    while True:
        assert time.monotonic() < deadline, f"{name} could not be submitted"
        try:
            response = client.post(
                "/api/imports",
                data={"source": SOURCE},
                files={"file": (name, body, "text/csv")},
                headers={"Idempotency-Key": key},
            )
        except httpx.HTTPError:
            figures.resubmits += 1
            time.sleep(0.5)
            continue
        if response.status_code < 300:
            body = response.json()
            if body["status"] == "failed":  # a repeat found it recorded but never launched
                launch(client, str(body["import_id"]), deadline, figures)
            return str(body["import_id"])
        details = (response.json().get("error") or {}).get("details") or {}
        if response.status_code in (502, 503) and details.get("import_id"):
            # Recorded, but Dagster could not launch its run (restarting): launch it again.
            launch(client, str(details["import_id"]), deadline, figures)
            return str(details["import_id"])
        assert response.status_code in (502, 503, 504), response.text
        figures.resubmits += 1
        time.sleep(0.5)


def launch(client: httpx.Client, import_id: str, deadline: float, figures: Figures) -> None:
    """What a client does with a 502 "recorded but not launched": retry it until it runs."""
    while True:
        assert time.monotonic() < deadline, f"{import_id} could not be launched"
        time.sleep(1.0)
        figures.relaunches += 1
        try:
            response = client.post(f"/api/imports/{import_id}/retry", json={})
        except httpx.HTTPError:
            continue
        if response.status_code in (202, 409):  # launched (409: it runs already)
            return
        assert response.status_code in (502, 503, 504), response.text


def unlaunched(stack: Launched, rows: int) -> str:
    """An import recorded as the API records one, whose run is never launched: what a killed API
    leaves at the worst moment, made certain here."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in stack.env.items():
            env.setenv(name, value)
        settings = Settings()
    body = listings_csv(rows, tag="unlaunched-")
    return register_import(
        [body], filename="unlaunched.csv", source=SOURCE, settings=settings
    ).import_id


def wait_healthy(stack: Launched, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{stack.api_url}/api/health", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the stack is not healthy after {timeout} s\n{stack.log()}")


def finals(
    client: httpx.Client, ids: list[str], timeout: float, stack: Launched
) -> dict[str, dict[str, Any]]:
    """Every import's summary once all are final. If some are not in time, the failure shows
    their summaries (each run and its status), the supervisor's view of its children and the
    tail of each process's log: a run left queued is then explained by what the daemon did."""
    deadline = time.monotonic() + timeout
    summaries: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for import_id in ids:
            if summaries.get(import_id, {}).get("status") in TERMINAL:
                continue
            try:
                response = client.get(f"/api/imports/{import_id}")
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                summaries[import_id] = response.json()
        if all(summaries.get(i, {}).get("status") in TERMINAL for i in ids):
            return summaries
        time.sleep(1.0)
    pending = {
        i: summaries.get(i) for i in ids if summaries.get(i, {}).get("status") not in TERMINAL
    }
    raise AssertionError(
        f"imports not final after {timeout} s: {pending}\n"
        f"supervisor: {stack.state()}\n{stack.log()}"
    )


def test_soak_under_random_kills(tmp_path: Path) -> None:
    # Shown with the captured output of a failure: GLYPH_SOAK_SEED repeats the same faults.
    print(f"soak seed {SEED} (GLYPH_SOAK_SEED={SEED} repeats this run's plan)")
    rng = random.Random(SEED)
    figures = Figures()
    sizes = [BIG_ROWS] + [rng.choice(SIZES) for _ in range(IMPORTS - 1)]
    rng.shuffle(sizes)
    interval = WINDOW / max(1, IMPORTS)
    started = time.monotonic()
    with launched(tmp_path) as stack, httpx.Client(base_url=stack.api_url, timeout=120) as api:
        # A run whose worker and code server die together is never marked failed by Dagster's
        # default launcher; run monitoring's time limit ends it, and run retries take over.
        stack.env["GLYPH_MAX_RUN_SECONDS"] = str(900 if FULL else 60)
        # An import whose API died between recording it and launching its run is failed by the
        # stalled-launch sensor after this long, with its reason, and then retried below.
        stack.env["GLYPH_LAUNCH_STALL_SECONDS"] = "30"
        stack.dev()
        stack.wait_running()
        up = time.monotonic()
        stop = threading.Event()
        chaos = threading.Thread(target=killer, args=(stack, rng, figures, stop), daemon=True)
        chaos.start()
        never_launched = unlaunched(stack, 20)
        submitted: dict[str, int] = {never_launched: 20}
        for n, rows in enumerate(sizes):
            body = listings_csv(rows, tag=f"s{n}-")
            submitted[submit(api, f"soak-{n}.csv", body, figures)] = rows
            time.sleep(interval)
        chaos.join(WINDOW + 30)
        stop.set()
        wait_healthy(stack)
        ids = list(submitted)
        summaries = finals(api, ids, 900 if FULL else 300, stack)
        assert summaries[never_launched]["status"] == "failed", summaries[never_launched]
        assert summaries[never_launched]["error_message"] == NEVER_LAUNCHED
        for import_id, summary in summaries.items():
            if summary["status"] not in ("succeeded", "partially_succeeded"):
                figures.failures.append(str(summary.get("error_message"))[:160])
                retry = api.post(f"/api/imports/{import_id}/retry", json={})
                assert retry.status_code == 202, retry.text
                figures.operator_retries += 1
        if figures.operator_retries:
            summaries = finals(api, ids, 300 if FULL else 150, stack)
        state = stack.state() or {}
        url = f"sqlite:///{Path(stack.env['GLYPH_DATA_DIR']) / 'warehouse' / 'glyph.db'}"
        engine = migrate(url)
        try:
            _check(engine, submitted, summaries)
        finally:
            dispose_engines()
        attempts = Counter(len(s["runs"]) for s in summaries.values())
        restarts = {n: c["restarts"] for n, c in state.get("children", {}).items()}
        print(
            f"\nsoak (seed {SEED}): {len(ids)} imports, {sum(submitted.values())} rows "
            f"(largest {max(sizes)}), faults injected {dict(figures.faults)} "
            f"(missed {dict(figures.missed)}), supervisor restarts {restarts}, "
            f"runs per import {dict(sorted(attempts.items()))}, "
            f"automatic+operator retries {sum((k - 1) * v for k, v in attempts.items())} "
            f"(operator {figures.operator_retries}), resubmissions {figures.resubmits}, "
            f"relaunches {figures.relaunches}, "
            f"stack start {up - started:.1f} s, wall {time.monotonic() - started:.1f} s"
        )
        for reason in figures.failures:
            print(f"  failed before the operator's retry: {reason}")
    assert sum(figures.faults.values()) >= len(TARGETS) - 1, figures  # the faults did happen


def _check(engine: Any, submitted: dict[str, int], summaries: dict[str, dict[str, Any]]) -> None:
    for import_id, rows in submitted.items():
        summary = summaries[import_id]
        assert summary["status"] in ("succeeded", "partially_succeeded"), summary
        assert summary["total_rows"] == rows, summary
        assert summary["persisted_rows"] + summary["error_rows"] == rows, summary
        counts = repository.count_rows(engine, import_id)
        assert counts == {
            "persisted_rows": summary["persisted_rows"],
            "error_rows": summary["error_rows"],
        }, (summary, counts)
        with engine.connect() as conn:
            listed, distinct = conn.execute(
                select(func.count(), func.count(func.distinct(Listing.import_index))).where(
                    of_import(import_id)
                )
            ).one()
        assert listed == distinct == summary["persisted_rows"], (import_id, listed, distinct)
