"""Imports of a running stack: submitting files through its API, waiting for their end, and
what its database holds of them afterwards.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from glyph_assets.settings import PROJECT_ROOT
from glyph_assets.store import repository
from glyph_assets.store.listing_rows import of_import
from glyph_assets.store.models import Import, Listing, RowError
from tests.support.stack import RunningStack

TERMINAL = {"succeeded", "partially_succeeded", "failed", "canceled"}
SAMPLE = PROJECT_ROOT / "data" / "samples" / "gpu_listings_sample.csv"


def wait_final(client: httpx.Client, import_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    summary: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/api/imports/{import_id}")
        if response.status_code == 200:
            summary = response.json()
            if summary["status"] in TERMINAL:
                return summary
        time.sleep(0.5)
    raise AssertionError(f"import {import_id} not final after {timeout} s: {summary}")


def assert_launched_once(client: httpx.Client, summary: dict[str, Any], run_id: str) -> None:
    """The import's runs are the one its submission launched (``run_id``) and, when that run
    failed for want of its infrastructure, Dagster's run retries of it: each the child of a
    failed run. A second launch of the same submission would be a run without a parent.

    Why retries are allowed: run monitoring fails a run still STARTING after
    ``GLYPH_RUN_START_TIMEOUT_SECONDS`` (60 s), and a loaded machine reaches that: one CI run
    here, beside the PostgreSQL pass, took 180 s over a test that takes 11 s alone, and its
    import succeeded on its retry. A data failure is never retried (instance ``run_retries``),
    so a retry here is always an infrastructure one.

    Each run's parent and status are read from its job status, which asks Dagster and gives
    its failure message too. A failing assertion's text holds every run's job status (the
    failures' messages among them).
    """
    jobs = {
        run["run_id"]: client.get(f"/api/jobs/{run['run_id']}/status").json()
        for run in summary["runs"]
    }
    assert [rid for rid, job in jobs.items() if not job["parent_run_id"]] == [run_id], jobs
    for job in jobs.values():
        if job["parent_run_id"]:
            parent = jobs.get(job["parent_run_id"], {})
            assert parent.get("dagster_status") == "FAILURE", jobs


def wait_for_market(
    client: httpx.Client, since: datetime, timeout: float = 240
) -> list[dict[str, Any]]:
    """``GET /api/models`` once the market assets, refreshed by the stack's own automation, have
    recomputed ``model_market_stats`` after ``since`` (an import's end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/api/models")
        computed = response.headers.get("x-market-computed-at")
        if response.status_code == 200 and computed and datetime.fromisoformat(computed) >= since:
            return list(response.json())
        time.sleep(1.0)
    raise AssertionError(f"the market figures were not refreshed within {timeout} s of {since}")


def wait_all_final(
    client: httpx.Client, import_ids: list[str], source: str, timeout: float = 400
) -> dict[str, dict[str, Any]]:
    """Until every import of ``source`` listed is final: one list request per round (one Dagster
    call for the whole page), so that waiting for many imports does not load the webserver."""
    wanted = set(import_ids)
    deadline = time.monotonic() + timeout
    final: set[str] = set()
    while time.monotonic() < deadline:
        page = client.get("/api/imports", params={"source": source, "limit": 1000}).json()
        final = {i["import_id"] for i in page["items"] if i["status"] in TERMINAL} & wanted
        if final == wanted:
            return {i: client.get(f"/api/imports/{i}").json() for i in import_ids}
        time.sleep(1.0)
    raise AssertionError(f"imports not final after {timeout} s: {sorted(wanted - final)}")


def post_file(
    client: httpx.Client,
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    **fields: Any,
) -> httpx.Response:
    form = {k: str(v) for k, v in fields.items()}
    return client.post("/api/imports", data=form, files={"file": (name, data, content_type)})


def import_csv_now(client: httpx.Client, name: str, data: bytes) -> dict[str, Any]:
    """The answer of the established synchronous path (POST /api/import/csv), which must be 200:
    the file is imported by the time it returns."""
    response = client.post("/api/import/csv", files={"file": (name, data, "text/csv")})
    assert response.status_code == 200, response.text
    return dict(response.json())


def db_counts(running: RunningStack, import_id: str) -> dict[str, int]:
    """The import's rows as the database holds them, and how many distinct import_index."""
    distinct = select(func.count(func.distinct(Listing.import_index))).where(of_import(import_id))
    with running.engine.connect() as conn:
        indexes = conn.execute(distinct).scalar_one()
    return {**repository.count_rows(running.engine, import_id), "distinct_indexes": indexes}


def import_rows(running: RunningStack, **where: Any) -> list[dict[str, Any]]:
    table = Import.__table__
    query = select(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with running.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query).all()]


def landing_entries(running: RunningStack) -> set[str]:
    landing = running.settings.landing_dir
    return set(os.listdir(landing)) if landing.exists() else set()


def upload(api: httpx.Client, path: Path, **fields: Any) -> httpx.Response:
    form = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in fields.items()}
    with open(path, "rb") as fh:
        return api.post("/api/imports", data=form, files={"file": (path.name, fh, "text/csv")})


def outcome_counts(stack: RunningStack, import_id: str) -> dict[str, int]:
    """The import's rows in the database by outcome: persisted, row errors, not a GPU, unknown
    model."""
    with stack.engine.connect() as conn:

        def count(model: Any, *where: Any) -> int:
            query = select(func.count()).select_from(model).where(of_import(import_id, model))
            return int(conn.execute(query.where(*where)).scalar_one())

        return {
            "persisted_rows": count(Listing),
            "error_rows": count(RowError),
            "not_gpu_rows": count(Listing, Listing.is_gpu.is_(False)),
            "unknown_model_rows": count(Listing, Listing.reject_reason == "unknown_model"),
        }


def listings_csv(rows: int, tag: str = "") -> bytes:
    lines = ["title,price,seller"]
    lines += [f"NVIDIA L4 24GB {tag}#{i},{2000 + i},Acme" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def delay(stage: str, seconds: float) -> str:
    return f'{{"ops": {{"{stage}": {{"config": {{"delay_seconds": {seconds}}}}}}}}}'


# Two already-scored rows as an established client persists them (GPUListingDTO, 0-1 scores).
TWO_DTO_ROWS: list[dict[str, Any]] = [
    {
        "canonical_model": "RTX_4090",
        "vram_gb": 24,
        "mig_support": 0,
        "nvlink": False,
        "tdp_watts": 450,
        "price": 1599.0,
        "score": 0.81,
    },
    {
        "canonical_model": "A100_PCIE_80GB",
        "vram_gb": 80,
        "mig_support": 7,
        "nvlink": True,
        "tdp_watts": 300,
        "price": 9500.0,
        "score": 0.64,
    },
]
