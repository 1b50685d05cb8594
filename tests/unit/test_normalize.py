"""Title matching: variants, vendors, accessories and the known failure modes of other tools."""

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


def model_of(title: str, **hints: str) -> str | None:
    return match_title(title, **hints).canonical_model


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # failure modes seen in other tools
        ("Sapphire Pulse Radeon RX 7600 XT 16GB", "RX_7600_XT"),
        ("Intel Data Center GPU Flex 140 12GB", "DATA_CENTER_GPU_FLEX_140"),
        ("Cisco Tesla A100 80GB accelerator", "A100_PCIE_80GB"),
        # memory-size siblings
        ("Zotac GeForce RTX 3060 Twin Edge 12GB", "RTX_3060_12GB"),
        ("Zotac GeForce RTX 3060 Twin Edge 8 GB", "RTX_3060_8GB"),
        ("NVIDIA A100 40GB PCIe", "A100_PCIE_40GB"),
        ("NVIDIA A100 80G PCIe passive", "A100_PCIE_80GB"),
        ("PNY RTX A2000 6GB low profile", "RTX_A2000_6GB"),
        ("RTX A2000 12G workstation card", "RTX_A2000_12GB"),
        ("MSI RTX 4060 Ti Ventus 16G", "RTX_4060_TI_16GB"),
        ("MSI RTX4060Ti 8G", "RTX_4060_TI_8GB"),
        ("Colorful RTX 5060 Ti 16GB", "RTX_5060_TI_16GB"),
        ("RTX5060TI-O8G", "RTX_5060_TI_8GB"),
        ("XFX Radeon RX 9060 XT 16GB", "RX_9060_XT_16GB"),
        ("RX9060XT 8G Swift", "RX_9060_XT_8GB"),
        ("DUAL GEFORCE RTX 30508GB", "RTX_3050_8GB"),
        ("Arc A770 Limited Edition 16 GB", "ARC_A770_16GB"),
        # interface siblings
        ("H100 80GB SXM5 module on PCIe adapter board", "H100_SXM5_80GB"),
        ("Tesla A100 SXM4 40GB converted to PCIe", "A100_SXM4_40GB"),
        ("A100 40GB PCIe card, not SXM", "A100_PCIE_40GB"),
        ("NVIDIA H100 NVL 94GB", "H100_NVL_94GB"),
        ("NVIDIA H100 80GB", "H100_PCIE_80GB"),
        ("H200 NVL 141GB", "H200_NVL_141GB"),
        ("H200 SXM 141GB HGX board", "H200_SXM_141GB"),
        ("Tesla V100 16GB SXM2", "V100_SXM2_16GB"),
        ("Tesla V100 PCIe 32GB", "V100_PCIE_32GB"),
        # chip variants
        ("Gigabyte RTX 4070 Ti SUPER Gaming OC", "RTX_4070_TI_SUPER"),
        ("RTX 4070 SUPER 12G", "RTX_4070_SUPER"),
        ("RTX 4080S Founders", "RTX_4080_SUPER"),
        ("RTX 4080 16GB SUPER (OEM)", "RTX_4080_SUPER"),
        ("GTX1660TI Mini", "GTX_1660_TI"),
        ("RX 7900 XTX Nitro+", "RX_7900_XTX"),
        ("RX 7900 XT 20GB", "RX_7900_XT"),
        ("PowerColor RX7900GRE Hellhound", "RX_7900_GRE"),
        ("RTX 4090 D 24GB blower", "RTX_4090D"),
        ("RTX4090D turbo", "RTX_4090D"),
        ("ASUS ROG RTX 4090 White OC", "RTX_4090"),
        ("RTX 2060 6GB", "RTX_2060"),
        ("RTX 2060 12GB", "RTX_2060_12GB"),
        ("RTX 2060", "RTX_2060"),
        # workstation families
        ("NVIDIA RTX A4000 16GB", "RTX_A4000"),
        ("NVIDIA RTX 4000 Ada Generation 20GB", "RTX_4000_ADA"),
        ("RTX 4000 SFF Ada 20GB", "RTX_4000_SFF_ADA"),
        ("RTX 4000 Ada 20GB low-profile", "RTX_4000_SFF_ADA"),
        ("Quadro RTX 4000 8GB", "QUADRO_RTX_4000"),
        ("RTX PRO 6000 Blackwell 96GB", "RTX_PRO_6000_BLACKWELL"),
        ("RTX PRO 6000 Blackwell Max-Q Workstation Edition", "RTX_PRO_6000_BLACKWELL_MAX_Q"),
        ("RTX PRO 6000 Blackwell Server Edition 96GB", "RTX_PRO_6000_BLACKWELL_SERVER"),
        ("RTXPRO 6000 96GB", "RTX_PRO_6000_BLACKWELL"),
        ("NVIDIA RTX 6000 Ada 48GB", "RTX_6000_ADA"),
        ("RTX 6000 48GB ECC", "RTX_6000_ADA"),
        ("Quadro RTX 6000 24GB", "QUADRO_RTX_6000"),
        ("RTX 6000 24GB Turing", "QUADRO_RTX_6000"),
        ("Quadro RTX T1000 8GB", "T1000_8GB"),
        ("Quadro RTX A6000 48GB", "RTX_A6000"),
        ("RTX 4500 24GB", "RTX_4500_ADA"),
        ("Radeon Pro W7900 48GB", "RADEON_PRO_W7900"),
        ("Radeon Pro WX 3200 4GB", "RADEON_PRO_WX_3200"),
        ("Instinct MI300X 192GB OAM", "INSTINCT_MI300X"),
        ("Intel Arc Pro A40 6GB", "ARC_PRO_A40"),
        ("NVIDIA A40 48GB", "A40"),
        ("NVIDIA L40S 48GB", "L40S"),
        ("NVIDIA L40 48GB", "L40"),
        ("NVIDIA L4 24GB Tensor Core", "L4"),
        ("NVIDIA TITAN RTX 24GB", "TITAN_RTX"),
        ("Radeon HD 7750 1GB", "RADEON_HD_7750"),
        ("RTX&trade; 2000 Ada Generation", "RTX_2000_ADA"),
    ],
)
def test_titles_map_to_the_right_id(title: str, expected: str) -> None:
    match = match_title(title)
    assert match.canonical_model == expected, match.detail
    assert match.is_gpu is True
    assert match.reject_reason is None
    assert match.vendor == load_registry().vendor_of(expected)
    assert match.match_type in {"exact", "alias", "pattern", "fuzzy"}
    assert 0 < match.match_score <= 1


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


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("Empty packaging for RTX 4080 FE", "not_gpu:box"),
        ("Originalkarton leer für RTX 3080", "not_gpu:box"),
        ("Shroud and fans for RTX 3090, no board", "not_gpu:cooler"),
        ("Gamer-PC mit RTX 3070 und 16GB RAM", "not_gpu:system"),
        ("Майнинг ферма 6 карт RTX 3060 Ti", "not_gpu:system"),
        ("kaufe RTX 3080", "not_gpu:wanted"),
        ("WTB: RTX 4090 Founders Edition", "not_gpu:wanted"),
        ("RTX 2080 Ti repair service, artifacts fixed", "not_gpu:service"),
        ("RTX 3060 12GB + Ryzen 5 5600X bundle", "not_gpu:bundle"),
        ("RX 6600 and RTX 3060, both working", "not_gpu:multi_item"),
        ("Netzteil 850W für RTX 4080", "not_gpu:accessory"),
    ],
)
def test_reject_reasons_name_the_rule(title: str, reason: str) -> None:
    match = match_title(title)
    assert (match.is_gpu, match.reject_reason) == (False, reason)
    assert reason in REJECT_REASONS


@pytest.mark.parametrize(
    ("title", "model"),
    [
        ("RTX 3080 10GB w/ EK waterblock", "RTX_3080_10GB"),
        ("RTX 4070 Super with support bracket", "RTX_4070_SUPER"),
        ("Gigabyte 3070 Vision OC 8G", "RTX_3070"),
        ("Grafikkarte 3060 12GB", "RTX_3060_12GB"),
        ("Zotac 1660S 6GB", "GTX_1660_SUPER"),
        ("Sapphire 7900 XT 20GB", "RX_7900_XT"),
        ("Nvdia Geforse RTX3O70TI", "RTX_3070_TI"),
        ("Radeоn RX6700XT 12GB", "RX_6700_XT"),  # Cyrillic о
        ("Asus GT 210 1GB", "210"),
    ],
)
def test_cards_with_extras_bare_numbers_and_misspellings_are_matched(
    title: str, model: str
) -> None:
    assert model_of(title) == model


@pytest.mark.parametrize(
    "title",
    [
        "NVIDIA Quadro FX 5800 4GB",
        "Видеокарта GeForce 8800 GT 512MB",
        "Samsung Galaxy A10 32GB",
        "GPU chip N13E-GE-A2 for laptop board",
        "Quadro 4000 2GB",
        "Radeon RX 550 X 4GB",
    ],
)
def test_old_names_and_part_numbers_do_not_become_modern_cards(title: str) -> None:
    assert model_of(title) is None


@pytest.mark.parametrize(
    "title",
    [
        "Видеокарта1060-1080ti",  # a dash between two models
        "GTX 1070 - GTX 1080 в наличии",
        "RTX 3080 10GB - RTX 3090",
        "Видеокарты от GTX1060 до GTX1080Ti",  # from ... to ...
        "from GTX 1060 to GTX 1080 Ti",
        "Grafikkarten von 1060 bis 1080",
        "Видеокарты GTX 460 GTX 560 GTX 660",  # three models, no separator
        "Видеокарты 8600GT 9500GT 9800GT",
    ],
)
def test_range_and_list_ads_are_several_cards(title: str) -> None:
    match = match_title(title)
    assert (match.is_gpu, match.reject_reason) == (False, "not_gpu:multi_item")


@pytest.mark.parametrize(
    ("title", "model"),
    [
        ("Sapphire RX 580 8GB - 2048SP", "RX_580_8GB"),  # a dash before a spec, not a model
        ("RTX 3060 Ti 8GB - GA104", "RTX_3060_TI"),
        ("Palit GeForce GTX 1050 Ti Storm X 4GB GDDR5 (NE5105T018G1-1070F)", "GTX_1050_TI"),
        ("RTX 3080 10GB vs RTX 3090 vs RTX 3070", "RTX_3080_10GB"),  # compared, not listed
    ],
)
def test_dashes_codes_and_comparisons_are_no_range(title: str, model: str) -> None:
    assert model_of(title) == model


def test_a_from_to_after_a_remark_word_is_no_range() -> None:
    match = match_title("Upgrade from GTX 1060 to RTX 3060 12GB")
    assert match.is_gpu and match.reject_reason != "not_gpu:multi_item"


@pytest.mark.parametrize(
    ("title", "model"),
    [
        ("PNY NVIDIA RTX PRO 4000 Blackwell SFF Edition 24GB GDDR7", "RTX_PRO_4000_SFF_BLACKWELL"),
        ("RTX PRO 4000 SFF 24GB", "RTX_PRO_4000_SFF_BLACKWELL"),
        ("NVIDIA RTX PRO 4000 Blackwell 24GB", "RTX_PRO_4000_BLACKWELL"),
        ("NVIDIA RTX PRO 2000 Blackwell 16GB GDDR7 low profile", "RTX_PRO_2000_BLACKWELL"),
        ("RTX 2000 Ada 16GB", "RTX_2000_ADA"),
        ("Intel Arc Pro B50 16GB GDDR6 Workstation", "ARC_PRO_B50"),
        ("ASRock Intel Arc Pro B60 Creator 24GB", "ARC_PRO_B60"),
        ("Intel Arc B580 Limited Edition 12GB", "ARC_B580"),
        ("HPE R6B53A NVIDIA A100 40GB PCIe", "A100_PCIE_40GB"),  # B53 inside a part number
    ],
)
def test_new_generation_ids(title: str, model: str) -> None:
    assert model_of(title) == model


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


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("Graphics Card Cooling Fan for ASUS RTX 3060 Dual", "not_gpu:cooler"),  # sold "for" it
        ("Видеокарта вентилятор для GTX 1060", "not_gpu:cooler"),
        ("Video card heatsink for GTX 1080 Ti", "not_gpu:cooler"),
        ("RTX 3060 12GB Gaming PC, 16GB RAM, 1TB SSD", "not_gpu:system"),  # a PC named anywhere
        ("8-GPU system with H100 80GB", "not_gpu:system"),
    ],
)
def test_parts_sold_for_a_card_and_pcs_named_after_one(title: str, reason: str) -> None:
    assert match_title(title).reject_reason == reason


@pytest.mark.parametrize(
    ("title", "model"),
    [
        ("Graphics card for gaming PC, MSI GTX 1060 6GB", "GTX_1060_6GB"),
        ("ASUS NVIDIA GEFORCE RTX 3060 12GB GAMING DESKTOP PC GRAPHICS CARD", "RTX_3060_12GB"),
        ("MSI RTX 4060 Ventus for mini PC builds", "RTX_4060"),
        ("Graphics card RTX 3060 12GB with cooling fan", "RTX_3060_12GB"),
    ],
)
def test_a_card_for_a_pc_or_with_its_fan_stays_a_card(title: str, model: str) -> None:
    assert model_of(title) == model
