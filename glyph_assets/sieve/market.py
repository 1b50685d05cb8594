"""Market figures over persisted listings: per-model price statistics and price movements.

Pure pandas, no Dagster and no database: the market assets load the rows and write the results.
Only priced GPU listings with a canonical model count; every price is the price of one card
(``unit_price``: a "Lot of 4" counts at a quarter of its price; ``price`` for rows stored before
unit_price existed). Prices are compared within one currency, so every figure is keyed by
(canonical_model, currency). Quantiles use pandas' default linear interpolation.

Where a rate table is given (``sieve/fx.py``), each figure also gets a USD-equivalent beside it,
with the rate and the rate's date (or the reason there is none): a model's statistics at the
rate of the day of the newest import they cover, a movement's two medians each at the rate of
its own import's day. The per-currency figures are never replaced or mixed.
"""

from __future__ import annotations

import pandas as pd
from pandas.api.typing import DataFrameGroupBy

from glyph_assets.sieve import fx
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
    "usd_rate",
    "usd_rate_date",
    "usd_reason",
    "min_price_usd",
    "p10_price_usd",
    "median_price_usd",
    "p90_price_usd",
    "max_price_usd",
]
# The statistics that get a USD-equivalent (at the rate of the newest import's day).
USD_STATS_PRICES: list[str] = ["min_price", "p10_price", "median_price", "p90_price", "max_price"]

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
    "usd_rate",
    "usd_rate_date",
    "usd_reason",
    "median_price_usd",
    "previous_usd_rate",
    "previous_usd_rate_date",
    "previous_usd_reason",
    "previous_median_price_usd",
    "abs_change_usd",
]

HISTORY_COLUMNS: list[str] = [
    "import_id",
    "source",
    "imported_at",
    "currency",
    "listings",
    "p10_price",
    "median_price",
    "p90_price",
]

# One import's prices of one model in one currency, kept when the import ends (``price_points``).
POINT_COLUMNS: list[str] = [
    "canonical_model",
    "currency",
    "listings",
    "p10_price",
    "median_price",
    "p90_price",
]


def price_spread(grouped: DataFrameGroupBy) -> pd.DataFrame:
    """The p10 / median / p90 card price of each group (the stats and the price points), by
    pandas' grouped quantiles: a quantile as a Python function called once per group cost
    more than the rest of an import's price points."""
    prices = grouped["price"]
    return pd.DataFrame(
        {
            "p10_price": prices.quantile(0.10),
            "median_price": prices.median(),
            "p90_price": prices.quantile(0.90),
        }
    )


def market_rows(listings: pd.DataFrame) -> pd.DataFrame:
    """The rows a market figure may use: GPUs with a model, a currency and a positive price;
    ``price`` is the price of one card."""
    frame = listings.reindex(columns=LISTING_INPUT_COLUMNS)
    price = card_price(frame)
    # true, 1 or "true", however the column is typed (isin: a Python call per row cost more)
    is_gpu = frame["is_gpu"].isin([1, "true"])
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


def _newest_import_day(
    rows: pd.DataFrame, imports: pd.DataFrame | None, keys: list[str]
) -> pd.DataFrame:
    """Per key group, the creation time of the newest import its rows come from (the day its
    USD-equivalents are priced on); null without the imports' times."""
    if imports is None:
        return rows[keys].drop_duplicates().assign(as_of=None)
    created = imports.reindex(columns=IMPORT_INPUT_COLUMNS).drop_duplicates("import_id")
    times = pd.to_datetime(created.set_index("import_id")["created_at"], utc=True)
    dated = rows[keys].assign(as_of=rows["import_id"].map(times))
    return dated.groupby(keys, sort=False)["as_of"].max().reset_index()


def model_market_stats(
    listings: pd.DataFrame,
    imports: pd.DataFrame | None = None,
    rates: fx.Rates | None = None,
) -> pd.DataFrame:
    """Per (model, currency): count, min / p10 / median / p90 / max / mean price, price per GB,
    best, and the prices' USD-equivalents at the rate of the day of the newest of ``imports``
    they cover (null with ``usd_reason`` where there is no rate).

    The best listing is the highest score; ties go to the lower price, then the earlier
    (import_id, import_index), so the result does not depend on row order.
    """
    rows = market_rows(listings)
    if rows.empty:
        return pd.DataFrame(columns=STATS_COLUMNS)
    rows["price_per_gb"] = rows["price"] / rows["vram_gb"].where(rows["vram_gb"] > 0)
    keys = ["canonical_model", "currency"]
    grouped = rows.groupby(keys, sort=True)
    stats = (
        grouped.agg(
            listings=("price", "size"),
            imports=("import_id", "nunique"),
            min_price=("price", "min"),
            max_price=("price", "max"),
            mean_price=("price", "mean"),
            median_price_per_gb_vram=("price_per_gb", "median"),
        )
        .join(price_spread(grouped))
        .reset_index()
    )
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
    stats = stats.merge(_newest_import_day(rows, imports, keys), on=keys, how="left")
    return fx.with_usd(stats, rates, USD_STATS_PRICES, "as_of")[STATS_COLUMNS]


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


def _rows_of_imports(listings: pd.DataFrame, imports: pd.DataFrame) -> pd.DataFrame:
    """The market rows (``market_rows``) with their import's source and ``created_at``."""
    rows = market_rows(listings)
    meta = imports.reindex(columns=IMPORT_INPUT_COLUMNS).drop_duplicates("import_id")
    rows = rows.merge(meta, on="import_id", how="inner")
    rows["source"] = rows["source"].fillna("(none)").astype(str)
    return rows


def price_movements(
    listings: pd.DataFrame, imports: pd.DataFrame, rates: fx.Rates | None = None
) -> pd.DataFrame:
    """Per (model, currency) and per source: change of the median price between consecutive imports.

    "Consecutive" means consecutive among the imports in which the model has priced listings,
    ordered by the import's ``created_at``. ``source`` is the import's source label, or
    ``ALL_SOURCES`` for the sequence of every import regardless of source. Each median's
    USD-equivalent is at the rate of its own import's day, so ``abs_change_usd`` includes the
    currency's own movement; ``abs_change`` and ``pct_change`` stay in the listing currency.
    """
    rows = _rows_of_imports(listings, imports)
    if rows.empty:
        return pd.DataFrame(columns=MOVEMENT_COLUMNS)
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
    steps = fx.with_usd(steps, rates, ["median_price"], "imported_at")
    steps = fx.with_usd(
        steps, rates, ["previous_median_price"], "previous_imported_at", prefix="previous_"
    )
    steps["abs_change_usd"] = (
        steps["median_price_usd"] - steps["previous_median_price_usd"]
    ).round(2)
    steps = steps.sort_values(
        ["canonical_model", "currency", "source", "imported_at", "import_id"], kind="mergesort"
    )
    return steps[MOVEMENT_COLUMNS].reset_index(drop=True)


def price_points(listings: pd.DataFrame) -> pd.DataFrame:
    """One import's priced listings per (model, currency): how many, and the p10 / median /
    p90 card price (``POINT_COLUMNS``). The rows a market figure may use only
    (``market_rows``), so a model's chart agrees with its market figures. Computed once, when
    the import ends; the chart of a model then reads these instead of its listings."""
    rows = market_rows(listings)
    if rows.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    grouped = rows.groupby(["canonical_model", "currency"], sort=True)
    points = grouped.agg(listings=("price", "size")).join(price_spread(grouped)).reset_index()
    return points[POINT_COLUMNS]


def price_history(points: pd.DataFrame, imports: pd.DataFrame) -> pd.DataFrame:
    """One model's price points (``price_points``, with their ``import_id``) as its chart
    shows them: with each import's source and time, oldest first (``HISTORY_COLUMNS``)."""
    meta = imports.reindex(columns=IMPORT_INPUT_COLUMNS).drop_duplicates("import_id")
    history = points.merge(meta, on="import_id", how="inner")
    if history.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    history["source"] = history["source"].fillna("(none)").astype(str)
    history = history.rename(columns={"created_at": "imported_at"}).sort_values(
        ["imported_at", "import_id", "currency"], kind="mergesort"
    )
    return history[HISTORY_COLUMNS].reset_index(drop=True)


__all__ = [
    "ALL_SOURCES",
    "HISTORY_COLUMNS",
    "MOVEMENT_COLUMNS",
    "POINT_COLUMNS",
    "STATS_COLUMNS",
    "USD_STATS_PRICES",
    "market_rows",
    "model_market_stats",
    "price_history",
    "price_movements",
    "price_points",
]
