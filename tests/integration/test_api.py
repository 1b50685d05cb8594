"""The REST API over HTTP against the real stack: uploads become runs, runs map to imports.

One stack serves the whole module (see conftest.running_stack). The demo corpus is read in place.
"""

from __future__ import annotations

import csv
import os
import socket
import statistics
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from glyph_assets.settings import Settings
from glyph_assets.store import repository
from glyph_assets.store.listing_rows import of_import
from glyph_assets.store.market import recent_imports
from glyph_assets.store.models import Import, ImportRun, Listing
from tests.support.imports import SAMPLE, outcome_counts, upload, wait_final, wait_for_market
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
DEMO = CORPUS / "demo_listings.csv"


def data_rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as fh:
        return sum(1 for row in list(csv.reader(fh))[1:] if any(c.strip() for c in row))


@pytest.fixture(scope="module")
def api(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_stack.api_url, timeout=400) as client:
        yield client


def wait_job(api: httpx.Client, run_id: str, done: Any, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/api/jobs/{run_id}/status").json()
        if done(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached the expected state: {job}")


def import_count(stack: RunningStack) -> int:
    with stack.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Import)).scalar_one())


@pytest.fixture(scope="module")
def demo(api: httpx.Client, running_stack: RunningStack) -> dict[str, Any]:
    """The demo corpus uploaded as a file, followed to its end."""
    if not DEMO.exists():
        pytest.skip(f"corpus not found at {DEMO}")
    started = time.monotonic()
    response = upload(api, DEMO, source="itest-demo", description="demo corpus")
    assert response.status_code == 202, response.text
    accepted = response.json()
    summary = wait_final(api, accepted["import_id"])
    print(f"demo upload: POST -> {summary['status']} in {time.monotonic() - started:.1f} s")
    return {"accepted": accepted, "summary": summary}


def test_health_reports_database_and_dagster(api: httpx.Client) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["dagster"]["ok"]
    assert body["dagster"]["version"].startswith("1.13")
    assert body["schema_version"] == response.headers["x-glyph-schema-version"] == "1"


def test_demo_upload_summary_matches_the_database(
    api: httpx.Client, running_stack: RunningStack, demo: dict[str, Any]
) -> None:
    accepted, summary = demo["accepted"], demo["summary"]
    import_id, run_id = accepted["import_id"], accepted["run_id"]
    assert accepted["status"] == "queued" and accepted["attempt"] == 1
    assert accepted["links"]["job_status"] == f"/api/jobs/{run_id}/status"
    assert accepted["links"]["dagster_run"] == f"{running_stack.dagster_url}/runs/{run_id}"
    assert accepted["detected"]["format"] == "csv" and accepted["kind"] == "raw"

    assert summary["status"] in ("succeeded", "partially_succeeded")
    counts = outcome_counts(running_stack, import_id)
    assert {k: summary[k] for k in counts} == counts
    assert summary["persisted_rows"] + summary["error_rows"] == 173 == summary["total_rows"]
    assert summary["status"] == ("partially_succeeded" if counts["error_rows"] else "succeeded")
    assert [(r["run_id"], r["attempt"], r["status"]) for r in summary["runs"]] == [
        (run_id, 1, "SUCCESS")
    ]
    assert len(summary["first_errors"]) == min(10, counts["error_rows"])
    assert summary["score"]["min"] is not None and 0 <= summary["score"]["min"] <= 100
    assert summary["top_models"] and summary["top_models"][0]["listings"] >= 1
    assert summary["timings"]["total_seconds"] > 0

    job = api.get(f"/api/jobs/{run_id}/status").json()
    assert job["status"] == "succeeded" and job["dagster_status"] == "SUCCESS"
    assert job["import_id"] == import_id and job["attempt"] == 1
    assert job["progress"]["assets_done"] == 5 == job["progress"]["assets_total"]
    assert {s["stage"]: s["rows_processed"] for s in job["progress"]["stages"]}[
        "persisted_listings"
    ] == 173
    # Where each step ran: on the default executor, all in the run's own process (host:pid).
    steps = api.get(f"/api/imports/{import_id}").json()["steps"]
    assert {s["step_key"] for s in steps} >= {s["stage"] for s in job["progress"]["stages"]}
    assert all(s["status"] == "SUCCESS" and s["started_at"] <= s["ended_at"] for s in steps)
    (worker,) = {s["worker"] for s in steps}
    host, pid = worker.rsplit(":", 1)
    assert host == socket.gethostname() and int(pid) > 0, worker
    with running_stack.engine.connect() as conn:
        recorded = conn.execute(
            select(ImportRun.run_id, ImportRun.attempt).where(ImportRun.import_id == import_id)
        ).all()
    assert [tuple(r) for r in recorded] == [(run_id, 1)]

    errors = api.get(f"/api/imports/{import_id}/errors", params={"limit": 1000}).json()
    assert errors["total"] == counts["error_rows"]
    assert all({"import_index", "stage", "field", "reason"} <= set(e) for e in errors["items"])


def test_listings_by_import_id(
    api: httpx.Client, running_stack: RunningStack, demo: dict[str, Any]
) -> None:
    import_id = demo["accepted"]["import_id"]
    persisted = demo["summary"]["persisted_rows"]
    page = api.get(f"/api/imports/{import_id}/listings", params={"limit": 1000}).json()
    assert page["total"] == persisted == len(page["items"])
    assert {item["import_id"] for item in page["items"]} == {import_id}
    indexes = [item["import_index"] for item in page["items"]]
    assert indexes == sorted(set(indexes)) and indexes[0] >= 1  # the 1-based ordinal
    # The established array across imports holds the same rows in its own shape.
    established = api.get("/api/listings", params={"import_id": import_id, "limit": 1000})
    assert established.headers["x-total-count"] == str(persisted)
    assert [i["import_index"] for i in established.json()] == indexes
    assert all(isinstance(i["canonical_model"], str) for i in established.json())

    window = api.get(f"/api/imports/{import_id}/listings", params={"limit": 7, "offset": 5}).json()
    assert (window["total"], window["limit"], window["offset"]) == (persisted, 7, 5)
    assert [i["import_index"] for i in window["items"]] == indexes[5:12]
    # The import's own page (read on the driver's cursor) answers exactly as the general query,
    # booleans included, on either database; keyset pages walk the same rows.
    whole = api.get(
        f"/api/imports/{import_id}/listings", params={"limit": 1000, "min_score": 0}
    ).json()  # a filter: the general query, not the driver's cursor
    scored = [i for i in page["items"] if i["score"] is not None]
    assert whole["items"] == scored
    assert {type(i["is_gpu"]) for i in page["items"]} <= {bool, type(None)}
    walked: list[dict[str, Any]] = []
    after: int | None = -1
    while after is not None:
        step = api.get(
            f"/api/imports/{import_id}/listings", params={"limit": 9, "after_index": after}
        ).json()
        walked += step["items"]
        after = step["next_after_index"]
    assert walked == page["items"]

    best = api.get(
        f"/api/imports/{import_id}/listings", params={"sort": "-score", "limit": 1000}
    ).json()["items"]
    scores = [i["score"] for i in best if i["score"] is not None]
    assert scores == sorted(scores, reverse=True)

    model = demo["summary"]["top_models"][0]["canonical_model"]
    of_model = api.get(
        "/api/listings", params={"import_id": import_id, "model": model, "min_score": 0}
    )
    assert of_model.headers["x-total-count"] == str(demo["summary"]["top_models"][0]["listings"])
    assert all(i["canonical_model"] == model for i in of_model.json())


def test_same_rows_as_json_body_give_the_same_counts(
    api: httpx.Client, running_stack: RunningStack, demo: dict[str, Any]
) -> None:
    with open(DEMO, newline="", encoding="utf-8") as fh:
        listings = list(csv.DictReader(fh))
    response = api.post(
        "/api/imports",
        params={"wait": "true", "timeout": 300},
        json={"listings": listings, "source": "itest-json", "description": "demo as JSON"},
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["source"] == "itest-json" and summary["filename"] == "listings.json"
    keys = ["total_rows", "persisted_rows", "error_rows", "not_gpu_rows", "unknown_model_rows"]
    assert {k: summary[k] for k in keys} == {k: demo["summary"][k] for k in keys}
    assert outcome_counts(running_stack, summary["import_id"]) == {k: summary[k] for k in keys[1:]}


def test_from_pipeline_only_under_its_root(api: httpx.Client, running_stack: RunningStack) -> None:
    root = running_stack.settings.from_pipeline_root
    (root / "batch").mkdir(exist_ok=True)
    (root / "batch" / "sample.csv").write_bytes(SAMPLE.read_bytes())
    outside = root.parent / "outside.csv"
    outside.write_bytes(SAMPLE.read_bytes())
    (root / "batch" / "escape.csv").symlink_to(outside)
    before = import_count(running_stack)

    refused = {
        "../outside.csv": 422,
        "batch/../../outside.csv": 422,
        str(outside): 403,
        "batch/escape.csv": 403,
        "batch/missing.csv": 404,
    }
    for path, status in refused.items():
        response = api.post("/api/imports/from-pipeline", json={"input_csv_path": path})
        assert response.status_code == status, (path, response.text)
        assert response.json()["error"]["code"]
    assert import_count(running_stack) == before

    response = api.post(
        "/api/imports/from-pipeline",
        params={"wait": "true", "timeout": 300},
        json={
            "input_csv_path": "batch/sample.csv",
            "source_label": "itest-pipeline",
            "campaign_id": "nov-sweep",
            "metadata": {"crawler": "v3"},
        },
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["status"] in ("succeeded", "partially_succeeded")
    assert (summary["source"], summary["campaign_id"], summary["metadata"]) == (
        "itest-pipeline",
        "nov-sweep",
        {"crawler": "v3"},
    )
    assert summary["persisted_rows"] + summary["error_rows"] == data_rows(SAMPLE)
    assert import_count(running_stack) == before + 1


def test_validate_leaves_no_trace(
    api: httpx.Client, running_stack: RunningStack, demo: dict[str, Any]
) -> None:
    landing = running_stack.settings.landing_dir
    before = (import_count(running_stack), sorted(os.listdir(landing)))
    with open(DEMO, "rb") as fh:
        response = api.post("/api/imports/validate", files={"file": (DEMO.name, fh, "text/csv")})
    assert response.status_code == 200, response.text
    report = response.json()
    expected = demo["summary"]
    assert report["valid"] and report["detected"]["kind"] == "raw"
    assert report["total_rows"] == 173
    assert report["error_rows"] == expected["error_rows"]
    assert report["valid_rows"] == expected["persisted_rows"]
    assert report["not_gpu_rows"] == expected["not_gpu_rows"]
    assert report["unknown_model_rows"] == expected["unknown_model_rows"]
    assert len(report["errors"]) == expected["error_rows"]

    rejected = api.post(
        "/api/imports/validate",
        content=b"name;colour\nfoo;red\n",
        headers={"content-type": "text/csv"},
    ).json()
    assert not rejected["valid"] and rejected["problems"]
    assert (import_count(running_stack), sorted(os.listdir(landing))) == before


def test_cancel_a_slow_run(api: httpx.Client, running_stack: RunningStack) -> None:
    response = upload(
        api,
        SAMPLE,
        source="itest-cancel",
        run_config={"ops": {"normalized_listings": {"config": {"delay_seconds": 120}}}},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    run_id = accepted["run_id"]
    job = wait_job(
        api, run_id, lambda j: j["dagster_status"] == "STARTED" and j["progress"]["assets_done"]
    )
    assert job["status"] == "running" and job["import_status"] == "running"
    assert job["progress"]["assets_done"] == 1  # raw_listings, then the delay

    started = time.monotonic()
    response = api.post(f"/api/jobs/{run_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"
    print(f"cancel -> CANCELED in {time.monotonic() - started:.2f} s")
    summary = api.get(f"/api/imports/{accepted['import_id']}").json()
    assert summary["status"] == "canceled"
    assert outcome_counts(running_stack, accepted["import_id"]) == {
        "persisted_rows": 0,
        "error_rows": 0,
        "not_gpu_rows": 0,
        "unknown_model_rows": 0,
    }
    assert api.post(f"/api/jobs/{run_id}/cancel").status_code == 409


def test_failed_run_retried_from_failure(api: httpx.Client, running_stack: RunningStack) -> None:
    """The fault switch fails persisted_listings; the retry re-executes from that step with a run
    config that clears the switch (a plain re-execution would keep the parent's config)."""
    response = upload(
        api,
        SAMPLE,
        source="itest-retry",
        run_config={"ops": {"persisted_listings": {"config": {"fail": True}}}},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    import_id, first_run = accepted["import_id"], accepted["run_id"]
    failed = wait_final(api, import_id)
    assert failed["status"] == "failed" and failed["error_message"]
    job = api.get(f"/api/jobs/{first_run}/status").json()
    assert job["status"] == "failed" and "fault switch" in job["failure_message"]
    assert job["progress"]["assets_done"] == 4
    assert outcome_counts(running_stack, import_id)["persisted_rows"] == 0

    retried = api.post(f"/api/imports/{import_id}/retry", json={"run_config": {}})
    assert retried.status_code == 202, retried.text
    retry = retried.json()
    assert (retry["attempt"], retry["strategy"], retry["parent_run_id"]) == (
        2,
        "from_failure",
        first_run,
    )
    done = wait_final(api, import_id)
    assert done["status"] in ("succeeded", "partially_succeeded"), done
    assert done["error_message"] is None
    assert [(r["run_id"], r["attempt"]) for r in done["runs"]] == [
        (first_run, 1),
        (retry["run_id"], 2),
    ]
    second = api.get(f"/api/jobs/{retry['run_id']}/status").json()
    assert second["parent_run_id"] == first_run and second["attempt"] == 2
    # Final, the summary is served from glyph's database: the runs keep Dagster's facts there.
    kept = repository.runs_of(running_stack.engine, import_id)
    assert [r["parent_run_id"] for r in kept] == [None, first_run]
    assert all(r["started_at"] and r["ended_at"] for r in kept), kept
    runs = api.get(f"/api/imports/{import_id}").json()["runs"]
    assert [r["parent_run_id"] for r in runs] == [None, first_run]
    jobs = [api.get(f"/api/jobs/{r['run_id']}/status").json() for r in runs]
    for run, job in zip(runs, jobs, strict=True):
        for name in ("start_time", "end_time"):
            assert datetime.fromisoformat(run[name]) == datetime.fromisoformat(job[name]), name
    reused = [s["stage"] for s in second["progress"]["stages"] if s["status"] == "REUSED"]
    assert reused == ["raw_listings", "normalized_listings", "enriched_listings", "scored_listings"]

    counts = outcome_counts(running_stack, import_id)
    assert counts["persisted_rows"] + counts["error_rows"] == data_rows(SAMPLE)
    assert {k: done[k] for k in counts} == counts
    with running_stack.engine.connect() as conn:
        distinct = conn.execute(
            select(func.count(func.distinct(Listing.import_index))).where(of_import(import_id))
        ).scalar_one()
    assert distinct == counts["persisted_rows"]
    again = api.post(f"/api/imports/{import_id}/retry")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_retryable"


def test_rejected_upload_lists_every_problem_and_keeps_nothing(
    api: httpx.Client, running_stack: RunningStack
) -> None:
    landing = running_stack.settings.landing_dir
    before = (import_count(running_stack), sorted(os.listdir(landing)))
    response = api.post(
        "/api/import/csv",
        content=b"name;colour\n",
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "file_rejected" and len(error["problems"]) >= 2
    assert (import_count(running_stack), sorted(os.listdir(landing))) == before


def _window_prices(engine: Engine, model: str) -> list[float]:
    """The USD card prices of ``model`` over the imports the market window covers now."""
    window = recent_imports(engine, Settings().market_window_imports)
    with engine.connect() as conn:
        return [
            p
            for (p,) in conn.execute(
                select(func.coalesce(Listing.unit_price, Listing.price)).where(
                    Listing.import_key.in_(
                        select(Import.import_key).where(
                            Import.import_id.in_(window["import_id"].tolist())
                        )
                    ),
                    Listing.canonical_model == model,
                    Listing.price > 0,
                    Listing.currency == "USD",
                    Listing.is_gpu.is_(True),
                )
            )
        ]


def test_import_list_and_models(
    api: httpx.Client, running_stack: RunningStack, demo: dict[str, Any]
) -> None:
    import_id = demo["accepted"]["import_id"]
    page = api.get("/api/imports", params={"source": "itest-demo"}).json()
    assert set(page) >= {"items", "total", "limit", "offset"}
    assert [i["import_id"] for i in page["items"]] == [import_id]
    none = api.get(
        "/api/imports", params={"source": "itest-demo", "created_before": "2000-01-01T00:00:00Z"}
    ).json()
    assert none["total"] == 0
    succeeded = api.get("/api/imports", params={"status": demo["summary"]["status"]}).json()
    assert import_id in {i["import_id"] for i in succeeded["items"]}

    finished = datetime.fromisoformat(demo["summary"]["timestamp"])
    top = demo["summary"]["top_models"][0]["canonical_model"]
    # The automation refreshes the market after each import ends; other tests' imports on this
    # stack may end meanwhile, so compare once a refresh has covered the window as it stands.
    deadline = time.monotonic() + 240
    while True:
        models = wait_for_market(api, finished)  # refreshed by the stack's market automation
        assert models
        [market] = [m for m in models if m["canonical_model"] == top]
        prices = _window_prices(running_stack.engine, top)
        if market["listing_count"] == len(prices) or time.monotonic() > deadline:
            break
        time.sleep(2.0)
    assert market["listing_count"] == len(prices)
    assert market["min_price"] == min(prices) and market["max_price"] == max(prices)
    assert market["median_price"] == pytest.approx(statistics.median(prices))
