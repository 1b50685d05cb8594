"""Migration 0015 (titles kept once) on a SQLite warehouse written before it."""

from __future__ import annotations

from pathlib import Path

from tests.support.warehouse import titles_migration_round_trip


def test_titles_move_to_their_table_and_back(glyph_env: object, tmp_path: Path) -> None:
    titles_migration_round_trip(f"sqlite:///{tmp_path / 'old.db'}")
