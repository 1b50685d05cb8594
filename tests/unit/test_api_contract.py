"""The OpenAPI document and the error shape: what clients and generated clients rely on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from glyph_assets.settings import Settings
from tests.support.app import api_client

ENDPOINTS = {
    ("post", "/api/imports"),
    ("post", "/api/import/csv"),
    ("post", "/api/imports/from-pipeline"),
    ("post", "/api/imports/validate"),
    ("get", "/api/imports"),
    ("get", "/api/imports/{import_id}"),
    ("get", "/api/imports/{import_id}/errors"),
    ("get", "/api/imports/{import_id}/listings"),
    ("post", "/api/imports/{import_id}/retry"),
    ("get", "/api/listings"),
    ("get", "/api/jobs/{run_id}/status"),
    ("post", "/api/jobs/{run_id}/cancel"),
    ("get", "/api/models"),
    ("get", "/api/health"),
}


@pytest.fixture
def client(glyph_env: Settings) -> Iterator[TestClient]:
    with api_client(glyph_env) as c:
        yield c


def test_every_endpoint_is_documented_with_typed_answers(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert documented >= ENDPOINTS
    schemas = spec["components"]["schemas"]
    for name in (
        "ImportSummary",
        "ImportAccepted",
        "JobStatus",
        "ErrorResponse",
        "ValidationReport",
        "RetryResponse",
        "ListingOut",
        "RowErrorOut",
        "Health",
    ):
        assert schemas[name].get("examples"), f"{name} has no example"
    summary = schemas["ImportSummary"]["properties"]
    for field in (
        "import_id",
        "status",
        "total_rows",
        "persisted_rows",
        "error_rows",
        "not_gpu_rows",
        "unknown_model_rows",
        "schema_version",
    ):
        assert field in summary
    page = schemas["ListingPage"]["properties"]
    assert set(page) >= {"items", "total", "limit", "offset", "next_after_index"}
    upload = spec["paths"]["/api/imports"]["post"]
    assert set(upload["requestBody"]["content"]) >= {
        "multipart/form-data",
        "application/json",
        "text/csv",
    }
    assert {"202", "200", "413", "422"} <= set(upload["responses"])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/nowhere", 404),
        ("delete", "/api/imports", 405),
        ("get", "/api/imports?limit=5000", 422),
        ("get", "/api/imports?created_after=yesterday", 422),
        ("post", "/api/imports/from-pipeline", 422),
        ("get", "/api/jobs/abc/status", 503),
    ],
)
def test_one_error_shape_everywhere(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert body["schema_version"] == "1"
    assert set(body["error"]) == {"code", "message", "problems", "details"}
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
