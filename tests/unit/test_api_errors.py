"""The domain exceptions the API lets travel are answered by one app-level handler each."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from glyph_assets.landing import StorageFull, UploadTooLarge
from glyph_assets.sieve.read import FileRejected, TooManyRows
from glyphd_api.errors import install_error_handlers

RAISED: dict[str, Exception] = {
    "too-large": UploadTooLarge(1000),
    "too-many-rows": TooManyRows(10, 11),
    "rejected": FileRejected(["no title column", "no price column"]),
    "full": StorageFull(Path("/landing")),
    "database": OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open")),
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    def raise_it(name: str) -> None:
        raise RAISED[name]

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("name", "status", "code", "problems", "details"),
    [
        ("too-large", 413, "payload_too_large", [], {"limit_bytes": 1000}),
        (
            "too-many-rows",
            413,
            "too_many_rows",
            ["the file has more than 10 data rows, this server's limit"],
            {"limit_rows": 10},
        ),
        ("rejected", 422, "file_rejected", ["no title column", "no price column"], None),
        ("full", 507, "insufficient_storage", [], None),
        ("database", 503, "database_unavailable", [], None),
    ],
)
def test_domain_exception_answers(
    client: TestClient,
    name: str,
    status: int,
    code: str,
    problems: list[str],
    details: dict[str, int] | None,
) -> None:
    response = client.get(f"/raise/{name}")
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["problems"], error["details"]) == (code, problems, details)
    assert response.json()["detail"] == "; ".join([error["message"], *problems])


def test_database_answer_names_the_driver_not_the_statement(client: TestClient) -> None:
    message = client.get("/raise/database").json()["error"]["message"]
    assert message == "the database is unavailable: unable to open"
