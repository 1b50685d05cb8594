"""The benchmark's offline tasks measure what they say: ``pipeline_rows`` (the run with every
title analysed beforehand, the half of the ratio that is not the title matcher) writes the same
files as ``pipeline`` and analyses no title inside its clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from glyph_assets.offline import errors_path_for
from glyph_assets.tooling.bench.datagen import generate_realistic_csv
from glyph_assets.tooling.bench.runner import run_task

pytestmark = pytest.mark.integration

ROWS = 20_000


def test_the_run_with_titles_analysed_beforehand_writes_the_same_files(tmp_path: Path) -> None:
    source = generate_realistic_csv(tmp_path / "upload.csv", ROWS)
    whole = run_task("pipeline", str(source), str(tmp_path / "whole.csv"))
    rest = run_task("pipeline_rows", str(source), str(tmp_path / "rest.csv"))
    assert whole["rows"] == rest["rows"] == ROWS
    assert rest["titles_analysed_in_run"] == 0
    assert whole["listings"] == rest["listings"] > 0
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "rest.csv").read_bytes()
    whole_errors = errors_path_for(tmp_path / "whole.csv").read_bytes()
    assert whole_errors == errors_path_for(tmp_path / "rest.csv").read_bytes()
