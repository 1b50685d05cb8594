"""The GPU registry: the shipped file is valid, a broken one fails loudly, ids parse by rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from glyph_assets.settings import reset_settings_cache
from glyph_assets.sieve.registry import (
    RegistryError,
    build_registry,
    clear_registry_cache,
    load_registry,
    parse_model_id,
)

ROOT = Path(__file__).resolve().parents[2]
CANONICAL = ROOT.parent / "shared" / "reference" / "canonical_models.csv"

HEADER = (
    "canonical_model,vendor,display_name,segment,architecture,vram_gb,memory_type,tdp_watts,"
    "mig_instances,nvlink,form_factor,launch_year,aliases"
)
GOOD_ROWS = [
    "RTX_4090,NVIDIA,NVIDIA GeForce RTX 4090,consumer,Ada Lovelace,24,GDDR6X,450,0,false,PCIe,2022,"
    "RTX 4090|GeForce RTX 4090",
    "A100_PCIE_80GB,NVIDIA,NVIDIA A100 PCIe 80GB,datacenter,Ampere,80,HBM2e,300,7,true,PCIe,2021,"
    "A100 PCIe 80GB|A100 80GB PCIe",
    "GT_730,NVIDIA,NVIDIA GeForce GT 730,consumer,,,,,,,,,GT 730|GeForce GT 730",
]


def _write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "gpu_models.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_shipped_registry_loads_and_is_cached() -> None:
    registry = load_registry()
    assert len(registry.specs) > 180
    assert registry.specs.index.is_unique
    assert load_registry() is registry
    assert registry.specs.at["H100_SXM5_80GB", "form_factor"] == "SXM"
    assert registry.specs.at["RTX_4090", "vram_gb"] == 24


@pytest.mark.skipif(not CANONICAL.is_file(), reason="shared canonical list not available")
def test_shipped_registry_keeps_every_canonical_id() -> None:
    canonical = pd.read_csv(CANONICAL, dtype=str, keep_default_na=False)
    missing = set(canonical["canonical_model"]) - set(load_registry().specs.index)
    assert not missing


def test_small_registry_is_typed(tmp_path: Path) -> None:
    registry = load_registry(_write(tmp_path, GOOD_ROWS))
    specs = registry.specs
    assert list(specs.index) == ["RTX_4090", "A100_PCIE_80GB", "GT_730"]
    assert specs.at["A100_PCIE_80GB", "mig_instances"] == 7
    assert specs.at["A100_PCIE_80GB", "nvlink"] is True
    assert specs.at["RTX_4090", "nvlink"] is False
    # Empty cells mean unknown, never zero or false.
    assert pd.isna(specs.at["GT_730", "vram_gb"])
    assert specs.at["GT_730", "nvlink"] is None
    assert pd.isna(specs.at["GT_730", "pcie_gen"])  # optional column absent from this file
    assert registry.aliases["RTX_4090"] == ["RTX 4090", "GeForce RTX 4090"]


def test_broken_registry_lists_every_problem(tmp_path: Path) -> None:
    rows = GOOD_ROWS + [
        "rtx-5090,NVIDIA,bad id,consumer,,32,,575,0,false,PCIe,2025,RTX 5090",
        "RTX_4090,NVIDIA,duplicate,consumer,,24,,450,0,false,PCIe,2022,4090 dup",
        "X1,ATI,vendor,gaming,,0,,2500,8,maybe,MXM,2025,rtx 4090",
        "X2,AMD,numbers,consumer,,lots,,100,0,false,PCIe,1890,X2",
    ]
    with pytest.raises(RegistryError) as caught:
        load_registry(_write(tmp_path, rows))
    text = str(caught.value)
    problems = caught.value.problems
    for expected in (
        "does not match ^[A-Z0-9_]+$",
        "duplicate id",
        "vendor 'ATI'",
        "segment 'gaming'",
        "form_factor 'MXM'",
        "nvlink 'maybe'",
        "vram_gb 0 outside (0, 1024]",
        "tdp_watts 2500 outside (0, 2000]",
        "mig_instances 8 outside [0, 7]",
        "alias 'rtx 4090' also belongs to RTX_4090",
        "vram_gb 'lots' is not a number",
        "launch_year 1890 outside",
    ):
        assert expected in text, expected
    assert len(problems) >= 12


def test_missing_columns_and_missing_file_are_registry_errors(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="missing column"):
        load_registry(_write(tmp_path, ["RTX_4090,NVIDIA"], header="canonical_model,vendor"))
    with pytest.raises(RegistryError, match="file not found"):
        load_registry(tmp_path / "nope.csv")


def test_default_path_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, GOOD_ROWS)
    monkeypatch.setenv("GLYPH_REGISTRY_PATH", str(path))
    reset_settings_cache()
    try:
        assert list(load_registry().specs.index)[0] == "RTX_4090"
    finally:
        monkeypatch.delenv("GLYPH_REGISTRY_PATH")
        reset_settings_cache()
        clear_registry_cache()


def test_build_registry_from_a_frame() -> None:
    frame = pd.DataFrame([r.split(",") for r in GOOD_ROWS], columns=HEADER.split(","))
    assert build_registry(frame).keys["GT_730"].family == "GT"


def _describe(model: str) -> str:
    key = parse_model_id(model, "NVIDIA", None, None)
    parts = [f"{key.family or '-'} {key.number or '-'}"]
    for name, values in (("prefix", key.prefix), ("variant", key.suffixes), ("mark", key.markers)):
        if values:
            parts.append(f"{name}={','.join(sorted(values))}")
    if key.interface:
        parts.append(f"if={key.interface}")
    if key.id_vram_gb:
        parts.append(f"vram={key.id_vram_gb}")
    return " ".join(parts)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("RTX_4060_TI_16GB", "RTX 4060 variant=TI vram=16"),
        ("H100_SXM5_80GB", "- H100 if=SXM5 vram=80"),
        ("RTX_PRO_6000_BLACKWELL_MAX_Q", "RTX 6000 prefix=PRO mark=BLACKWELL,MAX_Q"),
        ("QUADRO_RTX_6000", "RTX 6000 prefix=QUADRO"),
        ("RTX_4000_SFF_ADA", "RTX 4000 mark=ADA,SFF"),
        ("RTX_4090D", "RTX 4090 variant=D"),
        ("RTX_A2000_6GB", "- A2000 prefix=RTX vram=6"),
        ("RADEON_PRO_WX_3200", "WX 3200 prefix=PRO,RADEON"),
        ("DATA_CENTER_GPU_FLEX_140", "FLEX 140 prefix=CENTER,DATA,GPU"),
        ("INSTINCT_MI300X", "- MI300X prefix=INSTINCT"),
        ("RX_7900_XTX", "RX 7900 variant=XTX"),
        ("210", "- 210"),
        ("TITAN_RTX", "- - prefix=RTX,TITAN"),
    ],
)
def test_ids_parse_by_the_naming_rules(model: str, expected: str) -> None:
    assert _describe(model) == expected
