"""A large import persists every row; its peak follows the chunk size, plus under 1 KB a file row.

Each import runs in its own process (``bench.runner.run_task``), whose own peak is read from the
kernel (``VmHWM``, ``bench.memory.peak_mb``), so the figures do not depend on the process that
starts it. Measured here with 10,000-row chunks: a 10-row import peaks at about 260 MB, a
100,000-row one at 470-480 MB and a 200,000-row one at 490-510 MB. The second 100,000 rows cost
13-35 MB (up to some 370 bytes a row): the parts of an import that are whole-import by nature,
the listing diff's five narrow columns (``store.changes.record_diff``) and the price points'
input (``summaries.WrittenFigures``). Everything else follows the chunk. With the scored chunks
kept by the warehouse step (a regression tried on purpose) they cost 143 MB, and this fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from glyph_assets.tooling.bench.datagen import generate_csv
from glyph_assets.tooling.bench.runner import run_task

pytestmark = pytest.mark.integration

ROWS = 100_000
CHUNK_ROWS = 10_000
# What one more row of the file may add to the peak: the whole-import parts take well under
# this; any stage holding every row's frame (a concatenation, a list of chunks kept) takes more
# than a kilobyte a row and fails.
BYTES_PER_FILE_ROW = 1_000


def _ingest(path: Path, workdir: Path) -> dict:
    (workdir / "home").mkdir(parents=True)
    return run_task(
        "ingest",
        str(path),
        env={
            "GLYPH_DATA_DIR": str(workdir / "data"),
            "DAGSTER_HOME": str(workdir / "home"),
            "GLYPH_CHUNK_ROWS": str(CHUNK_ROWS),
        },
    )


def test_large_imports_are_complete_and_their_peak_grows_under_a_kilobyte_a_row(
    tmp_path: Path,
) -> None:
    imports = {}
    for rows in (ROWS, 2 * ROWS):
        path = generate_csv(tmp_path / f"listings_{rows}.csv", rows)
        imports[rows] = result = _ingest(path, tmp_path / str(rows))
        assert result["success"]
        assert result["persisted_rows"] + result["error_rows"] == rows
    growth = imports[2 * ROWS]["peak_mb"] - imports[ROWS]["peak_mb"]
    allowed = ROWS * BYTES_PER_FILE_ROW / 2**20
    print(
        f"peaks {imports[ROWS]['peak_mb']:.0f} MB ({ROWS:,} rows) and "
        f"{imports[2 * ROWS]['peak_mb']:.0f} MB ({2 * ROWS:,} rows): {growth:.0f} MB for "
        f"{ROWS:,} more rows, {allowed:.0f} MB allowed"
    )
    assert growth < allowed
