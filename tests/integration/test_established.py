"""Conformance with the established glyphd contract, driven over HTTP exactly as its clients
drive it: no ``wait`` parameter, no version header, reading the established shapes.

Written from ``shared/reference/established-api.md`` (the contract as facts), not from the
earlier service's tests. Runs on SQLite and, in the PostgreSQL pass of ``make test``, on
PostgreSQL. The forecast endpoints are not part of it yet (they need listing history).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.imports import import_csv_now, wait_for_market
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def dto(model: str, price: float, score: float, vram: int, mig: int = 0) -> dict[str, Any]:
    return {
        "canonical_model": model,
        "vram_gb": vram,
        "mig_support": mig,
        "nvlink": mig > 0,
        "tdp_watts": 300,
        "price": price,
        "score": score,
    }


A100 = dto("A100_PCIE_80GB", 25_000.0, 0.92, 80, mig=7)
H100 = dto("H100_PCIE_80GB", 31_000.0, 85.0, 80, mig=7)
RTX = dto("RTX_4090", 1_799.0, 0.5, 24)


@pytest.fixture(scope="module")
def client(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_stack.api_url, timeout=400) as http:
        yield http


@pytest.fixture(scope="module")
def two(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/api/persist/listings", json=[A100, H100])
    assert response.status_code == 200, response.text
    return dict(response.json())


def listings(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/listings", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list)  # a bare array, as established
    return body


def test_health(client: httpx.Client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_persist_answers_the_import_result(client: httpx.Client, two: dict[str, Any]) -> None:
    uuid.UUID(two["import_id"])
    assert two["record_count"] == 2
    assert (two["first_model"], two["last_model"]) == ("A100_PCIE_80GB", "H100_PCIE_80GB")
    datetime.fromisoformat(two["timestamp"].replace("Z", "+00:00"))
    for key in ("rows_with_errors", "validation_errors", "warnings", "top_models"):
        assert isinstance(two[key], list)
    for key in ("summary_stats", "filename", "total_rows", "valid_rows", "invalid_rows"):
        assert key in two
    assert two["schema_version"] in ("v1.0", "v1.1")
    single = client.post("/api/persist/listings", json=[RTX]).json()
    assert single["first_model"] == single["last_model"] == "RTX_4090"
    assert single["import_id"] != two["import_id"]


def test_listings_read_back_exactly(client: httpx.Client, two: dict[str, Any]) -> None:
    rows = listings(client, import_id=two["import_id"])
    assert len(rows) == 2
    by_model = {r["canonical_model"]: r for r in rows}
    assert (by_model["A100_PCIE_80GB"]["price"], by_model["A100_PCIE_80GB"]["score"]) == (
        25_000.0,
        0.92,
    )
    assert by_model["H100_PCIE_80GB"]["score"] == 85.0  # scores come back as sent
    assert by_model["A100_PCIE_80GB"]["vram_gb"] == 80
    assert by_model["A100_PCIE_80GB"]["mig_support"] == 7
    assert sorted(r["import_index"] for r in rows) == [1, 2]  # 1-based, in request order
    assert None not in [v for r in rows for v in r.values()]  # nulls dropped


def test_established_filters(client: httpx.Client, two: dict[str, Any]) -> None:
    mine = {"import_id": two["import_id"]}
    ranged = listings(client, min_price=20_000, max_price=30_000, **mine)
    assert [r["canonical_model"] for r in ranged] == ["A100_PCIE_80GB"]
    assert len(listings(client, limit=1, **mine)) == 1
    assert len(listings(client, limit=1, offset=1, **mine)) == 1
    assert listings(client, import_id=str(uuid.uuid4())) == []
    fuzzy = listings(client, model="H100")
    assert fuzzy and all("H100" in r["canonical_model"] for r in fuzzy)
    exact = listings(client, model="H100_PCIE_80GB")
    assert exact and {r["canonical_model"] for r in exact} == {"H100_PCIE_80GB"}
    assert listings(client, model="zzzz-no-such-card-qqq") == []
    quantized = listings(client, quantized="true")
    assert quantized and all(r["mig_support"] > 0 for r in quantized)
    reversed_range = client.get("/api/listings", params={"min_price": 5, "max_price": 1})
    assert 400 <= reversed_range.status_code < 500
    assert "min_price cannot be greater than max_price" in reversed_range.json()["detail"]
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"min_price": -1}):
        assert client.get("/api/listings", params=bad).status_code == 422, bad


def test_every_import_counts_from_one(client: httpx.Client, two: dict[str, Any]) -> None:
    three = client.post("/api/persist/listings", json=[RTX, A100, H100]).json()
    for import_id, n in ((two["import_id"], 2), (three["import_id"], 3)):
        indexes = sorted(r["import_index"] for r in listings(client, import_id=import_id))
        assert indexes == list(range(1, n + 1))


def test_persist_refusals(client: httpx.Client) -> None:
    empty = client.post("/api/persist/listings", json=[])
    assert empty.status_code == 422 and "Empty listings array provided" in empty.json()["detail"]
    missing = client.post("/api/persist/listings", json=[{"canonical_model": "A100_PCIE_80GB"}])
    assert missing.status_code == 422


def test_csv_upload_is_synchronous(client: httpx.Client) -> None:
    data = (
        b"title,price,condition,seller\n"
        b"NVIDIA GeForce RTX 4090 24GB,1799,new,shop-a\nRTX 3080 Ti 12GB,650,used,shop-b\n"
    )
    result = import_csv_now(client, "two.csv", data)
    assert result["record_count"] > 0 and result["first_model"] and result["last_model"]
    assert result["filename"] == "two.csv" and len(result["score_range"]) == 2


def test_models(client: httpx.Client, two: dict[str, Any]) -> None:
    models = wait_for_market(client, datetime.fromisoformat(two["timestamp"]))
    assert isinstance(models, list) and models
    required = {"model", "listing_count", "min_price", "median_price", "max_price", "avg_price"}
    assert all(required <= set(m) for m in models)


def test_report(client: httpx.Client, two: dict[str, Any]) -> None:
    report = client.get("/api/report").json()
    assert report["markdown"].startswith("#")
    assert all(isinstance(v, str) for v in report["summary_stats"].values())
    assert isinstance(report["top_ranked"], list) and report["top_ranked"]
    assert all(isinstance(v, float) for v in report["scoring_weights"].values())


def test_is_gpu(client: httpx.Client) -> None:
    for title in ("NVIDIA A100 80GB PCIe", "Corsair 850W power supply", ""):
        response = client.post("/api/ml/is-gpu", json={"title": title})
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body["ml_is_gpu"], bool) and isinstance(body["ml_score"], float)
        assert 0.0 <= body["ml_score"] <= 1.0
    assert client.post("/api/ml/is-gpu", json={"title": "NVIDIA A100 80GB"}).json()["ml_is_gpu"]
    for body in ({}, {"name": "A100"}, {"title": 12345}):
        assert client.post("/api/ml/is-gpu", json=body).status_code == 422


def test_schema_versions(client: httpx.Client) -> None:
    versions = client.get("/api/schema/versions").json()
    assert versions["default_version"] in versions["supported_versions"]
    assert client.get("/api/schema/versions/v1.0").json()["supported"] is True
    unknown = client.get("/api/schema/versions/v9").json()
    assert unknown["supported"] is False and unknown["supported_versions"]


def test_upload_artifact_validates_only(client: httpx.Client, running_stack: RunningStack) -> None:
    data = b"title,price\nNVIDIA L4 24GB,2100\n,5\n"
    response = client.post(
        "/api/ingest/upload-artifact",
        data={"save_to_disk": "true"},
        files={"file": ("check.csv", data, "text/csv")},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["type"], result["rows"], result["file_size"]) == ("gpu_listing", 2, len(data))
    assert "Row 2: title is empty" in result["errors"]
    assert result["saved_to_disk"] and result["saved_path"].startswith(
        str(running_stack.settings.data_dir)
    )
    refused = client.post(
        "/api/ingest/upload-artifact", files={"file": ("notes.txt", b"x", "text/plain")}
    )
    assert refused.status_code == 422 and "Unsupported file type" in refused.json()["detail"]
