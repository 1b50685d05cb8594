"""POST /api/imports/validate: every check an import makes, row level included, and no trace."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.store.db import migrate
from tests.support.app import api_client
from tests.support.warehouse import imports_recorded

SAMPLE = PROJECT_ROOT / "data" / "samples" / "gpu_listings_sample.csv"


@pytest.fixture
def client(glyph_env: Settings) -> Iterator[TestClient]:
    with api_client(glyph_env) as c:
        yield c


def no_trace(settings: Settings) -> bool:
    imports = imports_recorded(migrate(settings.sqlalchemy_url))
    landing = settings.landing_dir
    return imports == 0 and (not landing.exists() or not any(landing.iterdir()))


def test_demo_file_report(client: TestClient, glyph_env: Settings, corpus: Path) -> None:
    demo = corpus / "demo_listings.csv"
    with open(demo, "rb") as fh:
        response = client.post("/api/imports/validate", files={"file": (demo.name, fh)})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["valid"] and report["problems"] == []
    assert report["detected"]["format"] == "csv" and report["detected"]["kind"] == "raw"
    assert report["total_rows"] == 173
    assert report["valid_rows"] + report["error_rows"] == 173
    assert report["valid_rows"] > 150  # the demo is mostly mappable GPUs
    assert len(report["errors"]) == report["error_rows"]
    assert sum(report["error_reasons"].values()) == report["error_rows"]
    assert no_trace(glyph_env)


def test_row_errors_are_reported_with_their_index(client: TestClient, glyph_env: Settings) -> None:
    with open(SAMPLE, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[2]["price"] = "call for price"
    rows[4]["title"] = ""
    response = client.post("/api/imports/validate", json={"listings": rows, "source": "check"})
    report = response.json()
    assert report["valid"] and report["total_rows"] == len(rows)
    flagged = {(e["import_index"], e["field"]) for e in report["errors"]}
    assert {(3, "price"), (5, "title")} <= flagged  # rows[2] and rows[4]: data rows 3 and 5
    limited = client.post(
        "/api/imports/validate", params={"max_listed": 1}, json={"listings": rows}
    ).json()
    assert len(limited["errors"]) == 1 and limited["error_rows"] == report["error_rows"]
    assert no_trace(glyph_env)


def test_refused_file_is_a_report_not_an_import(client: TestClient, glyph_env: Settings) -> None:
    response = client.post(
        "/api/imports/validate",
        content=json.dumps({"rows": "nope"}).encode(),
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 200
    report = response.json()
    assert report["valid"] is False and report["problems"]
    csv_report = client.post(
        "/api/imports/validate", files={"file": ("x.csv", b"colour\nred\n")}
    ).json()
    assert csv_report["valid"] is False
    assert any("title" in p for p in csv_report["problems"])
    assert any("price" in p for p in csv_report["problems"])
    assert no_trace(glyph_env)
