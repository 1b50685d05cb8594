"""The rate table the API's USD-equivalents come from, and an import diff's prices in USD.

The table is ``GLYPH_FX_RATES_PATH`` (``glyph_assets/sieve/fx.py`` reads and looks it up); it is
read again when the file changes, so updating the rates needs no restart.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import pandas as pd

from glyph_assets.settings import Settings
from glyph_assets.sieve import fx


@lru_cache(maxsize=4)
def _rates_at(path: str, stamp: int | None) -> fx.Rates | None:
    return fx.load_rates(path)


def rates_of(settings: Settings) -> fx.Rates | None:
    """The configured rate table (None: none configured); a table that cannot be read is a
    ``Rates`` whose ``problem`` says why, and every non-USD value is then null."""
    path = settings.fx_rates_path
    if not path.strip():
        return None
    try:
        stamp: int | None = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None
    return _rates_at(path, stamp)


def diff_items_in_usd(
    items: list[dict[str, Any]], rates: fx.Rates | None, day: Any, previous_day: Any
) -> list[dict[str, Any]]:
    """Each diff item with ``usd``: its price at the rate of this import's day, the other
    import's price at the rate of that import's day, both rates with their dates, and the change
    in USD where both exist (so a listing repriced from EUR to USD is comparable too)."""
    if not items:
        return items
    frame = pd.DataFrame(items)
    now = fx.with_usd(frame.assign(day=day), rates, ["price"], "day")
    before = fx.with_usd(
        pd.DataFrame(
            {
                "currency": frame["previous_currency"],
                "previous_price": frame["previous_price"],
                "day": previous_day,
            }
        ),
        rates,
        ["previous_price"],
        "day",
    )
    out = []
    for item, cur, prev in zip(
        items, now.to_dict("records"), before.to_dict("records"), strict=True
    ):
        price, previous = _number(cur["price_usd"]), _number(prev["previous_price_usd"])
        has_price, has_previous = (
            item.get("price") is not None,
            item.get("previous_price") is not None,
        )
        usd = {
            "price": price,
            "previous_price": previous,
            "price_change": (
                round(price - previous, 2) if price is not None and previous is not None else None
            ),
            "rate": _number(cur["usd_rate"]) if has_price else None,
            "rate_date": cur["usd_rate_date"] if has_price else None,
            "reason": cur["usd_reason"] if has_price else None,
            "previous_rate": _number(prev["usd_rate"]) if has_previous else None,
            "previous_rate_date": prev["usd_rate_date"] if has_previous else None,
            "previous_reason": prev["usd_reason"] if has_previous else None,
        }
        out.append({**item, "usd": usd})
    return out


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


__all__ = ["diff_items_in_usd", "rates_of"]
