"""Shared fixtures: every test gets its own data dir and settings; the corpus is read in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from glyph_assets.settings import Settings, reset_settings_cache
from glyph_assets.store.db import dispose_engines

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def glyph_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Isolated GLYPH_DATA_DIR / DAGSTER_HOME for one test."""
    monkeypatch.setenv("GLYPH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("GLYPH_DATABASE_URL", raising=False)
    (tmp_path / "dagster_home").mkdir()
    reset_settings_cache()
    dispose_engines()
    from glyph_assets.settings import get_settings

    yield get_settings()
    dispose_engines()
    reset_settings_cache()
