"""Concurrent bulk writers of one SQLite file wait their turn instead of failing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import create_engine

from glyph_assets.store.repository import sqlite_writer_turn


def test_writers_take_turns(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    spans: list[tuple[float, float]] = []

    def write() -> None:
        with sqlite_writer_turn(engine):
            start = time.monotonic()
            time.sleep(0.2)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=write) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans.sort()
    assert len(spans) == 3
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def test_other_databases_need_no_turn() -> None:
    engine = create_engine("sqlite://")
    with sqlite_writer_turn(engine):
        pass
