"""``glyph eval``: the label file format and the three figures it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from glyph_assets.sieve.evaluate import evaluate, format_report, read_labels

LABELS = """source,title,expected
shop,NVIDIA GeForce RTX 4090 24GB,RTX_4090
shop,Sapphire Radeon RX 7800 XT 16GB,RX_7800_XT
shop,Asus GTX 1060 Dual 6GB,GTX_1060_6GB|GTX_1060_3GB
shop,Asus RTX 4090 24GB,RTX_4080
ads,PCIe riser cable for RTX 4090,NOT_GPU
ads,NVIDIA GeForce RTX 4090 24GB,NOT_GPU
ads,NVIDIA GeForce GTX 580 1.5GB,UNKNOWN
"""


@pytest.fixture()
def labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.csv"
    path.write_text(LABELS, encoding="utf-8")
    return path


def test_figures_per_source_and_in_total(labels: Path) -> None:
    report = evaluate(read_labels(labels))
    shop, ads = report.sources["shop"], report.sources["ads"]
    assert (shop.gpu, shop.exact) == (4, 3)  # the RTX_4080 label is (deliberately) wrong
    assert (ads.not_gpu, ads.rejected) == (2, 1)
    assert (ads.unknown, ads.unknown_ok) == (1, 1)
    assert report.total.exact_rate == pytest.approx(0.75)
    assert report.total.cross_vendor == 0
    assert report.confusions[("RTX_4080", "RTX_4090")] == 1
    text = format_report(report)
    assert "RTX_4080 -> RTX_4090" in text and "ALL" in text


def test_a_label_file_without_expected_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("title\nRTX 4090\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected"):
        read_labels(path)
