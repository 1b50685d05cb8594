"""Score: inference value per dollar in [0, 100], with the components that explain it.

Only rows that are a GPU with a known model, a positive price and a known VRAM size are scored;
all others (row errors, accessories, unknown models, no price) get ``score = None``.

Components, each in [0, 100] (``C`` is the :class:`ScoreConfig`):

* ``score_capacity`` - how much model fits:
  ``100 * min(1, log2(1 + vram) / log2(1 + C.capacity_ref_gb))``. Logarithmic, because going
  from 8 to 16 GB matters more than going from 80 to 88 GB.
* ``score_features`` - serving features: ``100 * (C.mig_share * mig_instances / 7 + C.nvlink_share
  * nvlink)`` with ``mig_share + nvlink_share = 1``; unknown counts as absent.
* ``score_efficiency`` - power per GB of VRAM: ``100 * r / (r + tdp / vram)`` with
  ``r = C.efficiency_ref_w_per_gb`` (so r W/GB scores 50); an unknown TDP scores ``C.neutral``.
* ``score_value`` - price of one card (``unit_price``: a lot's price divided by its size, so
  "Lot of 4" at four times a card's price is a fair deal, not a bad one; ``price`` where a row
  has no ``unit_price``): ``C.deal_share * deal + (1 - C.deal_share) * per_gb`` where
  ``deal = 100 * m / (m + price)`` with ``m`` the median price of the same model in the import
  (a fair price scores 50, half of it 67), and ``per_gb = 100 * q / (q + price / vram)`` with
  ``q`` the median over models of each model's median price per GB in the import.

``score`` is the weighted mean ``sum(w_i * component_i) / sum(w_i)`` with the ``C.weight_*``.
Medians are taken per currency (no exchange rates are assumed). All else equal, a lower price
never lowers a score and more VRAM never lowers it: every term is monotone in price and VRAM,
and ``median / x`` stays monotone in ``x`` even when ``x`` itself moves the median.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from glyph_assets.sieve.columns import CLIENT_COLUMNS, SCORE_COLUMNS, with_columns


@dataclass(frozen=True)
class ScoreConfig:
    """Weights and reference points of the score; every number is documented in the module."""

    weight_capacity: float = 0.30  # VRAM: the first limit on which models a card can serve
    weight_features: float = 0.10  # MIG / NVLink: multi-tenant serving and multi-GPU models
    weight_efficiency: float = 0.15  # watts per GB: running cost of the capacity
    weight_value: float = 0.45  # price against the same model and against other models per GB
    capacity_ref_gb: float = 192.0  # VRAM that earns the full capacity score
    mig_share: float = 0.6  # part of the features score given by MIG (7 instances = all of it)
    efficiency_ref_w_per_gb: float = 10.0  # watts per GB that score 50
    deal_share: float = 0.5  # part of the value score from the same-model price comparison
    neutral: float = 50.0  # component value used when its input is unknown

    def __post_init__(self) -> None:
        weights = self.weights()
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError("score weights must be >= 0 and not all zero")
        if not 0 <= self.mig_share <= 1 or not 0 <= self.deal_share <= 1:
            raise ValueError("mig_share and deal_share must be within [0, 1]")
        if self.capacity_ref_gb <= 0 or self.efficiency_ref_w_per_gb <= 0:
            raise ValueError("reference points must be positive")
        if not 0 <= self.neutral <= 100:
            raise ValueError("neutral must be within [0, 100]")

    @property
    def nvlink_share(self) -> float:
        return 1.0 - self.mig_share

    def weights(self) -> dict[str, float]:
        return {
            "score_capacity": self.weight_capacity,
            "score_features": self.weight_features,
            "score_efficiency": self.weight_efficiency,
            "score_value": self.weight_value,
        }


@dataclass(frozen=True)
class MarketReference:
    """The import's market: median price per (model, currency), median price/GB per currency."""

    model_price: dict[tuple[str, str], float] = field(default_factory=dict)
    per_gb: dict[str, float] = field(default_factory=dict)


def card_price(frame: pd.DataFrame) -> pd.Series:
    """The price of one card per row: ``unit_price`` where set, else ``price`` (rows stored
    before unit_price existed, frames built without clean)."""
    price = pd.to_numeric(frame["price"], errors="coerce") if "price" in frame else None
    if price is None:
        price = pd.Series(np.nan, index=frame.index, dtype=float)
    if "unit_price" not in frame:
        return price.astype(float)
    unit = pd.to_numeric(frame["unit_price"], errors="coerce").astype(float)
    return unit.where(unit.notna(), price).astype(float)


def _is_true(values: pd.Series, text: str | None = None) -> np.ndarray:
    """``values == True`` (or ``== text``), element-wise, as booleans; missing is False.

    A column read back from Arrow with a null in it is Python objects, and comparing those one
    by one was a third of the score's cost: the distinct values (two or three) are compared
    instead. Values that hash alike compare alike here (``True``, ``1``, ``1.0``)."""
    if values.dtype == bool:
        return values.to_numpy(dtype=bool)
    codes, distinct = pd.factorize(values)
    truth = [bool(v == True) or (text is not None and v == text) for v in distinct]  # noqa: E712
    return np.array([*truth, False], dtype=bool)[codes]


def _scoreable(frame: pd.DataFrame) -> np.ndarray:
    def col(name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)

    price = card_price(frame).to_numpy(dtype=float)
    vram = pd.to_numeric(col("vram_gb"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    mask = col("canonical_model").notna().to_numpy() & _is_true(col("is_gpu"))
    with np.errstate(invalid="ignore"):
        mask &= (price > 0) & np.isfinite(price) & (vram > 0)
    if "error_stage" in frame:
        mask &= frame["error_stage"].isna().to_numpy()
    return mask


_MARKET_INPUTS = ["canonical_model", "currency", "price", "unit_price", "vram_gb"]
_FEATURE_INPUTS = ["mig_instances", "nvlink", "tdp_watts"]
# Every column ``score`` reads: a frame of these alone scores as the whole row does, so a caller
# holding wide rows elsewhere (``glyph pipeline``'s spilled parts) reads and converts only these.
SCORE_INPUTS: list[str] = [*_MARKET_INPUTS, *_FEATURE_INPUTS, "is_gpu", "error_stage"]


def _scoreable_rows(frame: pd.DataFrame, mask: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """The scoreable rows' ``columns`` (those the frame has): one take of what is read, not of
    every column of the row (the whole row's take was most of the score's cost)."""
    return frame.loc[mask, [c for c in columns if c in frame]]


def _as_text(values: pd.Series) -> pd.Series:
    """``values.astype(str)`` as Python strings, each distinct value converted once. The values
    are never missing here (the scoreable rows have a model; a missing currency is USD)."""
    codes, uniques = pd.factorize(values)
    if (codes < 0).any():
        raise ValueError("_as_text takes no missing value")
    text = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    return pd.Series(text[codes], index=values.index, dtype=object)


def _market_rows(frame: pd.DataFrame, mask: np.ndarray | None = None) -> pd.DataFrame:
    """Model, currency, card price and VRAM of the scoreable rows (``mask``, when known)."""
    if mask is None:
        mask = _scoreable(frame)
    rows = _scoreable_rows(frame, mask, _MARKET_INPUTS)
    currency = rows["currency"] if "currency" in rows else pd.Series("USD", index=rows.index)
    return pd.DataFrame(
        {
            "canonical_model": _as_text(rows["canonical_model"]),
            "currency": _as_text(currency.fillna("USD")),
            "price": card_price(rows),
            "vram_gb": pd.to_numeric(rows["vram_gb"]).astype(float),
        }
    )


def market_reference(chunks: Iterable[pd.DataFrame]) -> MarketReference:
    """Per-model median prices and the per-GB reference over every chunk of one import."""
    parts = [_market_rows(chunk) for chunk in chunks]
    return _reference(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())


def _reference(rows: pd.DataFrame, pairs: _Pairs | None = None) -> MarketReference:
    """The medians of :class:`MarketReference` over ``rows`` (``_market_rows``; ``pairs``: their
    ``_pair_codes``, when the caller has them). The rows are grouped by the integer code of
    their (model, currency) pair: grouping by the two text columns themselves was most of the
    cost (0.35 s for 1,200,000 rows here)."""
    if rows.empty:
        return MarketReference()
    models, currencies, pair = pairs or _pair_codes(rows)
    price = rows["price"].to_numpy(dtype=float)
    medians = (
        pd.DataFrame({"price": price, "per_gb": price / rows["vram_gb"].to_numpy(dtype=float)})
        .groupby(pair)
        .median()
    )
    model_at, currency_at = np.divmod(medians.index.to_numpy(), len(currencies))
    model_price = {
        (str(models[m]), str(currencies[c])): float(v)
        for m, c, v in zip(model_at, currency_at, medians["price"], strict=True)
    }
    per_gb = medians["per_gb"].groupby(currency_at).median()
    return MarketReference(
        model_price=dict(sorted(model_price.items())),
        per_gb=dict(sorted((str(currencies[c]), float(v)) for c, v in per_gb.items())),
    )


class _Pairs(NamedTuple):
    """The distinct models and currencies of market rows, and each row's pair code
    (``model * len(currencies) + currency``)."""

    models: np.ndarray
    currencies: np.ndarray
    pair: np.ndarray


def _pair_codes(rows: pd.DataFrame) -> _Pairs:
    model_codes, models = pd.factorize(rows["canonical_model"])
    currency_codes, currencies = pd.factorize(rows["currency"])
    pair = model_codes.astype(np.int64) * len(currencies) + currency_codes
    return _Pairs(np.asarray(models, dtype=object), np.asarray(currencies, dtype=object), pair)


def _looked_up(pairs: _Pairs, reference: MarketReference) -> tuple[np.ndarray, np.ndarray]:
    """Each row's median price for its model and currency, and the per-GB reference for its
    currency (NaN where the reference has none): looked up once per distinct pair."""
    models, currencies, pair = pairs
    width = max(len(currencies), 1)
    at, present = pd.factorize(pair)  # only the pairs the rows hold, however many currencies
    model_at, currency_at = np.divmod(present, width)
    prices = [
        reference.model_price.get((models[m], currencies[c]), np.nan)
        for m, c in zip(model_at.tolist(), currency_at.tolist(), strict=True)
    ]
    per_gb = [reference.per_gb.get(c, np.nan) for c in currencies]
    return np.array(prices, dtype=float)[at], np.array(per_gb, dtype=float)[pair % width]


def _numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _ratio_score(reference: np.ndarray, value: np.ndarray) -> np.ndarray:
    """100 * ref / (ref + value): 50 at the reference, higher when ``value`` is lower."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * reference / (reference + value)


def score(
    enriched: pd.DataFrame,
    config: ScoreConfig | None = None,
    reference: MarketReference | None = None,
) -> pd.DataFrame:
    """Add SCORE_COLUMNS; ``reference`` defaults to the market of ``enriched`` itself."""
    config = config or ScoreConfig()
    out = enriched.copy(deep=False)  # new columns only: the input frame is not modified
    n = len(out)
    results = {name: np.full(n, np.nan) for name in SCORE_COLUMNS}
    mask = _scoreable(out)
    if mask.any():
        rows = _market_rows(out, mask)
        pairs = _pair_codes(rows)  # once, for the lookups and any reference made here
        reference = reference or _reference(rows, pairs)
        median, per_gb_ref = _looked_up(pairs, reference)
        if np.isnan(median).any() or np.isnan(per_gb_ref).any():
            local = _reference(rows, pairs)  # models the given reference has not seen
            local_median, local_per_gb = _looked_up(pairs, local)
            median = np.where(np.isnan(median), local_median, median)
            per_gb_ref = np.where(np.isnan(per_gb_ref), local_per_gb, per_gb_ref)
        price = rows["price"].to_numpy()
        vram = rows["vram_gb"].to_numpy()
        picked = _scoreable_rows(out, mask, _FEATURE_INPUTS)
        mig = _numeric(picked, "mig_instances")
        link = picked["nvlink"] if "nvlink" in picked else pd.Series(None, index=picked.index)
        nvlink = _is_true(link, "true").astype(float)
        tdp = _numeric(picked, "tdp_watts")

        capacity = 100.0 * np.minimum(1.0, np.log2(1 + vram) / np.log2(1 + config.capacity_ref_gb))
        mig_part = np.clip(np.nan_to_num(mig, nan=0.0), 0, 7) / 7.0
        features = 100.0 * (config.mig_share * mig_part + config.nvlink_share * nvlink)
        efficiency = _ratio_score(np.full(len(vram), config.efficiency_ref_w_per_gb), tdp / vram)
        efficiency = np.where(np.isfinite(efficiency), efficiency, config.neutral)
        deal = np.where(np.isfinite(median), _ratio_score(median, price), config.neutral)
        per_gb = _ratio_score(per_gb_ref, price / vram)
        per_gb = np.where(np.isfinite(per_gb), per_gb, config.neutral)
        value = config.deal_share * deal + (1.0 - config.deal_share) * per_gb
        components = {
            "score_capacity": capacity,
            "score_features": features,
            "score_efficiency": efficiency,
            "score_value": value,
        }
        weights = config.weights()
        total = sum(weights[k] * components[k] for k in components) / sum(weights.values())
        components["score"] = total
        for name, values in components.items():
            results[name][mask] = np.round(np.clip(values, 0.0, 100.0), 2)
    added = {name: results[name] for name in SCORE_COLUMNS}  # NaN where unscored: NULL
    added |= {name: np.full(len(out), np.nan) for name in CLIENT_COLUMNS}  # glyph scored them
    return with_columns(out, added)


__all__ = [
    "SCORE_INPUTS",
    "MarketReference",
    "ScoreConfig",
    "card_price",
    "market_reference",
    "score",
]
