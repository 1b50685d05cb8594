"""The one way an import reaches its final status (glyph_assets.store.repository.finish_import)
and the one way its rows are counted."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import Engine

from glyph_assets.settings import Settings
from glyph_assets.store import repository
from glyph_assets.store.db import migrate
from glyph_assets.store.status import (
    ACTIVE_STATUSES,
    IMPORT_STATUSES,
    PERSISTED_STATUSES,
    TERMINAL_STATUSES,
    ImportStatus,
)

IMPORT_ID = "00000000-0000-4000-8000-000000000014"


@pytest.fixture
def engine(glyph_env: Settings) -> Iterator[Engine]:
    engine = migrate(glyph_env.sqlalchemy_url)
    repository.create_import(
        engine, import_id=IMPORT_ID, source="t", sha256="0" * 64, size_bytes=0, kind="raw"
    )
    yield engine


def _write(engine: Engine, errors: int) -> dict[str, int]:
    frame = pd.DataFrame(
        {
            "import_index": [1, 2, 3, 4],
            "title": ["RTX 4090", "RTX 3090", "a GPU box", "a mouse"],
            "is_gpu": [True, True, False, None],
            "reject_reason": [None, "unknown_model", "not_gpu:box", None],
            "error_stage": [None] * 4,
            "error_field": [None] * 4,
            "error_reason": [None] * 4,
        }
    )
    if errors:
        frame.loc[4 - errors :, ["error_stage", "error_reason"]] = ["normalize", "no price"]
    return repository.replace_import_rows(engine, IMPORT_ID, [frame])


def _status(engine: Engine) -> str:
    record = repository.get_import(engine, IMPORT_ID)
    assert record is not None
    return str(record["status"])


def test_the_sets_partition_the_six_statuses() -> None:
    assert [str(s) for s in IMPORT_STATUSES] == [
        "queued",
        "running",
        "succeeded",
        "partially_succeeded",
        "failed",
        "canceled",
    ]
    assert set(IMPORT_STATUSES) == ACTIVE_STATUSES | TERMINAL_STATUSES
    assert not ACTIVE_STATUSES & TERMINAL_STATUSES
    assert PERSISTED_STATUSES < TERMINAL_STATUSES
    assert "failed" in TERMINAL_STATUSES and ImportStatus.FAILED == "failed"


@pytest.mark.parametrize(("errors", "expected"), [(0, "succeeded"), (1, "partially_succeeded")])
def test_success_is_partial_when_rows_were_rejected(
    engine: Engine, errors: int, expected: str
) -> None:
    counts = _write(engine, errors)
    assert repository.finish_import(engine, IMPORT_ID, ImportStatus.SUCCEEDED) == expected
    record = repository.get_import(engine, IMPORT_ID)
    assert record is not None and record["status"] == expected
    assert record["total_rows"] == 4
    assert {k: record[k] for k in repository.COUNT_KEYS} == counts


def test_counts_from_the_database_equal_the_writers_counts(engine: Engine) -> None:
    written = _write(engine, errors=1)
    assert written == {
        "persisted_rows": 3,
        "error_rows": 1,
        "not_gpu_rows": 1,
        "unknown_model_rows": 1,
    }
    assert repository.import_counts(engine, IMPORT_ID) == written
    stats = repository.import_row_stats(engine, IMPORT_ID)
    assert {k: stats[k] for k in repository.COUNT_KEYS} == written
    assert repository.count_rows(engine, IMPORT_ID) == {"persisted_rows": 3, "error_rows": 1}


def test_failure_keeps_a_bounded_message(engine: Engine) -> None:
    repository.finish_import(engine, IMPORT_ID, ImportStatus.FAILED, error_message="x" * 9000)
    record = repository.get_import(engine, IMPORT_ID)
    assert record is not None and record["status"] == "failed"
    assert record["error_message"] == "x" * repository.MAX_ERROR_CHARS
    assert record["finished_at"] is not None
    repository.finish_import(engine, IMPORT_ID, ImportStatus.FAILED)
    assert (repository.get_import(engine, IMPORT_ID) or {}).get("error_message") == "run failed"


def test_canceled_keeps_no_rows_even_when_already_canceled(engine: Engine) -> None:
    _write(engine, errors=1)
    repository.finish_import(engine, IMPORT_ID, ImportStatus.CANCELED)
    assert _status(engine) == "canceled"
    assert repository.count_rows(engine, IMPORT_ID) == {"persisted_rows": 0, "error_rows": 0}
    _write(engine, errors=0)  # a late write of the canceled run
    repository.finish_import(engine, IMPORT_ID, ImportStatus.CANCELED)
    assert _status(engine) == "canceled"
    assert repository.count_rows(engine, IMPORT_ID) == {"persisted_rows": 0, "error_rows": 0}


def test_an_active_status_is_no_ending(engine: Engine) -> None:
    with pytest.raises(ValueError):
        repository.finish_import(engine, IMPORT_ID, ImportStatus.RUNNING)
