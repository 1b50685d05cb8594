"""USD-equivalents of prices from a dated rate table, never a guess.

glyph keeps every price in the currency the listing was offered in, and every market figure per
currency. Where a rate table is configured (``GLYPH_FX_RATES_PATH``; glyph ships sample rates in
``data/reference/fx_rates.csv``), a USD-equivalent is added *beside* the figure, with the rate
used and that rate's date, so a reader can always see how it was made:

- the rate of a price observed on day D is the table's latest rate for its currency dated on or
  before D (a listing's day is its import's creation day, UTC): a rate from the future is never
  used;
- USD is USD: rate 1.0, no table needed, no rate date;
- anything else leaves the USD value null with a reason (``USD_REASONS``): no table configured,
  an unreadable table, no currency, no date, a currency the table lacks, or no rate on or
  before the day. A missing rate is never filled from another day or another currency.

The table is a CSV with the header ``date,currency,usd_rate``: an ISO day, an ISO 4217 code and
how many US dollars one unit of the currency buys that day (EUR 1.08 means 1 EUR = 1.08 USD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

USD = "USD"
RATE_COLUMNS = ["date", "currency", "usd_rate"]
# The columns ``usd_rates`` adds: the rate, its date and why there is none.
LOOKUP_COLUMNS = ["usd_rate", "usd_rate_date", "usd_reason"]

NO_RATE_TABLE = "no_rate_table"
RATE_TABLE_UNREADABLE = "rate_table_unreadable"
NO_CURRENCY = "no_currency"
NO_DATE = "no_date"
CURRENCY_NOT_IN_TABLE = "currency_not_in_rate_table"
NO_RATE_ON_OR_BEFORE = "no_rate_on_or_before_date"
USD_REASONS = (
    NO_RATE_TABLE,
    RATE_TABLE_UNREADABLE,
    NO_CURRENCY,
    NO_DATE,
    CURRENCY_NOT_IN_TABLE,
    NO_RATE_ON_OR_BEFORE,
)
_CODE = r"[A-Z]{3}"


class RateTableError(ValueError):
    """The configured rate table cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Rates:
    """A loaded rate table (``table``: date, currency, usd_rate sorted by date), or the reason
    a configured one could not be loaded (``problem``): then every non-USD value is null with
    ``rate_table_unreadable``, never computed from part of a file."""

    table: pd.DataFrame
    source: str
    problem: str | None = None


def parse_rates(frame: pd.DataFrame, source: str = "rates") -> Rates:
    """Check and type a rate table read as text: every line a valid day, code and positive rate,
    no (date, currency) twice."""
    missing = [c for c in RATE_COLUMNS if c not in frame.columns]
    if missing:
        raise RateTableError(f"{source}: missing column(s) {', '.join(missing)}")
    text = frame[RATE_COLUMNS].astype("string").apply(lambda s: s.str.strip())
    day = pd.to_datetime(text["date"], format="%Y-%m-%d", errors="coerce")
    currency = text["currency"].str.upper()
    rate = pd.to_numeric(text["usd_rate"], errors="coerce")
    bad = (
        day.isna()
        | ~currency.fillna("").str.fullmatch(_CODE)
        | rate.isna()
        | ~np.isfinite(rate.fillna(0))
        | (rate.fillna(0) <= 0)
    )
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2  # 1-based, after the header
        raise RateTableError(
            f"{source}: line {line} needs an ISO date, a 3-letter currency code and a positive "
            f"usd_rate, got {', '.join(str(v) for v in text.iloc[line - 2].tolist())}"
        )
    table = pd.DataFrame({"date": day, "currency": currency.astype(object), "usd_rate": rate})
    twice = table.duplicated(["date", "currency"])
    if twice.any():
        row = table.loc[twice].iloc[0]
        raise RateTableError(
            f"{source}: {row['currency']} has two rates on {row['date'].date().isoformat()}"
        )
    table = table.sort_values(["date", "currency"], kind="mergesort").reset_index(drop=True)
    return Rates(table=table, source=source)


def read_rates(path: str | Path) -> Rates:
    """Read and check the rate table at ``path`` (raises ``RateTableError``)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    except (OSError, ValueError) as exc:
        raise RateTableError(f"{path}: {exc}") from exc
    return parse_rates(frame, str(path))


def load_rates(path: str | Path | None) -> Rates | None:
    """The configured table: None when none is configured (an empty path), a ``Rates`` whose
    ``problem`` says why when the file cannot be used (the figures go on without USD values)."""
    if path is None or not str(path).strip():
        return None
    try:
        return read_rates(path)
    except RateTableError as exc:
        return Rates(table=pd.DataFrame(columns=RATE_COLUMNS), source=str(path), problem=str(exc))


def _days(dates: pd.Series) -> pd.Series:
    """UTC calendar days (naive timestamps are UTC, as glyph stores them)."""
    stamps = pd.to_datetime(dates, utc=True, errors="coerce")
    return stamps.dt.tz_convert(None).dt.normalize()


def usd_rates(rates: Rates | None, currencies: pd.Series, dates: pd.Series) -> pd.DataFrame:
    """For each (currency, day) pair: the USD rate, the rate's date and, where there is no rate,
    why (``LOOKUP_COLUMNS``, aligned on ``currencies``' index)."""
    index = currencies.index
    code = currencies.astype(object).where(currencies.notna(), None)
    code = code.map(lambda c: str(c).strip().upper() or None if c is not None else None)
    day = _days(pd.Series(list(dates), index=index, dtype=object))
    rate = pd.Series(np.nan, index=index, dtype=float)
    rate_date = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    reason = pd.Series(None, index=index, dtype=object)
    is_usd = code == USD
    rate[is_usd] = 1.0
    reason[code.isna()] = NO_CURRENCY
    wanted = code.notna() & ~is_usd
    if rates is None or rates.problem:
        reason[wanted] = NO_RATE_TABLE if rates is None else RATE_TABLE_UNREADABLE
        return _lookup_frame(rate, rate_date, reason)
    reason[wanted & day.isna()] = NO_DATE
    ask = wanted & day.notna()
    if ask.any():
        left = pd.DataFrame({"row": np.flatnonzero(ask.to_numpy()), "currency": code[ask]})
        left["day"] = day[ask].to_numpy().astype("datetime64[ns]")
        right = rates.table.rename(columns={"date": "rate_date"})
        right = right.assign(rate_date=right["rate_date"].astype("datetime64[ns]"))
        found = pd.merge_asof(
            left.sort_values("day", kind="mergesort"),
            right,
            left_on="day",
            right_on="rate_date",
            by="currency",
            direction="backward",
        ).sort_values("row")
        rows = found["row"].to_numpy()
        rate.iloc[rows] = found["usd_rate"].to_numpy()
        rate_date.iloc[rows] = found["rate_date"].to_numpy()
        known = set(rates.table["currency"])
        none = found["usd_rate"].isna().to_numpy()
        missing = np.where(
            found["currency"].isin(known).to_numpy(), NO_RATE_ON_OR_BEFORE, CURRENCY_NOT_IN_TABLE
        )
        reason.iloc[rows[none]] = missing[none]
    return _lookup_frame(rate, rate_date, reason)


def _lookup_frame(rate: pd.Series, rate_date: pd.Series, reason: pd.Series) -> pd.DataFrame:
    days = rate_date.map(lambda d: d.date() if pd.notna(d) else None).astype(object)
    why = reason.astype(object).where(reason.notna(), None)
    return pd.DataFrame({"usd_rate": rate, "usd_rate_date": days, "usd_reason": why})


@dataclass(frozen=True)
class UsdRate:
    """One lookup's answer: ``rate`` and ``rate_date``, or ``reason`` why there is none."""

    rate: float | None
    rate_date: date | None
    reason: str | None

    def to_usd(self, amount: float | None) -> float | None:
        """``amount`` in US dollars, rounded to the cent; None without a rate or an amount."""
        if self.rate is None or amount is None or not math.isfinite(amount):
            return None
        return round(amount * self.rate, 2)


def usd_rate(rates: Rates | None, currency: str | None, on: object) -> UsdRate:
    """The rate of one price of ``currency`` observed on ``on`` (a date or a timestamp)."""
    row = usd_rates(rates, pd.Series([currency], dtype=object), pd.Series([on])).iloc[0]
    rate = None if pd.isna(row["usd_rate"]) else float(row["usd_rate"])
    reason = row["usd_reason"] if isinstance(row["usd_reason"], str) else None
    return UsdRate(rate=rate, rate_date=row["usd_rate_date"], reason=reason)


def with_usd(
    frame: pd.DataFrame,
    rates: Rates | None,
    prices: list[str],
    day_column: str,
    prefix: str = "",
) -> pd.DataFrame:
    """``frame`` with ``<prefix>usd_rate``, ``<prefix>usd_rate_date``, ``<prefix>usd_reason``
    and ``<price>_usd`` for each of ``prices`` (rounded to the cent), looked up for the frame's
    ``currency`` on its ``day_column``."""
    out = frame.copy()
    days = out[day_column] if day_column in out else pd.Series(None, index=out.index)
    found = usd_rates(rates, out["currency"], days)
    for name in LOOKUP_COLUMNS:
        out[f"{prefix}{name}"] = found[name]
    for price in prices:
        out[f"{price}_usd"] = (
            pd.to_numeric(out[price], errors="coerce") * found["usd_rate"]
        ).round(2)
    return out


__all__ = [
    "CURRENCY_NOT_IN_TABLE",
    "LOOKUP_COLUMNS",
    "NO_CURRENCY",
    "NO_DATE",
    "NO_RATE_ON_OR_BEFORE",
    "NO_RATE_TABLE",
    "RATE_COLUMNS",
    "RATE_TABLE_UNREADABLE",
    "USD",
    "USD_REASONS",
    "RateTableError",
    "Rates",
    "UsdRate",
    "load_rates",
    "parse_rates",
    "read_rates",
    "usd_rate",
    "usd_rates",
    "with_usd",
]
