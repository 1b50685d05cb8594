"""What an operator watches: ``GET /metrics`` (Prometheus text) against the database and across
the API's two uvicorn workers, health naming the component that is down, JSON log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from glyph_assets.store.models import Import
from tests.support.imports import post_file, wait_final
from tests.support.reliability import extra_api
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def api(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_stack.api_url, timeout=120) as client:
        yield client


def scrape(api: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_agree_with_the_database_and_add_up_every_worker(
    api: httpx.Client, running_stack: RunningStack
) -> None:
    body = "title,price,seller\nNVIDIA L4 24GB,2000,Acme\nNVIDIA L4 24GB x,2100,Acme\n"
    accepted = post_file(api, "metrics.csv", body.encode(), source="metrics")
    assert accepted.status_code == 202, accepted.text
    wait_final(api, accepted.json()["import_id"])

    listings = ("glyph_http_request_duration_seconds_count", "/api/listings")
    key = (listings[0], (("method", "GET"), ("route", listings[1]), ("status", "2xx")))
    before = scrape(api).get(key, 0.0)
    for _ in range(20):  # spread over both uvicorn workers
        with httpx.Client(base_url=running_stack.api_url, timeout=60) as fresh:
            assert fresh.get("/api/listings", params={"limit": 5}).status_code == 200
    samples = scrape(api)
    assert samples[key] - before == 20  # every worker's observations, summed

    table = Import.__table__
    with running_stack.engine.connect() as conn:
        query = select(table.c.status, func.count()).group_by(table.c.status)
        by_status = {status: n for status, n in conn.execute(query).all()}
        persisted, size, count = conn.execute(
            select(
                func.coalesce(func.sum(table.c.persisted_rows), 0),
                func.sum(table.c.size_bytes),
                func.count(),
            )
        ).one()
    for status, n in by_status.items():
        assert samples[("glyph_imports", (("status", status),))] == n
    assert samples[("glyph_import_rows", (("kind", "persisted"),))] == persisted
    assert samples[("glyph_upload_bytes_total", ())] == size
    assert samples[("glyph_uploads_total", ())] == count
    assert samples[("glyph_import_processing_seconds_count", ())] >= 1


def test_json_log_lines(running_stack: RunningStack) -> None:
    with extra_api(running_stack, log_format="json") as url:
        assert httpx.get(f"{url}/api/listings", timeout=30).status_code == 200
        port = url.rsplit(":", 1)[1]
        log = running_stack.home / "stack" / f"api-{port}.log"
        deadline = time.monotonic() + 10
        while "GET /api/listings" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), records
    assert any(r["logger"] == "uvicorn.access" for r in records), records
