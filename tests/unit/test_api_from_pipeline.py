"""POST /api/imports/from-pipeline reads only files under the pipeline root, symlinks resolved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.store import repository
from glyph_assets.store.db import migrate
from glyph_assets.store.models import Import
from glyphd_api.errors import ApiError
from glyphd_api.pipeline_files import resolve_pipeline_path
from tests.support.app import api_client

SAMPLE = PROJECT_ROOT / "data" / "samples" / "gpu_listings_sample.csv"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "pipeline"
    (root / "day").mkdir(parents=True)
    (root / "day" / "ok.csv").write_bytes(SAMPLE.read_bytes())
    (tmp_path / "secret.csv").write_text("title,price\nsecret,1\n")
    (root / "day" / "escape.csv").symlink_to(tmp_path / "secret.csv")
    (root / "day" / "inside.csv").symlink_to(root / "day" / "ok.csv")
    (root / "outlink").symlink_to(tmp_path)
    return root


@pytest.fixture
def client(glyph_env: Settings, tree: Path) -> Iterator[TestClient]:
    with api_client(glyph_env, pipeline_root=tree) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ("../secret.csv", 422),
        ("day/../../secret.csv", 422),
        ("day/..", 422),
        ("day/escape.csv", 403),
        ("outlink/secret.csv", 403),
        ("/etc/passwd", 403),
        ("day/missing.csv", 404),
        ("day", 422),
    ],
)
def test_refusals(tree: Path, given: str, status: int) -> None:
    with pytest.raises(ApiError) as caught:
        resolve_pipeline_path(tree, given)
    assert caught.value.status == status


def test_paths_that_resolve_inside(tree: Path) -> None:
    ok = (tree / "day" / "ok.csv").resolve()
    assert resolve_pipeline_path(tree, "day/ok.csv") == ok
    assert resolve_pipeline_path(tree, str(tree / "day" / "ok.csv")) == ok
    assert resolve_pipeline_path(tree, "day/inside.csv") == ok  # a symlink within the root


def test_missing_root_refuses_everything(tmp_path: Path) -> None:
    with pytest.raises(ApiError) as caught:
        resolve_pipeline_path(tmp_path / "nowhere", "a.csv")
    assert caught.value.status == 403


def test_refused_requests_record_nothing(client: TestClient, glyph_env: Settings) -> None:
    for given, status in (("../secret.csv", 422), ("day/escape.csv", 403)):
        response = client.post("/api/imports/from-pipeline", json={"input_csv_path": given})
        assert response.status_code == status
        assert response.json()["error"]["code"].startswith("path_")
    with migrate(glyph_env.sqlalchemy_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(Import)).scalar_one() == 0
    assert not glyph_env.landing_dir.exists() or not any(glyph_env.landing_dir.iterdir())


def test_accepted_file_is_registered_with_its_labels(
    client: TestClient, glyph_env: Settings
) -> None:
    response = client.post(
        "/api/imports/from-pipeline",
        json={
            "input_csv_path": "day/ok.csv",
            "source_label": "crawler-eu",
            "campaign_id": "nov",
            "metadata": {"run": 3},
        },
    )
    assert response.status_code == 503  # registered; Dagster is not running in unit tests
    import_id = response.json()["error"]["details"]["import_id"]
    record = repository.get_import(migrate(glyph_env.sqlalchemy_url), import_id)
    assert (record["source"], record["campaign_id"], record["metadata_json"]) == (
        "crawler-eu",
        "nov",
        {"run": 3},
    )
    assert record["filename"] == "ok.csv"
    unknown = client.post("/api/imports/from-pipeline", json={"input_csv_path": "x", "y": 1})
    assert unknown.status_code == 422 and unknown.json()["error"]["problems"]
