"""Market figures over persisted listings: per-model price statistics and price movements.

Pure pandas, no Dagster and no database: the market assets load the rows and write the results.
Only priced GPU listings with a canonical model count; every price is the price of one card
(``unit_price``: a "Lot of 4" counts at a quarter of its price; ``price`` for rows stored before
unit_price existed). Prices are compared within one currency, so every figure is keyed by
(canonical_model, currency). Quantiles use pandas' default linear interpolation.
"""

from __future__ import annotations

import pandas as pd

from glyph_assets.sieve.score import card_price

ALL_SOURCES = "*"

LISTING_INPUT_COLUMNS: list[str] = [
    "import_id",
    "import_index",
    "canonical_model",
    "currency",
    "price",
    "unit_price",
    "vram_gb",
    "score",
    "is_gpu",
]
IMPORT_INPUT_COLUMNS: list[str] = ["import_id", "source", "created_at"]

STATS_COLUMNS: list[str] = [
    "canonical_model",
    "currency",
    "listings",
    "imports",
    "min_price",
    "p10_price",
    "median_price",
    "p90_price",
    "max_price",
    "mean_price",
    "median_price_per_gb_vram",
    "best_import_id",
    "best_import_index",
    "best_price",
    "best_score",
]

MOVEMENT_COLUMNS: list[str] = [
    "canonical_model",
    "currency",
    "source",
    "import_id",
    "previous_import_id",
    "imported_at",
    "previous_imported_at",
    "listings",
    "previous_listings",
    "median_price",
    "previous_median_price",
    "abs_change",
    "pct_change",
]


def market_rows(listings: pd.DataFrame) -> pd.DataFrame:
    """The rows a market figure may use: GPUs with a model, a currency and a positive price;
    ``price`` is the price of one card."""
    frame = listings.reindex(columns=LISTING_INPUT_COLUMNS)
    price = card_price(frame)
    is_gpu = frame["is_gpu"].map(lambda v: v is True or v == 1 or v == "true")
    keep = (
        is_gpu
        & frame["canonical_model"].notna()
        & frame["currency"].notna()
        & price.notna()
        & (price > 0)
    )
    out = frame.loc[keep].copy()
    out["price"] = price[keep].astype(float)
    out["vram_gb"] = pd.to_numeric(out["vram_gb"], errors="coerce").astype(float)
    out["score"] = pd.to_numeric(out["score"], errors="coerce").astype(float)
    out["import_index"] = out["import_index"].astype(int)
    return out.reset_index(drop=True)


def model_market_stats(listings: pd.DataFrame) -> pd.DataFrame:
    """Per (model, currency): count, min / p10 / median / p90 / max / mean price, price per GB,
    best.

    The best listing is the highest score; ties go to the lower price, then the earlier
    (import_id, import_index), so the result does not depend on row order.
    """
    rows = market_rows(listings)
    if rows.empty:
        return pd.DataFrame(columns=STATS_COLUMNS)
    rows["price_per_gb"] = rows["price"] / rows["vram_gb"].where(rows["vram_gb"] > 0)
    keys = ["canonical_model", "currency"]
    grouped = rows.groupby(keys, sort=True)
    stats = grouped.agg(
        listings=("price", "size"),
        imports=("import_id", "nunique"),
        min_price=("price", "min"),
        p10_price=("price", lambda s: s.quantile(0.10)),
        median_price=("price", "median"),
        p90_price=("price", lambda s: s.quantile(0.90)),
        max_price=("price", "max"),
        mean_price=("price", "mean"),
        median_price_per_gb_vram=("price_per_gb", "median"),
    ).reset_index()
    scored = rows.loc[rows["score"].notna()].sort_values(
        ["score", "price", "import_id", "import_index"],
        ascending=[False, True, True, True],
        kind="mergesort",
    )
    best = (
        scored.drop_duplicates(keys, keep="first")[
            keys + ["import_id", "import_index", "price", "score"]
        ]
        .rename(
            columns={
                "import_id": "best_import_id",
                "import_index": "best_import_index",
                "price": "best_price",
                "score": "best_score",
            }
        )
        .astype({"best_import_index": "Int64"})
    )
    stats = stats.merge(best, on=keys, how="left")
    stats["best_import_index"] = stats["best_import_index"].astype("Int64")
    return stats[STATS_COLUMNS]


def _steps(medians: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Consecutive pairs within each key group, ordered by import time then import_id."""
    ordered = medians.sort_values(keys + ["created_at", "import_id"], kind="mergesort")
    previous = ordered.groupby(keys, sort=False)[
        ["import_id", "created_at", "listings", "median_price"]
    ].shift(1)
    steps = ordered.assign(
        previous_import_id=previous["import_id"],
        previous_imported_at=previous["created_at"],
        previous_listings=previous["listings"],
        previous_median_price=previous["median_price"],
    )
    return steps.loc[steps["previous_import_id"].notna()]


def price_movements(listings: pd.DataFrame, imports: pd.DataFrame) -> pd.DataFrame:
    """Per (model, currency) and per source: change of the median price between consecutive imports.

    "Consecutive" means consecutive among the imports in which the model has priced listings,
    ordered by the import's ``created_at``. ``source`` is the import's source label, or
    ``ALL_SOURCES`` for the sequence of every import regardless of source.
    """
    rows = market_rows(listings)
    meta = imports.reindex(columns=IMPORT_INPUT_COLUMNS).drop_duplicates("import_id")
    rows = rows.merge(meta, on="import_id", how="inner")
    if rows.empty:
        return pd.DataFrame(columns=MOVEMENT_COLUMNS)
    rows["source"] = rows["source"].fillna("(none)").astype(str)
    per_import = (
        rows.groupby(["canonical_model", "currency", "import_id"], sort=False)
        .agg(
            listings=("price", "size"),
            median_price=("price", "median"),
            created_at=("created_at", "first"),
            source=("source", "first"),
        )
        .reset_index()
    )
    overall = _steps(per_import, ["canonical_model", "currency"]).assign(source=ALL_SOURCES)
    by_source = _steps(per_import, ["canonical_model", "currency", "source"])
    steps = pd.concat([overall, by_source], ignore_index=True)
    if steps.empty:
        return pd.DataFrame(columns=MOVEMENT_COLUMNS)
    steps = steps.rename(columns={"created_at": "imported_at"})
    steps["previous_listings"] = steps["previous_listings"].astype(int)
    steps["previous_median_price"] = steps["previous_median_price"].astype(float)
    steps["abs_change"] = steps["median_price"] - steps["previous_median_price"]
    steps["pct_change"] = steps["abs_change"] / steps["previous_median_price"] * 100.0
    steps = steps.sort_values(
        ["canonical_model", "currency", "source", "imported_at", "import_id"], kind="mergesort"
    )
    return steps[MOVEMENT_COLUMNS].reset_index(drop=True)


__all__ = [
    "ALL_SOURCES",
    "MOVEMENT_COLUMNS",
    "STATS_COLUMNS",
    "market_rows",
    "model_market_stats",
    "price_movements",
]
