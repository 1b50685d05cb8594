"""Faults: killed run workers, a restarted API, a stopped daemon, a locked database, repeated and
concurrent submissions, runs over the time limit. Nothing may be lost, duplicated or left half.

The destructive tests (SIGKILL, daemon, API restart) break a stack of their own, started for this
module with GLYPH_CHUNK_ROWS=5 so that persisting even a small file takes several chunks; the
others share the session stack.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from glyph_assets.contract import ProgressEvent
from glyph_assets.store.models import ImportRun
from tests.support.bad_inputs import PARTIAL, reference_rows
from tests.support.imports import (
    assert_launched_once,
    db_counts,
    delay,
    import_rows,
    landing_entries,
    listings_csv,
    post_file,
    wait_all_final,
    wait_final,
)
from tests.support.reliability import (
    CorpusRun,
    OwnStack,
    corpus_run_fixture,
    extra_api,
    own_stack,
    run_progress,
    run_worker,
)
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
# Fixtures defined in tests.support.reliability that this module uses: the session's one
# concurrent upload of the bad-input corpus (shared with test_bad_inputs).
SHARED_FIXTURES = (corpus_run_fixture,)


def run_count(running: RunningStack, import_id: str) -> int:
    with running.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(ImportRun).where(ImportRun.import_id == import_id)
            ).scalar_one()
        )


@pytest.fixture(scope="module")
def api(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_stack.api_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    """A stack of its own whose runs all go through the run queue and the daemon (no express
    launch: ``GLYPH_EXPRESS_MAX_BYTES=0``), which is what these faults are about."""
    with own_stack(tmp_path_factory.mktemp("faults"), chunk_rows="5", express_max_bytes="0") as own:
        yield own


@pytest.fixture
def fault_api(fault_stack: OwnStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fault_stack.running.api_url, timeout=120) as client:
        yield client


# -- the run worker is killed in the middle of persisting -----------------------------------------
def test_sigkill_mid_persist_leaves_no_rows_and_the_automatic_retry_completes(
    fault_stack: OwnStack, fault_api: httpx.Client
) -> None:
    """A dead worker is the infrastructure's fault: Dagster's run retries re-execute the run by
    themselves, the re-execution is the import's attempt 2, and the import never reads failed."""
    running = fault_stack.running
    rows = 40  # 8 chunks of 5 rows, one second apart inside the one transaction
    response = post_file(
        fault_api,
        "kill.csv",
        listings_csv(rows),
        source="fault-kill",
        run_config=delay("persisted_listings", 1.0),
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    import_id, run_id = accepted["import_id"], accepted["run_id"]
    worker = run_worker(running, run_id)

    deadline = time.monotonic() + 120
    third_chunk = ProgressEvent("persisted_listings", 15, 40)
    while third_chunk not in run_progress(running, run_id):
        assert time.monotonic() < deadline, "persisted_listings never reached its third chunk"
        time.sleep(0.2)
    # Two chunks are written inside the open transaction: nobody else can see them.
    assert db_counts(running, import_id)["persisted_rows"] == 0
    killed = time.monotonic()
    worker.send_signal(signal.SIGKILL)
    worker.wait(15)

    done = wait_final(fault_api, import_id, timeout=180)
    seconds = time.monotonic() - killed
    print(f"worker killed -> import succeeded on the automatic retry in {seconds:.1f} s")
    assert done["status"] == "succeeded", done
    assert done["persisted_rows"] == rows == done["total_rows"]
    assert db_counts(running, import_id) == {
        "persisted_rows": rows,
        "error_rows": 0,
        "distinct_indexes": rows,
    }
    assert [r["attempt"] for r in done["runs"]] == [1, 2]
    assert done["runs"][0]["run_id"] == run_id
    assert_launched_once(fault_api, done, run_id)  # attempt 2 is Dagster's retry of the dead run
    assert run_count(running, import_id) == 2
    with running.engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


# -- the API restarts while runs are in flight ---------------------------------------------------
def test_api_restart_loses_no_import(fault_stack: OwnStack) -> None:
    running = fault_stack.running
    sizes = [3, 6]
    with httpx.Client(base_url=running.api_url, timeout=120) as client:
        accepted = [
            post_file(
                client,
                f"restart-{n}.csv",
                listings_csv(n, tag=f"r{n}"),
                source="fault-restart",
                run_config=delay("normalized_listings", 2.0),
            ).json()
            for n in sizes
        ]
    assert all("import_id" in a for a in accepted), accepted
    fault_stack.stop("api", signal.SIGKILL)  # a crash, not a graceful shutdown
    time.sleep(1.0)
    fault_stack.start("api")
    with httpx.Client(base_url=running.api_url, timeout=120) as client:
        finals = wait_all_final(client, [a["import_id"] for a in accepted], "fault-restart")
        for n, acc in zip(sizes, accepted, strict=True):
            summary = finals[acc["import_id"]]
            assert summary["status"] == "succeeded", summary
            assert summary["persisted_rows"] == n == summary["total_rows"]
            assert_launched_once(client, summary, acc["run_id"])
            counts = db_counts(running, acc["import_id"])
            assert counts["persisted_rows"] == counts["distinct_indexes"] == n


# -- the daemon is down ---------------------------------------------------------------------------
def test_imports_wait_in_the_queue_while_the_daemon_is_down(
    fault_stack: OwnStack, fault_api: httpx.Client
) -> None:
    running = fault_stack.running
    fault_stack.stop("daemon")
    try:
        response = post_file(fault_api, "queued.csv", listings_csv(7), source="fault-daemon")
        assert response.status_code == 202, response.text
        accepted = response.json()
        time.sleep(4.0)  # with the daemon up, the run would have started within ~1 s
        summary = fault_api.get(f"/api/imports/{accepted['import_id']}").json()
        assert summary["status"] == "queued", summary
        job = fault_api.get(f"/api/jobs/{accepted['run_id']}/status").json()
        assert job["dagster_status"] == "QUEUED", job
    finally:
        fault_stack.start("daemon")
    done = wait_final(fault_api, accepted["import_id"])
    assert done["status"] == "succeeded" and done["persisted_rows"] == 7, done
    assert db_counts(running, accepted["import_id"])["persisted_rows"] == 7
    assert_launched_once(fault_api, done, accepted["run_id"])
    assert run_count(running, accepted["import_id"]) == len(done["runs"])


# -- a busy database ------------------------------------------------------------------------------
def test_a_locked_database_is_waited_out(api: httpx.Client, running_stack: RunningStack) -> None:
    url = make_url(running_stack.settings.sqlalchemy_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the write lock is SQLite's")
    response = post_file(
        api,
        "locked.csv",
        listings_csv(9),
        source="fault-lock",
        run_config=delay("scored_listings", 1.0),
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    deadline = time.monotonic() + 120
    while True:
        job = api.get(f"/api/jobs/{accepted['run_id']}/status").json()
        if job["progress"]["current_stage"] == "scored_listings" or job["progress"]["assets_done"]:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.1)

    holder = sqlite3.connect(url.database, timeout=30, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock: every writer now waits
    locked_at = time.monotonic()
    try:
        time.sleep(1.5)
        # Reads go on while the lock is held (WAL), and do not queue behind it.
        started = time.monotonic()
        during = api.get(f"/api/imports/{accepted['import_id']}")
        assert during.status_code == 200 and time.monotonic() - started < 2.0
        assert during.json()["status"] in ("queued", "running")
        time.sleep(3.0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    released = time.time()
    held = time.monotonic() - locked_at
    done = wait_final(api, accepted["import_id"])
    assert done["status"] == "succeeded", done
    assert (
        done["persisted_rows"]
        == 9
        == db_counts(running_stack, accepted["import_id"])["distinct_indexes"]
    )
    job = api.get(f"/api/jobs/{accepted['run_id']}/status").json()
    assert job["dagster_status"] == "SUCCESS" and held >= 4.5
    # The run was still writing when the lock went away: it waited, it did not fail.
    assert datetime.fromisoformat(job["end_time"]).timestamp() > released
    assert len(done["runs"]) == 1


# -- the same submission twice --------------------------------------------------------------------
def test_idempotency_key_gives_the_same_import_and_one_run(
    api: httpx.Client, running_stack: RunningStack
) -> None:
    data = listings_csv(5, tag="idem")
    headers = {"Idempotency-Key": f"idem-{time.time_ns()}"}
    first = api.post(
        "/api/imports", files={"file": ("idem.csv", data, "text/csv")}, headers=headers
    )
    second = api.post(
        "/api/imports", files={"file": ("idem.csv", data, "text/csv")}, headers=headers
    )
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json()["import_id"] == second.json()["import_id"]
    assert first.json()["run_id"] == second.json()["run_id"]
    done = wait_final(api, first.json()["import_id"])
    third = api.post(
        "/api/imports", files={"file": ("idem.csv", data, "text/csv")}, headers=headers
    )
    assert third.json()["import_id"] == done["import_id"]
    assert_launched_once(api, done, first.json()["run_id"])
    assert run_count(running_stack, done["import_id"]) == len(done["runs"])
    assert len(import_rows(running_stack, idempotency_key=headers["Idempotency-Key"])) == 1


def test_concurrent_submissions_with_one_key_make_one_import(
    running_stack: RunningStack,
) -> None:
    key = f"idem-race-{time.time_ns()}"
    data = listings_csv(4, tag="race")
    before = landing_entries(running_stack)
    barrier = threading.Barrier(6)

    def submit(_: int) -> httpx.Response:
        with httpx.Client(base_url=running_stack.api_url, timeout=120) as client:
            barrier.wait()
            return client.post(
                "/api/imports",
                files={"file": ("race.csv", data, "text/csv")},
                headers={"Idempotency-Key": key},
            )

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(submit, range(6)))
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    ids = {r.json()["import_id"] for r in responses}
    assert len(ids) == 1
    [import_id] = ids
    assert landing_entries(running_stack) - before == {import_id}  # the losers kept nothing
    with httpx.Client(base_url=running_stack.api_url, timeout=120) as client:
        done = wait_final(client, import_id)
        assert done["persisted_rows"] == 4
        # Every answer that names a run names the winner's (a loser answered before the winner
        # launched names none); that run is the import's only launch.
        [run_id] = {r.json()["run_id"] for r in responses} - {None}
        assert_launched_once(client, done, run_id)
    assert len(import_rows(running_stack, idempotency_key=key)) == 1
    assert run_count(running_stack, import_id) == len(done["runs"])


# -- many at once ---------------------------------------------------------------------------------
def test_twenty_concurrent_uploads_all_complete_exactly(corpus_run: CorpusRun) -> None:
    """The bad-input corpus (21 small files, accepted in full or in part) is uploaded by one
    thread per file released together; every import ends with exactly its rows accounted for."""
    assert corpus_run.concurrent >= 20
    for name, got in corpus_run.outcomes.items():
        rows = PARTIAL[name][0] if name in PARTIAL else len(reference_rows(name))
        summary = got["summary"]
        assert summary["status"] in ("succeeded", "partially_succeeded"), (name, summary)
        assert summary["total_rows"] == rows == summary["persisted_rows"] + summary["error_rows"]
        assert got["db"]["persisted_rows"] == summary["persisted_rows"]
        assert got["db"]["distinct_indexes"] == summary["persisted_rows"]
        assert got["db"]["error_rows"] == summary["error_rows"]
        assert len(summary["runs"]) == 1, (name, summary["runs"])
    assert len({g["accepted"]["import_id"] for g in corpus_run.outcomes.values()}) == len(
        corpus_run.outcomes
    )
    print(f"{corpus_run.concurrent} concurrent uploads: all final in {corpus_run.seconds:.1f} s")


# -- processing-time limit ------------------------------------------------------------------------
def test_runs_over_the_time_limit_are_stopped(running_stack: RunningStack) -> None:
    """GLYPH_MAX_RUN_SECONDS becomes the run's dagster/max_runtime tag; run monitoring ends it.
    Measured from the run's own start: it may wait in the shared queue first."""
    with (
        extra_api(running_stack, max_run_seconds="3") as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        response = post_file(
            client,
            "slow.csv",
            listings_csv(5, tag="slow"),
            source="fault-timeout",
            run_config=delay("normalized_listings", 120),
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert _run_tags(running_stack, accepted["run_id"]).get("dagster/max_runtime") == "3"
        done = wait_final(client, accepted["import_id"], timeout=400)
        job = client.get(f"/api/jobs/{accepted['run_id']}/status").json()
    assert done["status"] in ("failed", "canceled"), done
    ran = datetime.fromisoformat(job["end_time"]) - datetime.fromisoformat(job["start_time"])
    assert ran.total_seconds() < 60, job  # the step alone would have slept 120 s
    assert (
        done["persisted_rows"]
        == 0
        == db_counts(running_stack, accepted["import_id"])["persisted_rows"]
    )
    if done["status"] == "failed":
        assert "maximum runtime" in (done["error_message"] or ""), done


def _run_tags(running: RunningStack, run_id: str) -> dict[str, str]:
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } } } }"
    response = httpx.post(
        f"{running.dagster_url}/graphql", json={"query": query, "variables": {"id": run_id}}
    )
    return {t["key"]: t["value"] for t in response.json()["data"]["runOrError"]["tags"]}


def test_default_runs_carry_the_configured_limit(
    corpus_run: CorpusRun, running_stack: RunningStack
) -> None:
    run_id = next(iter(corpus_run.outcomes.values()))["accepted"]["run_id"]
    tags = _run_tags(running_stack, run_id)
    assert tags["dagster/max_runtime"] == str(running_stack.settings.max_run_seconds)
    # Runs launched by anything else (inbox sensor, UI) carry it from the job definition.
    from glyph_assets.jobs import build_ingest_job
    from glyph_assets.settings import Settings

    assert build_ingest_job(Settings()).tags["dagster/max_runtime"] == "3600"
