"""Generated raw listing files whose titles vary like real ones (for benchmarks and load tests).

Titles are built from the registry's display names and aliases, board-partner brands, product
lines, memory sizes and noise words, plus accessories and systems; prices follow each model's
rough market level. The result has tens of thousands of distinct titles per million rows.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from glyph_assets.settings import get_settings

BRANDS = {
    "NVIDIA": ["ASUS", "MSI", "GIGABYTE", "ZOTAC", "PNY", "EVGA", "Palit", "INNO3D", "NVIDIA", ""],
    "AMD": ["SAPPHIRE", "XFX", "PowerColor", "ASRock", "ASUS", "GIGABYTE", "AMD", ""],
    "Intel": ["Intel", "ASRock", "Sparkle", "Acer", ""],
}
LINES = [
    "GAMING OC",
    "VENTUS 3X",
    "TUF Gaming",
    "Twin Edge",
    "EAGLE",
    "WINDFORCE",
    "SUPRIM X",
    "Founders Edition",
    "Dual Fan",
    "Pulse",
    "Hellhound",
    "Challenger",
    "Turbo Blower",
    "Passive",
    "OEM",
    "",
    "",
    "",
]
NOISE = [
    "Graphics Card",
    "GPU",
    "PCIe",
    "Video Card",
    "AI Deep Learning",
    "Workstation",
    "- Bulk",
    "Retail Box",
    "Tested",
    "Fast Ship",
    "",
    "",
]
ACCESSORIES = [
    "NVLink Bridge 2-Slot",
    "NVLink Bridge 3-Slot for RTX A6000",
    "PCIe 4.0 x16 Riser Cable 200mm",
    "GPU Support Bracket",
    "12VHPWR Power Cable",
    "Replacement Cooling Fan for GPU",
    "4U GPU Server 8x A100 SXM4",
    "Workstation Tower with RTX A4000",
    "DisplayPort to HDMI Adapter",
]
CONDITIONS = ["New", "Used", "Refurbished", "Open Box", "For parts", "Pre-owned"]
SELLERS = [f"seller-{i:03d}" for i in range(120)]
REGIONS = ["US", "EU", "UK", "Asia/HK", "CA"]
PRICE_BY_SEGMENT = {"datacenter": 9000.0, "workstation": 2200.0, "consumer": 600.0}


def _models() -> list[tuple[str, str, float, float]]:
    """(vendor, name used in titles, vram, price level) per registry model."""
    registry = get_settings().registry_path
    models = []
    with open(registry, newline="") as fh:
        for row in csv.DictReader(fh):
            names = [row["display_name"], *[a for a in row["aliases"].split("|") if a]]
            vram = float(row["vram_gb"] or 8)
            level = PRICE_BY_SEGMENT.get(row["segment"], 600.0) * max(vram, 4) / 16
            for name in names[:4]:
                models.append((row["vendor"], name, vram, level))
    return models


def title_pool(distinct: int, rng: np.random.Generator) -> list[tuple[str, str, float]]:
    """``distinct`` titles with (title, model text, price level), accessories included."""
    models = _models()
    pool: dict[str, tuple[str, str, float]] = {}
    attempts = 0
    while len(pool) < distinct and attempts < distinct * 20:
        attempts += 1
        if rng.random() < 0.08:
            title = ACCESSORIES[rng.integers(len(ACCESSORIES))]
            title = f"{title} {rng.choice(['', 'Black', 'v2', 'OEM', 'Bulk'])}".strip()
            pool.setdefault(title, (title, "", 60.0))
            continue
        vendor, name, vram, level = models[rng.integers(len(models))]
        brands = BRANDS[vendor]
        memory = ("", f"{vram:g}GB", f"{vram:g}G", f"{vram:g} GB")[rng.integers(4)]
        words = (
            brands[rng.integers(len(brands))],
            name,
            LINES[rng.integers(len(LINES))],
            memory,
            NOISE[rng.integers(len(NOISE))],
        )
        title = " ".join(w for w in words if w)
        pool.setdefault(title, (title, name, level))
    return list(pool.values())


def generate_csv(path: Path, rows: int, seed: int = 7, distinct: int = 40_000) -> Path:
    """Write ``rows`` listings in the common 11-column export layout (about 250 bytes a row)."""
    rng = np.random.default_rng(seed)
    pool = title_pool(distinct, rng)
    weights = 1.0 / np.arange(1, len(pool) + 1) ** 0.6
    weights /= weights.sum()
    path.parent.mkdir(parents=True, exist_ok=True)
    header = [
        "model",
        "condition",
        "price",
        "quantity",
        "seller",
        "geographic_region",
        "listing_age",
        "source_url",
        "source_type",
        "bulk_notes",
        "title",
    ]
    block = 100_000
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for start in range(0, rows, block):
            n = min(block, rows - start)
            picks = rng.choice(len(pool), size=n, p=weights)
            cond = rng.integers(0, len(CONDITIONS), n)
            seller = rng.integers(0, len(SELLERS), n)
            factor = rng.lognormal(0, 0.25, n)
            out = []
            for i in range(n):
                title, name, level = pool[picks[i]]
                index = start + i
                out.append(
                    (
                        name,
                        CONDITIONS[cond[i]],
                        f"{level * factor[i]:.2f}",
                        "Available" if index % 7 else "Out of Stock",
                        SELLERS[seller[i]],
                        REGIONS[index % len(REGIONS)],
                        "Current",
                        f"https://shop.example.com/products/{seller[i]}/listing-{index:09d}",
                        "Generated",
                        f"SKU: GL-{index:010d}, Vendor: {SELLERS[seller[i]]}, lot {index // 1000}, "
                        "ships in 2-3 business days",
                        title,
                    )
                )
            writer.writerows(out)
    return path
