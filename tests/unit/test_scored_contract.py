"""The scored-row contract in the sieve: DTO rows without a title, the score scale, one JSON
grammar with depth limits and typed text fields."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glyph_assets.imports import file_chunks, register_import
from glyph_assets.settings import Settings
from glyph_assets.sieve.clean import PYTHON_WHITESPACE
from glyph_assets.sieve.inspect import inspect_file
from glyph_assets.sieve.pipeline import run_offline
from glyph_assets.sieve.read import (
    MAX_JSON_DEPTH,
    FileRejected,
    json_depth,
    json_document,
    parse_json,
    read_raw,
)
from glyph_assets.sieve.scored import (
    decide_score_scale,
    dto_problems,
    normalize_scores,
    stripped_cells,
)

DTO = {
    "canonical_model": "H100_PCIE_80GB",
    "vram_gb": 80,
    "mig_support": 7,
    "nvlink": True,
    "tdp_watts": 350,
    "price": 25000.0,
    "score": 0.92,
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_dto_csv_without_title_is_a_scored_upload(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "scored.csv",
        "canonical_model,vram_gb,mig_support,nvlink,tdp_watts,price,score\n"
        "h100_pcie_80gb,80,7,true,350,25000,0.92\nRTX_4090,24,0,false,450,1799,0.5\n",
    )
    assert inspect_file(path).kind == "scored"
    out = run_offline(path)
    assert out["error_stage"].isna().all(), out["error_reason"].tolist()
    assert out["canonical_model"].tolist() == ["H100_PCIE_80GB", "RTX_4090"]
    assert out["mig_instances"].tolist() == [7, 0]  # the established name, read as glyph's
    assert out["client_score"].tolist() == [0.92, 0.5]
    assert out["score"].tolist() == [92.0, 50.0]
    assert out["architecture"].tolist() == ["Hopper", "Ada Lovelace"]  # filled from the registry


def test_a_scored_upload_needs_its_model_score_and_price(tmp_path: Path) -> None:
    path = _write(tmp_path, "scored.csv", "canonical_model,score,vram_gb\nB200,0.9,180\n")
    with pytest.raises(FileRejected) as refused:
        inspect_file(path)
    assert "missing: price" in refused.value.problems[0]


def test_scored_row_problems_are_row_errors(tmp_path: Path) -> None:
    rows = [
        DTO,
        {**DTO, "canonical_model": "NOT_A_GPU_ID"},
        {**DTO, "score": "high"},
        {**DTO, "canonical_model": None},
        {**DTO, "mig_support": 9},
    ]
    out = run_offline(_write(tmp_path, "rows.json", json.dumps(rows)))
    reasons = out["error_reason"].where(out["error_reason"].notna(), None).tolist()
    assert reasons == [
        None,
        "canonical_model is not in the registry",
        "score is not a number",
        "canonical_model is missing",
        "mig_instances is outside [0, 7]",
    ]


def test_a_carried_spec_that_contradicts_the_registry_stays_with_a_warning(
    tmp_path: Path,
) -> None:
    out = run_offline(_write(tmp_path, "rows.json", json.dumps([{**DTO, "vram_gb": 40}])))
    assert out.loc[0, "vram_gb"] == 40
    assert "vram_gb 40 contradicts the registry" in out.loc[0, "warnings"]


@pytest.mark.parametrize(
    ("low", "high", "declared", "scale", "warns"),
    [
        (0.1, 0.92, None, "0-1", True),  # detected, and said so
        (12.0, 85.0, None, "0-100", False),
        (0.0, 1.0, "0-100", "0-100", True),  # declared wins, the data's doubt is said
        (10.0, 90.0, "0-1", "0-1", True),
        (0.2, 0.9, "0-1", "0-1", False),
        (None, None, None, "0-100", False),
    ],
)
def test_score_scale_is_declared_or_detected_never_silently_guessed(
    low: float | None, high: float | None, declared: str | None, scale: str, warns: bool
) -> None:
    decided = decide_score_scale(low, high, declared)
    assert decided.scale == scale and bool(decided.warning) is warns
    assert decided.declared is (declared is not None)


def test_scores_outside_the_scale_are_capped_for_glyph_not_for_the_client(
    tmp_path: Path,
) -> None:
    rows = [{**DTO, "score": 1.2}, {**DTO, "score": 0.4}]
    out = run_offline(_write(tmp_path, "rows.json", json.dumps(rows)), score_scale="0-1")
    assert out["client_score"].tolist() == [1.2, 0.4]
    assert out["score"].tolist() == [100.0, 40.0]
    assert "outside the 0-1 scale" in out.loc[0, "warnings"]


def test_capping_leaves_the_chunks_it_reads_as_they_were() -> None:
    """The score's chunks may be read more than once (kept in memory, or re-read): capping
    writes its note into the chunk it yields, never into the one it was given."""
    chunk = pd.DataFrame(
        {"client_score": [150.0, 50.0], "warnings": ["sent note", None], "score": [None, None]}
    )
    before = chunk.copy(deep=True)
    runs = [list(normalize_scores(lambda _columns: [chunk], "0-100")) for _ in range(2)]
    pd.testing.assert_frame_equal(chunk, before)
    for (out,) in runs:
        assert out["warnings"].tolist() == [
            "sent note; score 150 is outside the 0-100 scale; glyph's score is capped",
            None,
        ]


def test_dto_problems_name_each_item_and_field() -> None:
    assert dto_problems([DTO, {**DTO, "nvlink": "yes"}, {**DTO, "vram_gb": "80"}]) == []
    problems = dto_problems([{**DTO, "vram_gb": 80.5}, "x", {"canonical_model": ""}])
    assert problems[0] == "item 1: vram_gb must be an integer"
    assert problems[1] == "item 2: must be an object"
    assert "item 3: canonical_model must be non-empty text" in problems
    assert "item 3: score is required" in problems


@pytest.mark.parametrize(
    "text",
    ["[" * 20_000 + "]" * 20_000, "[" * 50_000, '{"a":' * 5_000 + "1" + "}" * 5_000],
)
def test_deep_json_is_refused_without_recursion(text: str) -> None:
    with pytest.raises(FileRejected) as refused:
        parse_json(text)
    assert "nested deeper" in refused.value.problems[0]


def test_json_depth_counts_containers() -> None:
    assert json_depth(1) == 0 and json_depth([]) == 1 and json_depth([{"a": [1]}]) == 3
    nested: object = 1
    for _ in range(MAX_JSON_DEPTH):
        nested = [nested]
    assert parse_json(json.dumps(nested)) == nested
    with pytest.raises(FileRejected):
        parse_json(json.dumps([nested]))


def test_one_grammar_for_every_json_document() -> None:
    assert json_document([{"a": 1}]).key is None
    assert json_document({"listings": [{}], "source": "x"}).envelope == {"source": "x"}
    assert json_document({"items": [{}], "count": 1}).key == "items"
    products = json_document({"products": [{"title": "L4", "variants": [{"price": "9"}]}]})
    assert products.key == "products" and products.records[0]["title"] == "L4"
    with pytest.raises(FileRejected):
        json_document({"source": "x"})


def test_json_text_fields_must_be_text(tmp_path: Path) -> None:
    rows = [
        {"title": 4090, "price": 1500, "seller": "shop"},
        {"title": "RTX 4090", "price": 1500, "seller": True},
        {"title": "RTX 4090", "price": 1500, "seller": "shop", "quantity": 2},
    ]
    frame = read_raw(_write(tmp_path, "rows.json", json.dumps(rows)))
    errors = frame["_error"].astype(object).where(frame["_error"].notna(), None).tolist()
    assert errors == [
        "field 'title' is a JSON number, expected text",
        "field 'seller' is a JSON boolean, expected text",
        None,  # a number is fine where a number belongs
    ]
    assert frame.loc[2, "quantity"] == "2"


def test_an_inbox_or_cli_file_of_dto_rows_registers_as_scored(
    tmp_path: Path, glyph_env: Settings
) -> None:
    path = _write(tmp_path, "scored.json", json.dumps([DTO, {**DTO, "score": 0.4}]))
    registered = register_import(
        file_chunks(path), filename=path.name, source="inbox", settings=glyph_env
    )
    assert registered.record["kind"] == "scored" and registered.inspection.rows == 2


def test_the_frame_keeps_one_row_per_record(tmp_path: Path) -> None:
    frame = read_raw(_write(tmp_path, "rows.json", json.dumps([DTO, "text", None])))
    assert len(frame) == 3
    assert pd.isna(frame.loc[0, "_error"])
    assert frame.loc[1, "_error"] == "row is a JSON text, expected an object"
    assert frame.loc[2, "_error"] == "row is a JSON null, expected an object"


def test_python_whitespace_is_what_str_strip_removes() -> None:
    assert set(PYTHON_WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.none()
        | st.text(alphabet=st.sampled_from([*PYTHON_WHITESPACE, "a", "é", "1", ".", "\u200b"])),
        max_size=20,
    )
)
def test_a_text_column_is_stripped_as_str_strip_does(cells: list[str | None]) -> None:
    """Arrow-backed cells are trimmed in one Arrow pass; the result is each cell's
    ``str.strip()``, empty or missing as None, as for an object column."""
    arrow = stripped_cells(pd.Series(cells, dtype="string[pyarrow]"))
    plain = stripped_cells(pd.Series(cells, dtype=object))
    expected = [(c.strip() or None) if c is not None else None for c in cells]
    assert arrow.tolist() == expected
    assert plain.tolist() == expected


@pytest.mark.parametrize(
    "cells",
    [
        ["24", "80", "24", "48"],  # integers only: an integer column
        ["24", None, "80", "24"],  # a missing one: float, as to_numeric gives
        ["0.5", "1e3", "abc", "", "inf", "-0.0", "0.5"],
        [None, None],
        [],
    ],
)
def test_numbers_parse_each_distinct_text_once_as_to_numeric_does(cells: list) -> None:
    from glyph_assets.sieve.scored import numbers

    text = pd.Series(cells, dtype=object, index=pd.RangeIndex(10, 10 + len(cells)))
    pd.testing.assert_series_equal(numbers(text), pd.to_numeric(text, errors="coerce"))
