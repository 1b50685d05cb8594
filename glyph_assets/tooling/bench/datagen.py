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


def _models() -> list[tuple[str, str, float, float, str]]:
    """(vendor, name used in titles, vram, price level, segment) per registry model."""
    registry = get_settings().registry_path
    models = []
    with open(registry, newline="") as fh:
        for row in csv.DictReader(fh):
            names = [row["display_name"], *[a for a in row["aliases"].split("|") if a]]
            vram = float(row["vram_gb"] or 8)
            level = PRICE_BY_SEGMENT.get(row["segment"], 600.0) * max(vram, 4) / 16
            for name in names[:4]:
                models.append((row["vendor"], name, vram, level, row["segment"]))
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
        vendor, name, vram, level, _segment = models[rng.integers(len(models))]
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


# --- Realistic uploads: few narrow columns, noisy titles -------------------------------------
#
# What real listing files look like (the corpus beside the checkout: a Shopify catalogue, an
# eBay scrape, price sheets): six or so short columns, titles written by sellers with partner
# brands, product lines, memory sizes in every spelling, marketing words, typos, other
# languages, and a fair share of rows that are no GPU at all (boxes, coolers, cables, PCs).

PARTNER_LINES = {
    "NVIDIA": [
        "ASUS TUF Gaming OC",
        "ASUS ROG Strix",
        "ASUS Dual",
        "ASUS PRIME",
        "MSI VENTUS 3X OC",
        "MSI GAMING TRIO",
        "MSI SUPRIM X",
        "MSI SHADOW 2X",
        "GIGABYTE EAGLE OC",
        "GIGABYTE WINDFORCE",
        "GIGABYTE AORUS MASTER",
        "ZOTAC Twin Edge",
        "ZOTAC AMP Extreme",
        "PNY XLR8 Verto",
        "Palit GamingPro",
        "Gainward Phoenix",
        "INNO3D X3",
        "EVGA FTW3 Ultra",
        "Founders Edition",
        "PNY",
        "HP",
        "Dell OEM",
        "Lenovo",
    ],
    "AMD": [
        "SAPPHIRE PULSE",
        "SAPPHIRE NITRO+",
        "XFX Speedster MERC 310",
        "XFX QICK 319",
        "PowerColor Hellhound",
        "PowerColor Red Devil",
        "ASRock Challenger",
        "ASRock Phantom Gaming",
        "ASUS TUF Gaming",
        "GIGABYTE GAMING OC",
        "MSI MECH 2X",
        "Reference",
    ],
    "Intel": ["Intel", "ASRock Challenger", "Sparkle ORC", "Acer Predator BiFrost", "Gunnir"],
}
# Data-center and workstation cards are sold by OEMs and resellers, not gaming partners.
PRO_SELLERS = {
    "NVIDIA": ["NVIDIA", "PNY", "HP", "Dell", "Lenovo", "Supermicro", "Tesla"],
    "AMD": ["AMD", "HP", "Dell", "Lenovo", "Supermicro"],
    "Intel": ["Intel", "Dell", "Supermicro"],
}
MEMORY_FORMS = ["{v}GB", "{v}G", "{v} GB", "{v}GB {t}", "{v}G {t}", "{v}-GB", "O{v}G"]
MARKETING = [
    "Graphics Card",
    "Video Card",
    "GPU",
    "Gaming",
    "NEW",
    "Brand New Sealed",
    "FREE SHIPPING",
    "Fast Shipping",
    "!!",
    "L@@K",
    "Tested Working",
    "Excellent Condition",
    "AI Deep Learning",
    "PCIe 4.0 x16",
    "HDMI DP",
    "RGB",
    "White",
    "OC Edition",
    "Low Profile",
    "Bulk",
    "Retail Box",
    "with warranty",
    "Grafikkarte",
    "Tarjeta Gráfica",
    "Carte Graphique",
    "videokártya",
    "видеокарта",
    "显卡",
    "グラフィックボード",
    "usata",
    "gebraucht",
]
# Items that are no GPU, about a fifth of real rows: the model named, then the product sold.
NOT_GPU_ITEMS = [
    "Empty Box for {m}",
    "{m} box only",
    "Water Block for {m}",
    "Replacement Cooling Fan for {m}",
    "GPU Cooler Heatsink {m}",
    "Backplate for {m}",
    "Gaming PC Intel Core i7 {m} 32GB RAM 1TB SSD",
    "Gaming PC Ryzen 7 7800X3D {m}",
    "Desktop Computer i5-12400F {m} Windows 11",
    'Laptop 15.6" {m} Laptop GPU 16GB RAM',
    "4U GPU Server 8x {m}",
    "Workstation Tower with {m}",
    "GPU Support Bracket",
    "PCIe 4.0 x16 Riser Cable 200mm",
    "12VHPWR Power Cable 16 pin",
    "NVLink Bridge 2-Slot",
    "NVLink Bridge 3-Slot",
    "DisplayPort to HDMI Adapter",
    "850W Power Supply 80+ Gold",
    "AMD Ryzen 9 7950X3D Processor",
    "Intel Core i9-14900K CPU",
    "Motherboard B650 ATX",
    "Thermal Pads for {m}",
    "Capture Card 4K USB 3.0",
    "Vertical GPU Mount Kit",
]
NOT_GPU_SHARE = 0.2
TYPO_SHARE = 0.08
CURRENCIES = [("USD", 0.8), ("EUR", 0.12), ("GBP", 0.08)]
SELLER_NAMES = [
    *(
        f"{a}{b}"
        for a in ("tech", "gpu", "pc", "server", "gamer", "micro", "data")
        for b in ("deals", "store", "outlet", "hub", "parts", "world", "depot")
    ),
    "Wamatek",
    "Newegg",
    "B&H",
    "Micro Center",
    "ServerMonkey",
]
REAL_CONDITIONS = [
    "New",
    "Used",
    "Refurbished",
    "Open Box",
    "For parts or not working",
    "Pre-owned",
]
REALISTIC_HEADER = ["title", "price", "currency", "condition", "seller", "url"]


def _typo(word: str, rng: np.random.Generator) -> str:
    """One slip of the keyboard: a letter dropped, doubled or two letters swapped."""
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    slip = int(rng.integers(3))
    if slip == 0:
        return word[:i] + word[i + 1 :]
    if slip == 1:
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def _realistic_title(
    models: list[tuple[str, str, float, float, str]], rng: np.random.Generator
) -> tuple[str, float]:
    """One seller-written title and its price level."""
    vendor, name, vram, level, segment = models[rng.integers(len(models))]
    if rng.random() < NOT_GPU_SHARE:
        item = NOT_GPU_ITEMS[rng.integers(len(NOT_GPU_ITEMS))]
        price = level * 1.5 if ("PC" in item or "Server" in item or "Tower" in item) else 40.0
        return item.format(m=name), price
    lines = (PARTNER_LINES if segment == "consumer" else PRO_SELLERS)[vendor]
    kind = ("GDDR6", "GDDR6X", "GDDR7", "HBM2", "GDDR5")[rng.integers(5)]
    memory = MEMORY_FORMS[rng.integers(len(MEMORY_FORMS))].format(v=f"{vram:g}", t=kind)
    words = [lines[rng.integers(len(lines))] if rng.random() < 0.7 else "", name]
    if rng.random() < 0.75:
        words.append(memory)
    for _ in range(int(rng.integers(0, 4))):
        words.append(MARKETING[rng.integers(len(MARKETING))])
    title = " ".join(w for w in words if w)
    if rng.random() < TYPO_SHARE:
        parts = title.split(" ")
        at = int(rng.integers(len(parts)))
        parts[at] = _typo(parts[at], rng)
        title = " ".join(parts)
    if rng.random() < 0.15:
        title = title.upper()
    return title, level


def realistic_title_pool(distinct: int, rng: np.random.Generator) -> list[tuple[str, float]]:
    """``distinct`` different titles (title, price level), generated from the vocabulary above."""
    models = _models()
    pool: dict[str, float] = {}
    attempts = 0
    while len(pool) < distinct and attempts < distinct * 20:
        attempts += 1
        title, level = _realistic_title(models, rng)
        pool.setdefault(title, level)
    return list(pool.items())


def generate_realistic_csv(
    path: Path, rows: int, seed: int = 7, distinct: int | None = None
) -> Path:
    """Write ``rows`` listings shaped like real uploads: six narrow columns (title, price,
    currency, condition, seller, url; about 130 bytes a row) and, by default, 60,000 distinct
    titles per million rows, repeated as sellers relist the same item (a Zipf-like spread)."""
    rng = np.random.default_rng(seed)
    pool = realistic_title_pool(distinct or max(10, rows * 6 // 100), rng)
    weights = 1.0 / np.arange(1, len(pool) + 1) ** 0.5
    weights /= weights.sum()
    codes = [c for c, _ in CURRENCIES]
    shares = np.array([s for _, s in CURRENCIES])
    rate = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}
    path.parent.mkdir(parents=True, exist_ok=True)
    block = 100_000
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(REALISTIC_HEADER)
        for start in range(0, rows, block):
            n = min(block, rows - start)
            picks = rng.choice(len(pool), size=n, p=weights)
            currency = rng.choice(len(codes), size=n, p=shares)
            cond = rng.integers(0, len(REAL_CONDITIONS), n)
            seller = rng.integers(0, len(SELLER_NAMES), n)
            factor = rng.lognormal(0, 0.25, n)
            styled = rng.random(n)
            out = []
            for i in range(n):
                title, level = pool[picks[i]]
                code = codes[currency[i]]
                value = level * factor[i] * rate[code]
                # Most exports write plain numbers; scraped ones keep the shop's formatting.
                price = f"${value:,.2f}" if styled[i] < 0.1 and code == "USD" else f"{value:.2f}"
                item = 110_000_000_000 + start + i
                out.append(
                    (
                        title,
                        price,
                        code,
                        REAL_CONDITIONS[cond[i]],
                        SELLER_NAMES[seller[i]],
                        f"https://www.ebay.com/itm/{item}",
                    )
                )
            writer.writerows(out)
    return path
