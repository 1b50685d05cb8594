"""The database ping the health check reports (glyph_assets.store.health)."""

from __future__ import annotations

from pathlib import Path

from glyph_assets.settings import Settings
from glyph_assets.store.db import migrate
from glyph_assets.store.health import ping


def test_a_migrated_database_answers_with_its_revision(glyph_env: Settings) -> None:
    migrate(glyph_env.sqlalchemy_url)
    found = ping(glyph_env.sqlalchemy_url)
    assert found.ok and found.dialect == "sqlite" and found.error is None
    assert found.revision


def test_a_new_database_is_reachable_without_a_revision(tmp_path: Path) -> None:
    found = ping(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert found.ok and found.revision is None


def test_an_unreachable_database_says_why(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    found = ping(f"sqlite:///{blocked / 'under-a-file.db'}")
    assert not found.ok and found.revision is None
    assert found.error and ":" in found.error
