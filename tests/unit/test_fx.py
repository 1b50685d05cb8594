"""USD-equivalents: the rate lookup (the latest rate on or before the day, never a guess), the
rate table's checks, and the USD columns beside the market figures and an import diff."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from glyph_assets.settings import PROJECT_ROOT
from glyph_assets.sieve import fx
from glyph_assets.sieve.market import model_market_stats, price_movements
from glyphd_api.rates import diff_items_in_usd

TABLE = """date,currency,usd_rate
2026-01-01,EUR,1.10
2026-02-01,EUR,1.20
2026-01-15,GBP,1.30
"""


@pytest.fixture()
def rates(tmp_path: Path) -> fx.Rates:
    path = tmp_path / "rates.csv"
    path.write_text(TABLE)
    return fx.read_rates(path)


@pytest.mark.parametrize(
    ("currency", "on", "rate", "rate_date", "reason"),
    [
        ("EUR", date(2026, 1, 1), 1.10, date(2026, 1, 1), None),  # the day itself
        ("EUR", date(2026, 1, 31), 1.10, date(2026, 1, 1), None),  # the latest before it
        ("EUR", date(2026, 2, 1), 1.20, date(2026, 2, 1), None),
        ("eur ", date(2026, 3, 9), 1.20, date(2026, 2, 1), None),
        # an import's time is UTC: late on 31 January is still January's rate
        ("EUR", datetime(2026, 1, 31, 23, 59, tzinfo=UTC), 1.10, date(2026, 1, 1), None),
        ("EUR", "2026-02-01T00:30:00+01:00", 1.10, date(2026, 1, 1), None),  # 31 Jan, UTC
        ("EUR", datetime(2025, 12, 31), None, None, fx.NO_RATE_ON_OR_BEFORE),  # none before
        ("GBP", date(2026, 1, 14), None, None, fx.NO_RATE_ON_OR_BEFORE),  # never a later rate
        ("JPY", date(2026, 3, 1), None, None, fx.CURRENCY_NOT_IN_TABLE),
        ("USD", date(2020, 1, 1), 1.0, None, None),
        ("USD", None, 1.0, None, None),
        (None, date(2026, 3, 1), None, None, fx.NO_CURRENCY),
        ("EUR", None, None, None, fx.NO_DATE),
    ],
)
def test_the_rate_is_the_latest_on_or_before_the_day(
    rates: fx.Rates,
    currency: str | None,
    on: object,
    rate: float | None,
    rate_date: date | None,
    reason: str | None,
) -> None:
    found = fx.usd_rate(rates, currency, on)
    assert (found.rate, found.rate_date, found.reason) == (rate, rate_date, reason)
    assert found.to_usd(100.0) == (round(100.0 * rate, 2) if rate is not None else None)


def test_without_a_usable_table_only_usd_has_a_value(tmp_path: Path) -> None:
    assert fx.load_rates("") is None
    assert fx.usd_rate(None, "EUR", date(2026, 1, 1)).reason == fx.NO_RATE_TABLE
    assert fx.usd_rate(None, "USD", date(2026, 1, 1)).rate == 1.0
    broken = fx.load_rates(tmp_path / "missing.csv")
    assert broken is not None and "missing.csv" in (broken.problem or "")
    assert fx.usd_rate(broken, "EUR", date(2026, 1, 1)).reason == fx.RATE_TABLE_UNREADABLE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,currency\n2026-01-01,EUR\n", "missing column(s) usd_rate"),
        ("date,currency,usd_rate\n2026-01-01,EUR,1.1\n2026-13-01,EUR,1.1\n", "line 3"),
        ("date,currency,usd_rate\n2026-01-01,EURO,1.1\n", "line 2"),
        ("date,currency,usd_rate\n2026-01-01,EUR,0\n", "positive usd_rate"),
        ("date,currency,usd_rate\n2026-01-01,EUR,inf\n", "line 2"),
        ("date,currency,usd_rate\n2026-01-01,EUR,1.1\n2026-01-01,eur,1.2\n", "two rates"),
    ],
)
def test_a_bad_table_is_refused_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(text)
    with pytest.raises(fx.RateTableError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fx.read_rates(path)


def test_the_shipped_sample_table_reads() -> None:
    shipped = fx.read_rates(PROJECT_ROOT / "data" / "reference" / "fx_rates.csv")
    assert {"EUR", "GBP", "JPY"} <= set(shipped.table["currency"])
    assert shipped.problem is None


IMPORTS = pd.DataFrame(
    [
        ("a", "shop", datetime(2026, 1, 20, tzinfo=UTC)),
        ("b", "shop", datetime(2026, 2, 3, tzinfo=UTC)),
    ],
    columns=["import_id", "source", "created_at"],
)
LISTINGS = pd.DataFrame(
    [
        ("a", 1, "L40S", "EUR", 7000.0, 48.0, 80.0, True),
        ("a", 2, "L40S", "EUR", 8000.0, 48.0, 70.0, True),
        ("b", 1, "L40S", "EUR", 7500.0, 48.0, 80.0, True),
        ("a", 3, "L40S", "USD", 8500.0, 48.0, 60.0, True),
        ("b", 2, "L40S", "JPY", 1_200_000.0, 48.0, 60.0, True),
    ],
    columns=["import_id", "import_index", "canonical_model", "currency", "price", "vram_gb"]
    + ["score", "is_gpu"],
)


def test_market_stats_keep_each_currency_and_add_usd_at_the_newest_import_day(
    rates: fx.Rates,
) -> None:
    stats = model_market_stats(LISTINGS, IMPORTS, rates).set_index("currency")
    assert sorted(stats.index) == ["EUR", "JPY", "USD"]  # never mixed into one figure
    eur = stats.loc["EUR"]
    assert (eur["median_price"], eur["min_price"], eur["max_price"]) == (7500.0, 7000.0, 8000.0)
    # the newest import with EUR rows is b (3 February): February's rate
    assert (eur["usd_rate"], eur["usd_rate_date"], eur["usd_reason"]) == (
        1.20,
        date(2026, 2, 1),
        None,
    )
    assert (eur["median_price_usd"], eur["min_price_usd"], eur["max_price_usd"]) == (
        9000.0,
        8400.0,
        9600.0,
    )
    assert stats.loc["USD", "median_price_usd"] == 8500.0
    jpy = stats.loc["JPY"]
    assert pd.isna(jpy["median_price_usd"]) and jpy["usd_reason"] == fx.CURRENCY_NOT_IN_TABLE
    plain = model_market_stats(LISTINGS, rates=rates).set_index("currency")
    assert plain.loc["EUR", "usd_reason"] == fx.NO_DATE  # no import times: no guess either
    assert plain.loc["EUR", "median_price"] == 7500.0


def test_movements_price_each_median_at_its_own_import_day(rates: fx.Rates) -> None:
    moves = price_movements(LISTINGS, IMPORTS, rates)
    eur = moves.loc[(moves["currency"] == "EUR") & (moves["source"] == "*")].iloc[0]
    assert (eur["previous_median_price"], eur["median_price"], eur["abs_change"]) == (
        7500.0,
        7500.0,
        0.0,
    )
    assert (eur["previous_usd_rate"], eur["previous_usd_rate_date"]) == (1.10, date(2026, 1, 1))
    assert (eur["usd_rate"], eur["usd_rate_date"]) == (1.20, date(2026, 2, 1))
    # no move in euros, a move in dollars: the currency's own
    assert (eur["previous_median_price_usd"], eur["median_price_usd"]) == (8250.0, 9000.0)
    assert eur["abs_change_usd"] == 750.0


def test_diff_items_compare_in_usd_across_currencies(rates: fx.Rates) -> None:
    items = [
        {"price": 1100.0, "currency": "USD", "previous_price": 1000.0, "previous_currency": "EUR"},
        {"price": 900.0, "currency": "EUR", "previous_price": None, "previous_currency": None},
        {"price": None, "currency": "GBP", "previous_price": 10.0, "previous_currency": "GBP"},
    ]
    out = diff_items_in_usd(items, rates, datetime(2026, 2, 2), datetime(2026, 1, 20))
    switched, new, gone = (o["usd"] for o in out)
    assert (switched["price"], switched["previous_price"], switched["price_change"]) == (
        1100.0,
        1100.0,
        0.0,
    )
    assert (switched["rate"], switched["previous_rate"]) == (1.0, 1.10)
    assert switched["previous_rate_date"] == date(2026, 1, 1)
    assert (new["price"], new["rate_date"], new["previous_price"]) == (
        1080.0,
        date(2026, 2, 1),
        None,
    )
    assert new["previous_reason"] is None  # nothing to convert, nothing missing
    assert gone["previous_price"] == 13.0 and gone["price"] is None
    # no rate on or before 14 January for GBP: null with the reason, not the 15 January rate
    early = diff_items_in_usd(items[2:], rates, None, date(2026, 1, 14))[0]["usd"]
    assert early["previous_price"] is None
    assert early["previous_reason"] == fx.NO_RATE_ON_OR_BEFORE
