"""Staging retention's decisions: which imports have expired (glyph_assets.store.retention) and
which of their part directories go (glyph_assets.staging), on real files and a real SQLite."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from glyph_assets.settings import Settings
from glyph_assets.staging import prune_staging, staged_parts
from glyph_assets.store import repository
from glyph_assets.store.retention import persisted_before
from glyph_assets.store.status import ImportStatus
from tests.support.warehouse import warehouse_with_import

OLD, FAILED, RECENT, RUNNING = (f"00000000-0000-4000-8000-00000000001{i}" for i in range(4))
ASSETS = ["raw_listings", "normalized_listings", "enriched_listings", "scored_listings"]


def _stage(root: Path, import_id: str) -> None:
    for asset in ASSETS:
        (root / asset / import_id).mkdir(parents=True)
        (root / asset / import_id / "part-00000.parquet").write_bytes(b"x" * 100)


def test_only_persisted_imports_past_the_retention_expire(glyph_env: Settings) -> None:
    for import_id in (OLD, FAILED, RECENT, RUNNING):
        engine = warehouse_with_import(glyph_env.sqlalchemy_url, import_id)
    now = repository.utcnow()
    week_ago = now - timedelta(days=7)
    repository.set_import_status(engine, OLD, ImportStatus.SUCCEEDED, finished_at=week_ago)
    repository.set_import_status(engine, FAILED, ImportStatus.FAILED, finished_at=week_ago)
    repository.set_import_status(engine, RECENT, ImportStatus.PARTIALLY_SUCCEEDED)
    repository.set_import_status(engine, RUNNING, ImportStatus.RUNNING)

    assert persisted_before(engine, now - timedelta(days=3)) == [OLD]
    assert persisted_before(engine, now + timedelta(seconds=1)) == [OLD, RECENT]
    assert persisted_before(engine, now - timedelta(days=30)) == []


def test_prune_removes_only_expired_imports_whose_latest_run_succeeded(tmp_path: Path) -> None:
    staging, landing = tmp_path / "staging", tmp_path / "landing"
    for import_id in (OLD, FAILED, RECENT):
        _stage(staging, import_id)
    (landing / OLD).mkdir(parents=True)
    (landing / OLD / "original.csv").write_text("title,price\n")

    dry = prune_staging(staging, [OLD, FAILED], lambda i: i != FAILED, dry_run=True)
    assert (dry.pruned, dry.kept_for_retry, dry.directories) == ([OLD], [FAILED], 4)
    assert len(staged_parts(staging, OLD)) == 4

    done = prune_staging(staging, [OLD, FAILED], lambda i: i != FAILED)
    assert (done.pruned, done.directories, done.bytes) == ([OLD], 4, 400)
    assert staged_parts(staging, OLD) == []
    assert len(staged_parts(staging, FAILED)) == 4  # a retry from failure re-reads them
    assert len(staged_parts(staging, RECENT)) == 4  # not expired
    assert (landing / OLD / "original.csv").exists()
    assert prune_staging(staging, [OLD], lambda i: True).pruned == []  # nothing left to prune


def test_prune_refuses_anything_but_an_import_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an import id"):
        prune_staging(tmp_path, ["../landing"], lambda i: True)
