"""Receiving uploads without Dagster: file-level refusals, limits, landing, JSON bodies, fields.

Dagster's port is closed here, so an accepted file stops right after it is landed and recorded:
that is where the API reports 503 and marks the import failed (retry can launch it later).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.store import repository
from glyph_assets.store.db import migrate
from tests.support.app import api_client
from tests.support.warehouse import imports_recorded

SAMPLE = PROJECT_ROOT / "data" / "samples" / "gpu_listings_sample.csv"
BOUNDARY = "glyphtestboundary"


@pytest.fixture
def client(glyph_env: Settings) -> Iterator[TestClient]:
    with api_client(glyph_env) as test_client:
        yield test_client


def imports_in_db(settings: Settings) -> int:
    return imports_recorded(migrate(settings.sqlalchemy_url))


def landed(settings: Settings) -> list[str]:
    root = settings.landing_dir
    return sorted(os.listdir(root)) if root.exists() else []


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart body with parts in exactly this order (name, filename, content)."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += content + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return out, {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def test_refused_file_lists_every_problem_and_keeps_nothing(
    client: TestClient, glyph_env: Settings
) -> None:
    response = client.post(
        "/api/imports", files={"file": ("list.csv", b"name;colour\n", "text/csv")}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "file_rejected"
    assert any("price" in p for p in error["problems"])
    assert any("no data rows" in p for p in error["problems"])
    empty = client.post("/api/imports", files={"file": ("e.csv", b"", "text/csv")})
    assert empty.status_code == 422 and empty.json()["error"]["problems"] == ["the file is empty"]
    assert imports_in_db(glyph_env) == 0 and landed(glyph_env) == []


def test_accepted_bytes_are_landed_intact_before_the_launch_fails(
    client: TestClient, glyph_env: Settings
) -> None:
    data = SAMPLE.read_bytes()
    response = client.post(
        "/api/imports",
        data={"source": "unit", "description": "sample", "metadata": '{"batch": 7}'},
        files={"file": ("sample.csv", data, "text/csv")},
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "dagster_unavailable"
    import_id = error["details"]["import_id"]
    assert landed(glyph_env) == [import_id]
    manifest = json.loads((glyph_env.landing_dir / import_id / "manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert Path(manifest["stored_as"]).read_bytes() == data
    assert (manifest["original_filename"], manifest["source"], manifest["kind"]) == (
        "sample.csv",
        "unit",
        "raw",
    )
    summary = client.get(f"/api/imports/{import_id}").json()
    assert (summary["status"], summary["description"], summary["metadata"]) == (
        "failed",
        "sample",
        {"batch": 7},
    )
    assert "could not launch the run" in summary["error_message"]
    # a retry needs Dagster too: it says so and leaves the import as it was
    retry = client.post(f"/api/imports/{import_id}/retry")
    assert retry.status_code == 503
    assert client.get(f"/api/imports/{import_id}").json()["status"] == "failed"


def test_raw_csv_body_and_established_path(client: TestClient, glyph_env: Settings) -> None:
    response = client.post(
        "/api/import/csv",
        params={"source": "raw-body", "filename": "../../etc/listing.tsv"},
        content=b"title\tprice\nNVIDIA L4 24GB\t2100\n",
        headers={"content-type": "text/tab-separated-values"},
    )
    assert response.status_code == 503
    import_id = response.json()["error"]["details"]["import_id"]
    record = repository.get_import(migrate(glyph_env.sqlalchemy_url), import_id)
    assert (record["source"], record["filename"]) == ("raw-body", "listing.tsv")


def test_json_body_is_landed_as_sent(client: TestClient, glyph_env: Settings) -> None:
    body = {
        "listings": [{"title": "NVIDIA A100 40GB PCIe", "price": "6890"}],
        "source": "json-feed",
        "kind": "raw",
        "campaign_id": "c-1",
    }
    raw = json.dumps(body).encode()
    response = client.post(
        "/api/imports", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 503
    import_id = response.json()["error"]["details"]["import_id"]
    manifest = json.loads((glyph_env.landing_dir / import_id / "manifest.json").read_text())
    assert Path(manifest["stored_as"]).read_bytes() == raw
    record = repository.get_import(migrate(glyph_env.sqlalchemy_url), import_id)
    assert (record["source"], record["campaign_id"], record["filename"]) == (
        "json-feed",
        "c-1",
        "listings.json",
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"listings": []}, "invalid_request"),
        ({"source": "x"}, "invalid_request"),
        ({"listings": [{"title": "a", "price": "1"}], "kind": "cooked"}, "invalid_request"),
        ({"listings": [{"title": "a", "price": "1"}], "colour": "red"}, "invalid_request"),
        ([], "invalid_request"),
    ],
)
def test_bad_json_bodies(client: TestClient, glyph_env: Settings, body: object, code: str) -> None:
    response = client.post("/api/imports", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert imports_in_db(glyph_env) == 0 and landed(glyph_env) == []


def test_size_limit_is_413_and_keeps_nothing(glyph_env: Settings) -> None:
    with api_client(glyph_env, max_upload_bytes=64) as client:
        data = SAMPLE.read_bytes()
        multi = client.post("/api/imports", files={"file": ("s.csv", data, "text/csv")})
        raw = client.post("/api/import/csv", content=data, headers={"content-type": "text/csv"})
        streamed = client.post(
            "/api/import/csv",
            content=iter([data[:40], data[40:80], data[80:]]),  # no Content-Length
            headers={"content-type": "text/csv"},
        )
        body = client.post("/api/imports", json={"listings": [{"title": "x" * 100}]})
    for response in (multi, raw, streamed, body):
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "payload_too_large"
    assert imports_in_db(glyph_env) == 0 and landed(glyph_env) == []


def test_form_fields_after_the_file_are_refused(client: TestClient, glyph_env: Settings) -> None:
    body, headers = multipart(
        [("file", "s.csv", SAMPLE.read_bytes()), ("source", None, b"too-late")]
    )
    response = client.post("/api/imports", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "field_after_file"
    assert imports_in_db(glyph_env) == 0 and landed(glyph_env) == []
    unknown_after, headers = multipart(
        [("source", None, b"early"), ("file", "s.csv", b"title,price\nL4,1\n"), ("x", None, b"1")]
    )
    response = client.post("/api/imports", content=unknown_after, headers=headers)
    assert response.status_code == 503  # accepted; only the launch fails here


def test_multipart_without_file_and_wrong_types(client: TestClient) -> None:
    body, headers = multipart([("source", None, b"x")])
    response = client.post("/api/imports", content=body, headers=headers)
    assert response.status_code == 422 and "file" in response.json()["error"]["message"]
    wrong = client.post("/api/imports", content=b"\x89PNG", headers={"content-type": "image/png"})
    assert wrong.status_code == 415
    assert wrong.json()["error"]["code"] == "unsupported_media_type"


def test_run_config_needs_the_server_to_allow_it(
    glyph_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLYPH_ALLOW_RUN_CONFIG", raising=False)
    fields = {"run_config": json.dumps({"ops": {}})}
    with api_client(glyph_env) as client:
        response = client.post(
            "/api/imports",
            data=fields,
            files={"file": ("s.csv", SAMPLE.read_bytes(), "text/csv")},
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "run_config_not_allowed"
    assert imports_in_db(glyph_env) == 0
    with api_client(glyph_env, allow_run_config=True) as allowed:
        response = allowed.post(
            "/api/imports",
            data=fields,
            files={"file": ("s.csv", SAMPLE.read_bytes(), "text/csv")},
        )
    assert response.status_code == 503  # past the check; Dagster is down here


def test_idempotency_key_answers_with_the_same_import(
    client: TestClient, glyph_env: Settings
) -> None:
    headers = {"Idempotency-Key": "batch-2026-11-23"}
    files = {"file": ("s.csv", SAMPLE.read_bytes(), "text/csv")}
    first = client.post("/api/imports", files=files, headers=headers)
    import_id = first.json()["error"]["details"]["import_id"]
    again = client.post("/api/imports", files=files, headers=headers)
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["import_id"] == import_id and again.json()["status"] == "failed"
    assert imports_in_db(glyph_env) == 1 and landed(glyph_env) == [import_id]


def test_token_protects_writes_and_reads_when_configured(glyph_env: Settings) -> None:
    with api_client(glyph_env, api_token="s3cret") as client:
        denied = client.post("/api/imports/x/retry")
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "unauthorized"
        assert client.get("/api/imports").status_code == 200  # reads stay open by default
    with api_client(glyph_env, api_token="s3cret", api_token_reads=True) as client:
        denied = client.get("/api/imports")
        assert denied.status_code == 401
        wrong = client.get("/api/imports", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = client.get("/api/imports", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.get("/api/health").status_code == 503  # reachable without a token


def test_health_reports_an_unreachable_dagster(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True and body["database"]["detail"] == "sqlite"
    assert body["dagster"]["ok"] is False and "unreachable" in body["dagster"]["detail"]
    # Which component is down, by name: the daemon cannot be asked without the webserver.
    assert body["down"] == ["dagster", "daemon"]
    assert body["components"]["database"]["ok"] is True
    assert body["components"]["daemon"]["detail"] == "not checked: the webserver is down"
    assert body["versions"]["api_schema"] == "1"
