"""Title matching: variants, vendors, accessories and the known failure modes of other tools.
The long tables of titles are under tests/fixtures/titles/normalize/."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glyph_assets.sieve.columns import CLEAN_COLUMNS, ERROR_COLUMNS, MATCH_COLUMNS
from glyph_assets.sieve.normalize import (
    MATCH_TYPES,
    NOT_GPU,
    REJECT_REASONS,
    UNKNOWN_MODEL,
    match_title,
    normalize,
)
from glyph_assets.sieve.registry import load_registry
from tests.support.cases import cases

TABLES = "titles/normalize"


def model_of(title: str, **hints: str) -> str | None:
    return match_title(title, **hints).canonical_model


@pytest.mark.parametrize(("title", "expected"), cases(f"{TABLES}/ids.csv", "title", "model"))
def test_titles_map_to_the_right_id(title: str, expected: str) -> None:
    match = match_title(title)
    assert match.canonical_model == expected, match.detail
    assert match.is_gpu is True
    assert match.reject_reason is None
    assert match.vendor == load_registry().vendor_of(expected)
    assert match.match_type in {"exact", "alias", "pattern", "fuzzy"}
    assert 0 < match.match_score <= 1


@pytest.mark.parametrize(
    ("title", "model"), cases(f"{TABLES}/cards.csv", "title", "model", blank_is_none={"model"})
)
def test_cards_with_extras_misspellings_and_new_ids_are_matched_and_old_names_are_not(
    title: str, model: str | None
) -> None:
    assert model_of(title) == model


@pytest.mark.parametrize(("title", "reason"), cases(f"{TABLES}/rejected.csv", "title", "reason"))
def test_reject_reasons_name_the_rule(title: str, reason: str) -> None:
    match = match_title(title)
    assert (match.is_gpu, match.reject_reason) == (False, reason)
    assert reason in REJECT_REASONS


@pytest.mark.parametrize(
    "title",
    [
        "NVIDIA NVLink Bridge 2-slot for RTX A6000",
        "NVLink bridge",
        "PNY NVLINK 3-SLOT BRG",
        "SLI HB bridge 2-way",
        "PCIe 4.0 x16 riser cable 200mm for RTX 4090",
        "12VHPWR power cable for RTX 4090",
        "EK water block for RTX 3090",
        "GPU support bracket anti-sag holder",
        "Arctic Accelero cooler for GeForce GTX 1080",
        "Dell PowerEdge R750 server with 2x NVIDIA A100 80GB",
        "Server with RTX A6000",
        "8-GPU system with H100 80GB",
        "Gaming PC i7 RTX 4070 32GB RAM",
        "ASUS ROG Strix laptop RTX 4060",
        "NVIDIA AI Enterprise software license 1 year",
        "HDMI to USB video capture card 4K",
        "USB 3.0 to HDMI display adapter",
        "Quadro Sync II board",
        "Elgato capture box",
        "",
        "   ",
    ],
)
def test_accessories_systems_and_software_are_not_gpus(title: str) -> None:
    match = match_title(title)
    assert match.is_gpu is False
    assert match.reject_reason in REJECT_REASONS and match.reject_reason.startswith(NOT_GPU)
    assert match.canonical_model is None
    assert match.match_type == "none"


@pytest.mark.parametrize(
    ("title", "vendor"),
    [
        ("RTX 3080 20GB modded", "NVIDIA"),  # 3080 ids are split by memory: 20GB is none of them
        ("Tesla A100 64GB SXM4", "NVIDIA"),
        ("NVIDIA RTX A2000 low profile", "NVIDIA"),  # 6GB or 12GB work-station card: no guess
        ("Radeon RX 480 8GB", "AMD"),
        ("NVIDIA RTX A4000E 16GB", "NVIDIA"),
        ("Quadro T1000 4 GB/8 GB", "NVIDIA"),
        ("Matrox graphics card 4x DisplayPort", None),
        ("ASUS TUF GAMING GEFORCE RTX", "NVIDIA"),
    ],
)
def test_gpus_outside_the_registry_are_unknown_models(title: str, vendor: str | None) -> None:
    match = match_title(title)
    assert match.canonical_model is None
    assert match.is_gpu is True
    assert match.reject_reason == UNKNOWN_MODEL
    assert match.vendor == vendor


@pytest.mark.parametrize(
    ("title", "model", "others"),
    [
        ("GeForce RTX 3060 Eagle OC", "RTX_3060_12GB", "RTX_3060_8GB"),  # launched first
        ("RTX 3080 Founders Edition", "RTX_3080_10GB", "RTX_3080_12GB"),
        ("Palit GeForce GTX 1060 StormX", "GTX_1060_6GB", "GTX_1060_3GB"),  # same year: larger
    ],
)
def test_an_unsettled_consumer_variant_is_inferred_with_a_lower_score(
    title: str, model: str, others: str
) -> None:
    match = match_title(title)
    assert (match.canonical_model, match.match_type) == (model, "inferred")
    assert match.match_score < 0.75 and match.alternatives == f"{model}|{others}"


def test_first_mention_decides_and_comparisons_do_not_leak() -> None:
    assert model_of("RX 6750 GRE 12G, performs like an RTX 4060 Ti") == "RX_6750_GRE_12GB"
    assert model_of("Radeon Pro W5700 8GB (same chip as RX 5700 XT)") == "RADEON_PRO_W5700"
    assert model_of("RTX 3060 12GB for Intel Core i5 builds") == "RTX_3060_12GB"


def test_hints_decide_the_memory_size_only_when_the_title_leaves_it_open() -> None:
    title = "GeForce RTX 3060 Windforce OC"
    assert match_title(title).match_type == "inferred"  # no hint: the launch variant, inferred
    assert model_of(title, notes="SKU GV-N3060WF2OC-12GD") == "RTX_3060_12GB"
    assert model_of(title, model_hint="RTX 3060 8GB") == "RTX_3060_8GB"
    match = match_title(title, notes="12GB")
    assert match.match_type == "pattern" and match.match_score < 0.9
    # The title wins over the hints when it states a size.
    assert model_of("RTX 3060 12GB", model_hint="RTX 3060 8GB") == "RTX_3060_12GB"
    # Hints never create a match the title does not name.
    assert model_of("Graphics card", model_hint="RTX 4090") is None


def test_match_types() -> None:
    assert match_title("NVIDIA H100 PCIe 80GB").match_type == "exact"
    assert match_title("RTX A6000").match_type == "exact"
    assert match_title("MSI GeForce RTX 4090 Suprim X").match_type == "alias"
    assert match_title("Gigabyte RTX 3060 Gaming 12GB").match_type == "pattern"
    assert match_title("Nvidia Tesla 100 40GB PCIe").match_type == "fuzzy"
    assert match_title("Intel Arc A750 8GB").vendor == "Intel"


def test_never_maps_across_vendors() -> None:
    registry = load_registry()
    titles = [
        "AMD Radeon Pro A40",  # Intel Arc Pro A40 and NVIDIA A40 exist, AMD has none
        "Intel Arc Pro A40 6GB",
        "NVIDIA A40",
        "RX 7600 XT",
        "RTX 7600",
    ]
    for title in titles:
        match = match_title(title)
        if match.canonical_model is not None:
            assert match.vendor == registry.vendor_of(match.canonical_model)
    assert model_of("AMD Radeon Pro A40") is None
    assert model_of("RTX 7600") is None


def _clean_frame(titles: list[str | None]) -> pd.DataFrame:
    frame = pd.DataFrame({c: [None] * len(titles) for c in CLEAN_COLUMNS + ERROR_COLUMNS})
    frame["import_index"] = range(len(titles))
    frame["title"] = titles
    return frame


def test_normalize_adds_match_columns_and_passes_row_errors_through() -> None:
    frame = _clean_frame(["RTX 4090 24GB", "NVLink bridge", "RTX 4090 24GB", "Radeon RX 480", None])
    frame.loc[4, ["error_stage", "error_field", "error_reason"]] = ["clean", "title", "empty"]
    out = normalize(frame)
    assert list(out.columns) == CLEAN_COLUMNS + ERROR_COLUMNS + MATCH_COLUMNS
    assert out["canonical_model"].tolist() == ["RTX_4090", None, "RTX_4090", None, None]
    assert out["is_gpu"].tolist() == [True, False, True, True, None]
    assert out["reject_reason"].tolist() == [None, "not_gpu:accessory", None, UNKNOWN_MODEL, None]
    assert out["match_type"].iloc[4] is None and np.isnan(out["match_score"].iloc[4])
    assert set(out["match_type"].dropna()) <= set(MATCH_TYPES)
    pd.testing.assert_frame_equal(out[frame.columns], frame)
    assert "canonical_model" not in frame  # the input is left alone


def test_normalize_uses_hints_per_row() -> None:
    frame = _clean_frame(["RTX 3060 Eagle", "RTX 3060 Eagle", "RTX 3060 Eagle"])
    frame["bulk_notes"] = ["12GB GDDR6", "8GB GDDR6", None]
    out = normalize(frame)
    assert out["canonical_model"].tolist() == ["RTX_3060_12GB", "RTX_3060_8GB", "RTX_3060_12GB"]
    assert out["match_type"].tolist() == ["pattern", "pattern", "inferred"]


def test_normalize_handles_empty_and_string_dtype_frames() -> None:
    assert normalize(_clean_frame([])).empty
    frame = _clean_frame(["RTX 4090", None])
    frame["title"] = frame["title"].astype("string")
    out = normalize(frame)
    assert out["canonical_model"].tolist() == ["RTX_4090", None]


def test_work_is_proportional_to_distinct_titles() -> None:
    distinct = [f"RTX 4070 Ti SUPER OC lot {i}" for i in range(2_000)]
    frame = _clean_frame(list(np.array(distinct, dtype=object)[np.arange(200_000) % 2_000]))
    started = time.perf_counter()
    out = normalize(frame)
    assert time.perf_counter() - started < 10
    assert (out["canonical_model"] == "RTX_4070_TI_SUPER").all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=40)))
def test_match_never_raises(title: str, hint: str | None) -> None:
    match = match_title(title, model_hint=hint, brand_hint=hint, notes=hint)
    assert match.match_type in MATCH_TYPES
    assert 0.0 <= match.match_score <= 1.0
    assert (match.canonical_model is None) == (match.match_type == "none")
    if match.canonical_model is not None:
        assert match.vendor == load_registry().vendor_of(match.canonical_model)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=80),
            st.sampled_from(["RTX 4090", "H100 SXM5 80GB", "RX 7600 XT", "bridge", "A100"]),
        ),
        max_size=20,
    )
)
def test_normalize_never_raises(titles: list[str | None]) -> None:
    out = normalize(_clean_frame(titles))
    assert len(out) == len(titles)
    assert out["is_gpu"].isin([True, False]).all()


def test_a_from_to_after_a_remark_word_is_no_range() -> None:
    match = match_title("Upgrade from GTX 1060 to RTX 3060 12GB")
    assert match.is_gpu and match.reject_reason != "not_gpu:multi_item"


def test_normalize_keeps_the_ids_a_title_leaves_open_in_match_alternatives() -> None:
    frame = _clean_frame(["RTX 3080 Founders Edition", "RTX 3080 10GB", "NVIDIA A2000"])
    frame.loc[2, "bulk_notes"] = "6GB"  # the notes settle what the title leaves open
    out = normalize(frame)
    assert out["match_type"].tolist()[:2] == ["inferred", "exact"]
    assert out["match_alternatives"].tolist()[:2] == ["RTX_3080_10GB|RTX_3080_12GB", None]
    assert out["canonical_model"].iloc[2] == "RTX_A2000_6GB"
    assert out["match_alternatives"].iloc[2] is None
    assert match_title("NVIDIA A2000").alternatives == "RTX_A2000_12GB|RTX_A2000_6GB"


@pytest.mark.parametrize(
    ("title", "model"),
    [
        ("Open Box - Gigabyte GeForce RTX 3060 Gaming OC 12GB", "RTX_3060_12GB"),
        ("RTX 4070 SUPER open-box, full warranty", "RTX_4070_SUPER"),
        ("OPEN BOX NVIDIA RTX 4090 Founders Edition", "RTX_4090"),
        ("Box only RTX 4080 Founders Edition", None),  # the retail box itself
    ],
)
def test_open_box_is_a_condition_not_the_retail_box(title: str, model: str | None) -> None:
    match = match_title(title)
    assert match.canonical_model == model
    assert match.reject_reason == (None if model else "not_gpu:box")


def test_a_match_row_is_its_fields_however_the_match_was_made() -> None:
    """``Match.row`` is made once, when the match is: it must still be the fields after a
    trip through pickle (helpers send matches back) and after ``dataclasses.replace``."""
    import dataclasses
    import pickle

    fields = ["canonical_model", "match_type", "match_score", "vendor", "is_gpu"]
    fields += ["reject_reason", "alternatives"]
    made = [match_title(t) for t in ("RTX 4090 24GB", "GPU bracket", "RTX 3080", "")]
    made += [pickle.loads(pickle.dumps(m)) for m in made]
    made += [dataclasses.replace(m, canonical_model="X", is_gpu=not m.is_gpu) for m in made]
    assert len(MATCH_COLUMNS) == len(fields)
    for match in made:
        assert match.row() == tuple(getattr(match, name) for name in fields)
