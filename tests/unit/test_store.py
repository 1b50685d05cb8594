"""The store's seams: finish_import() and the row counts, the checks' reads, the CSV export's
batches and the health ping (glyph_assets.store)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from glyph_assets.settings import Settings
from glyph_assets.store import audit, pages, repository
from glyph_assets.store.health import ping
from glyph_assets.store.status import (
    ACTIVE_STATUSES,
    IMPORT_STATUSES,
    PERSISTED_STATUSES,
    TERMINAL_STATUSES,
    ImportStatus,
)
from glyphd_api import export
from tests.support.warehouse import warehouse_with_import

IMPORT_ID = "00000000-0000-4000-8000-000000000014"


@pytest.fixture
def engine(glyph_env: Settings) -> Iterator[Engine]:
    yield warehouse_with_import(glyph_env.sqlalchemy_url, IMPORT_ID)


def _rows(**columns: list[object]) -> pd.DataFrame:
    """Rows as the pipeline writes them: the given columns, no row errors unless given."""
    n = len(next(iter(columns.values())))
    empty = {"error_stage": [None] * n, "error_field": [None] * n, "error_reason": [None] * n}
    return pd.DataFrame({"is_gpu": [True] * n, "reject_reason": [None] * n, **empty, **columns})


def _write(engine: Engine, errors: int) -> dict[str, int]:
    frame = _rows(
        import_index=[1, 2, 3, 4],
        title=["RTX 4090", "RTX 3090", "a GPU box", "a mouse"],
        is_gpu=[True, True, False, None],
        reject_reason=[None, "unknown_model", "not_gpu:box", None],
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


def test_the_checks_read_indexes_samples_and_score_figures(engine: Engine) -> None:
    frame = _rows(
        import_index=[1, 2, 3, 4, 5, 6],
        title=["a", "b", "c", "d", "e", "f"],
        reject_reason=[None, "unknown_model", None, None, "unknown_model", None],
        score=[10.0, 120.0, 50.0, -1.0, 99.0, None],
        error_stage=[None, None, None, None, None, "normalize"],
        error_reason=[None, None, None, None, None, "no price"],
    )
    repository.replace_import_rows(engine, IMPORT_ID, [frame])
    listings, errors = audit.stored_indexes(engine, IMPORT_ID)
    assert sorted(listings.tolist()) == [1, 2, 3, 4, 5] and errors.tolist() == [6]
    sample = pd.concat(audit.persisted_sample(engine, IMPORT_ID, ["import_index", "title"], 2))
    assert sample["import_index"].tolist() == [2, 4]
    found = audit.persisted_figures(engine, IMPORT_ID)
    assert found.scores_outside == 2 and found.unknown_model_rows == 2
    assert [e["import_index"] for e in found.examples] == [2, 4]


def test_every_batch_size_exports_the_same_rows_in_import_order(engine: Engine) -> None:
    titles = ["RTX 4090", "=HYPERLINK(1)", "RTX 3090", "@SUM(A1)", "a", "b", "c"]
    frame = _rows(import_index=[7, 1, 5, 2, 6, 3, 4], title=titles)
    repository.replace_import_rows(engine, IMPORT_ID, [frame])
    whole = b"".join(export.csv_rows(engine, IMPORT_ID))
    for batch in (1, 3, 7):
        assert b"".join(export.csv_rows(engine, IMPORT_ID, batch=batch)) == whole
    rows = list(csv.reader(io.StringIO(whole.decode("utf-8"))))
    assert rows[0] == list(pages.LISTING_KEYS) == export.EXPORT_COLUMNS
    position = rows[0].index("import_index")
    assert [int(r[position]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6, 7]
    exported = {r[rows[0].index("title")] for r in rows[1:]}
    assert "'=HYPERLINK(1)" in exported and "'@SUM(A1)" in exported


def test_an_import_without_rows_exports_its_header_only(engine: Engine) -> None:
    body = b"".join(export.csv_rows(engine, "no-such-import"))
    assert body.decode("utf-8") == ",".join(pages.LISTING_KEYS) + "\r\n"


def test_a_migrated_database_answers_with_its_revision(engine: Engine, glyph_env: Settings) -> None:
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
