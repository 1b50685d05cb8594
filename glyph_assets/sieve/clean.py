"""Clean: map any header dialect to glyph's columns and parse text values into typed fields.

A row that cannot be cleaned gets ``error_stage='clean'`` with the field and the reason; it is
never dropped, and it never stops the import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from glyph_assets.sieve.columns import (
    CLEAN_COLUMNS,
    ERROR_COLUMN,
    ERROR_COLUMNS,
    FIRST_INDEX,
    INDEX_COLUMN,
    SCORED_REQUIRED,
    header_key,
    map_headers,
)

DEFAULT_MAX_FIELD_CHARS = 4096
FIELD_NAME_CHARS = 100  # row_errors.field is VARCHAR(100); a header may be longer

# The characters ``str.strip`` removes (``str.isspace``), for Arrow's trim to remove the same.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def empty_as_null(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Arrow text with "" as null: an empty cell is a missing one."""
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def stripped_or_null(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Arrow text stripped as ``str.strip`` strips it, empty or missing as null."""
    return empty_as_null(pc.utf8_trim(text, characters=PYTHON_WHITESPACE))


CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
CURRENCY_CODES = ("USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CNY", "HKD", "SGD", "INR", "CHF")
_CODE_RE = re.compile(r"\b(" + "|".join(CURRENCY_CODES) + r")\b", re.IGNORECASE)
_CURRENCY_FROM_HEADER = re.compile(r"_(usd|eur|gbp|cad|aud|jpy|cny)$")
_NUMBER_RE = re.compile(r"-?\d[\d,. ]*")

CONDITION_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("for_parts", re.compile(r"for parts|not working|as[- ]is|defective|broken|faulty", re.I)),
    ("open_box", re.compile(r"open[- ]?box", re.I)),
    ("refurbished", re.compile(r"refurb|renewed|recertified|reconditioned", re.I)),
    ("used", re.compile(r"used|pre[- ]?owned|second[- ]?hand|pulled|pull\b|tested", re.I)),
    ("new", re.compile(r"\bnew\b|sealed|brand new|nib|bnib|retail", re.I)),
]

_OUT_OF_STOCK = re.compile(
    r"out of stock|unavailable|sold out|backorder|back-ordered|discontinued|no stock", re.I
)
_LOT_RE = re.compile(
    r"(?:lot|pack|set|bundle|qty)\s*(?:of)?\s*:?\s*(\d{1,4})|\b(\d{1,3})\s*(?:pcs|pieces|units)\b",
    re.I,
)
# A lot the price is for: "Lot of 4", "pack of 2", "4pcs", "2x RTX 3090" at the start. Not "qty 10"
# or "10 units" (stock on offer, priced per unit) and not a trailing "x2" (FirePro S7150 x2 is a
# card). A lot of 2..99 divides the price; ``unit_price`` is the price of one card. Three digits
# after a lot word are a model number ("Bundle 580 + Ryzen"), not a lot size.
_PRICED_LOT_RE = re.compile(
    r"\b(?:lot|pack|set|bundle)\s*(?:of)?\s*:?\s*(\d{1,2})\b"
    r"|\b(\d{1,2})\s*(?:pcs|pieces)\b"
    r"|^\W*(\d{1,2})\s?[x×]\s+(?=[^\W\d_])",
    re.I,
)
_PRICED_LOT_WORDS = r"(?i)lot|pack|set|bundle|pcs|pieces|^\W*\d{1,2}\s?[x×]\s"


def map_distinct(
    values: pd.Series, parse: Callable[[pd.Series], Any]
) -> pd.Series | tuple[pd.Series, ...]:
    """Apply a vectorised parser to the distinct values only (real files repeat them a lot).

    ``parse`` gets them as an object Series, missing values (if any) as one trailing None, and
    returns a Series (or a tuple of them) of the same length; each row takes its value's
    result. Without a missing value ``parse`` sees what the whole column holds, so a parser
    that infers its dtype (``pd.to_numeric``) infers the one it would from every row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # one object array in C (iterating Arrow-backed uniques in Python cost ~1 µs a value)
    distinct = np.asarray(uniques, dtype=object)
    missing = codes < 0
    if missing.any():
        distinct = np.append(distinct, None)
        codes = np.where(missing, len(uniques), codes)
    parsed = parse(pd.Series(distinct, dtype=object))

    def take(series: pd.Series) -> pd.Series:
        # the array's own take: a nullable column (Int64) is not rebuilt from Python objects
        return pd.Series(series.array.take(codes), index=values.index, dtype=series.dtype)

    if isinstance(parsed, tuple):
        return tuple(take(part) for part in parsed)
    return take(parsed)


def missing_required(columns: list[str], kind: str = "raw") -> list[str]:
    """File-level problems: no column can serve as the title or the price (raw uploads), or a
    scored upload lacks one of ``SCORED_REQUIRED`` (it needs no title)."""
    mapping = map_headers(columns)
    problems = []
    if kind == "scored":
        keys = {header_key(c) for c in columns}
        missing = [c for c in SCORED_REQUIRED if c not in keys and c not in mapping]
        if missing:
            problems.append(
                "a scored upload needs the columns "
                + ", ".join(SCORED_REQUIRED)
                + "; missing: "
                + ", ".join(missing)
            )
        return problems
    if "title" not in mapping:
        problems.append("no column can serve as the listing title (expected e.g. title, model)")
    if "price" not in mapping:
        problems.append("no column can serve as the price (expected e.g. price, price_usd)")
    return problems


def parse_price(values: pd.Series, default_currency: str = "USD") -> tuple[pd.Series, pd.Series]:
    """Parse '$12,490.00', 'USD 899', '1299.00 USD', '1.299,00 €' into (amount, currency)."""
    amount = pd.to_numeric(values, errors="coerce").astype(float)
    currency = pd.Series(default_currency, index=values.index, dtype=object)
    rest = amount.isna() & values.notna()
    if rest.any():
        text = pa.array(values[rest].to_numpy(dtype=object), type=pa.string())
        hit, number, symbol = _plain_prices(text, default_currency)
        plain = values.index[rest.to_numpy()][hit]
        amount[plain], currency[plain] = number[hit], symbol[hit]
        rest[plain] = False
    if rest.any():  # only text that is not a plain number goes through the patterns
        amount[rest], currency[rest] = _parse_price_text(values[rest], default_currency)
    return amount, currency.where(amount.notna(), None)


# "$911.57", "1,299.00", "899": an optional currency symbol and a plain number (thousands
# separated by commas or not), the usual shapes of a scraped price, read in one Arrow pass. It
# is what ``_parse_price_text`` makes of such text, one value at a time.
_PLAIN_PRICE = (
    "^(?P<symbol>[" + "".join(CURRENCY_SYMBOLS) + r"]?)"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)$"
)
_SYMBOLS = ["", *CURRENCY_SYMBOLS]
_BARE_NUMBER = r"^\d+(?:\.\d+)?$"  # the shape of ``_PLAIN_PRICE`` without symbol or commas


def _plain_prices(
    text: pa.Array, default_currency: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which values have the ``_PLAIN_PRICE`` shape, and their amounts and currencies (NaN and
    None elsewhere). Bare numbers ("899.00", most of a scrape) are picked out by a match alone
    and cast; only the others are taken apart (a regex that captures costs several times one
    that only matches)."""
    amount = np.full(len(text), np.nan)
    currency = np.full(len(text), None, dtype=object)
    bare = pc.fill_null(pc.match_substring_regex(text, _BARE_NUMBER), False)
    bare = bare.to_numpy(zero_copy_only=False)
    amount[bare] = pc.cast(text.filter(bare), pa.float64()).to_numpy(zero_copy_only=False)
    others = np.flatnonzero(~bare)
    found = pc.extract_regex(text.take(others), _PLAIN_PRICE)
    hit = pc.is_valid(found).to_numpy(zero_copy_only=False)
    numbers = pc.replace_substring(found.field("number").filter(hit), ",", "")
    amount[others[hit]] = pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False)
    names = np.array([default_currency, *CURRENCY_SYMBOLS.values()], dtype=object)
    symbol = pc.index_in(found.field("symbol").filter(hit), value_set=pa.array(_SYMBOLS))
    currency[bare] = default_currency
    currency[others[hit]] = names[symbol.to_numpy(zero_copy_only=False)]
    bare[others[hit]] = True
    # beyond a float's range (309 digits) the cast gives inf: left to the general rule, which
    # reads no number there
    beyond = bare & ~np.isfinite(amount)
    amount[beyond], currency[beyond], bare[beyond] = np.nan, None, False
    return bare, amount, currency


def parse_prices(text: pd.Series, default_currency: str = "USD") -> tuple[pd.Series, pd.Series]:
    """``parse_price`` of a whole text column (missing values stay missing): the plain shapes
    (nearly every scraped price) in one Arrow pass, the rest once per distinct value. Prices
    rarely repeat, so factorizing the column first cost more than the parse it saved."""
    arrow = pa.array(text, type=pa.string())
    if isinstance(arrow, pa.ChunkedArray):  # an Arrow-backed column may hold several chunks
        arrow = arrow.combine_chunks()
    hit, amount, currency = _plain_prices(arrow, default_currency)
    rest = ~hit & text.notna().to_numpy()
    if rest.any():
        parsed, named = map_distinct(text[rest], lambda v: parse_price(v, default_currency))
        amount[rest] = parsed.to_numpy(dtype=float, na_value=np.nan)
        currency[rest] = named.to_numpy(dtype=object)
    return (
        pd.Series(amount, index=text.index, dtype=float),
        pd.Series(currency, index=text.index, dtype=object),
    )


def _parse_price_text(values: pd.Series, default_currency: str) -> tuple[pd.Series, pd.Series]:
    text = values.astype(str).str.strip()
    currency = pd.Series(default_currency, index=values.index, dtype=object)
    code = text.str.extract(_CODE_RE, expand=False).str.upper()
    currency = currency.where(code.isna(), code)
    for symbol, name in CURRENCY_SYMBOLS.items():
        has = text.str.contains(symbol, regex=False)
        currency = currency.where(~has | code.notna(), name)
    number = text.str.extract(r"(-?\d[\d,. ]*)", expand=False).fillna("").str.replace(" ", "")
    negative = text.str.match(r"^\s*(?:-|\(|[^\d]*-)")
    number = number.str.lstrip("-")
    # A comma followed by one or two digits at the end is a decimal comma (1.299,00).
    decimal_comma = number.str.match(r"^\d{1,3}(\.\d{3})*,\d{1,2}$")
    number = number.where(~decimal_comma, number.str.replace(".", "").str.replace(",", "."))
    number = number.where(decimal_comma, number.str.replace(",", ""))
    amount = pd.to_numeric(number, errors="coerce")
    amount = amount.where(~negative.fillna(False), -amount)
    return amount.astype(float), currency


def _currency_codes(values: pd.Series) -> pd.Series:
    """The currency code a currency column's text names (``USD`` in "usd", "USD $"), or NaN."""
    return values.str.upper().str.extract(_CODE_RE, expand=False).str.upper()


def normalize_condition(values: pd.Series) -> pd.Series:
    text = values.fillna("").astype(str)
    result = pd.Series(None, index=values.index, dtype=object)
    for label, pattern in CONDITION_PATTERNS:
        hit = text.str.contains(pattern) & result.isna()
        result = result.mask(hit, label)
    return result


_LOT_WORDS = r"(?i)lot|pack|set|bundle|qty|pcs|pieces|units"


def _lot_size(titles: pd.Series) -> pd.Series:
    sizes = pd.Series(np.nan, index=titles.index, dtype="Float64")
    text = titles.astype("string[pyarrow]")
    candidates = text.str.contains(_LOT_WORDS, regex=True).fillna(False).astype(bool)
    if candidates.any():  # the pattern runs only where a lot word appears at all
        found = text[candidates].astype(object).str.extract(_LOT_RE)
        lots = pd.to_numeric(found[0].where(found[0].notna(), found[1]), errors="coerce")
        sizes[candidates] = lots.astype("Float64")
    return sizes


def priced_lot(texts: pd.Series) -> pd.Series:
    """How many cards one price buys, by the lot phrase in the text ("Lot of 4", "4pcs", "2x
    RTX 3090"); <NA> where the text names no lot. Stock counts ("qty 10", "12") are not lots."""
    sizes = pd.Series(np.nan, index=texts.index, dtype="Float64")
    text = texts.astype("string[pyarrow]")
    candidates = text.str.contains(_PRICED_LOT_WORDS, regex=True).fillna(False).astype(bool)
    if candidates.any():  # the pattern runs only where a lot word appears at all
        found = text[candidates].astype(object).str.extract(_PRICED_LOT_RE)
        numbers = found.apply(pd.to_numeric, errors="coerce").astype(float)
        first = numbers[0].fillna(numbers[1]).fillna(numbers[2])
        sizes[candidates] = first.astype("Float64")
    return sizes


def unit_prices(price: pd.Series, title_lot: pd.Series, quantity_lot: pd.Series) -> pd.Series:
    """Price of one card: the price divided by the lot it buys (the title's lot phrase first,
    then a lot phrase in the quantity column), the price itself when no lot of 2+ is named."""
    lot = title_lot.fillna(quantity_lot).astype("Float64")
    divide = (lot >= 2).fillna(False).astype(bool).to_numpy()
    values = pd.to_numeric(price, errors="coerce").astype(float).to_numpy(copy=True)
    values[divide] = values[divide] / lot.to_numpy(dtype=float, na_value=np.nan)[divide]
    return pd.Series(values, index=price.index, dtype=float)


def parse_quantity(values: pd.Series) -> pd.Series:
    """Units on offer: numbers and 'Lot of 4' as counts, out-of-stock words as 0, else unknown."""
    text = values.fillna("").astype(str).str.strip()
    quantity = pd.to_numeric(text.str.replace(",", ""), errors="coerce")
    quantity = quantity.where(quantity.isna() | ((quantity >= 0) & (quantity < 1e9)), np.nan)
    found = text.str.extract(_LOT_RE)
    lot = pd.to_numeric(found[0].where(found[0].notna(), found[1]), errors="coerce")
    quantity = quantity.fillna(lot)
    quantity = quantity.mask(quantity.isna() & text.str.contains(_OUT_OF_STOCK), 0)
    return quantity.round().astype("Int64")


class _Strings:
    """Arrow-backed string views of a raw chunk, converted once per column."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._cache: dict[str, pd.Series] = {}

    def __getitem__(self, column: str) -> pd.Series:
        if column not in self._cache:
            self._cache[column] = self.frame[column].astype("string[pyarrow]")
        return self._cache[column]


def _text(strings: _Strings, mapping: dict[str, str], column: str) -> pd.Series:
    source = mapping.get(column)
    if source is None:
        return pd.Series(pd.NA, index=strings.frame.index, dtype="string[pyarrow]")
    stripped = strings[source].str.strip()
    return stripped.mask(stripped == "")  # Arrow-backed: no per-value Python objects


class _RowErrors:
    """Each row's first error (stage, field, reason), as arrays: a later check never overwrites
    it. The rows still free of errors are kept as a mask rather than found again each check."""

    def __init__(self, rows: int) -> None:
        self.stage = np.full(rows, None, dtype=object)
        self.field = np.full(rows, None, dtype=object)
        self.reason = np.full(rows, None, dtype=object)
        self.free = np.ones(rows, dtype=bool)

    def add(
        self, mask: pd.Series, field: str, reason: str | pd.Series, stage: str = "clean"
    ) -> None:
        """Record ``reason`` for the ``mask`` rows still free of errors (a Series ``reason``
        holds one per row of the mask, or at least one per such row, by label)."""
        todo = self.free & mask.to_numpy(dtype=bool, na_value=False)
        if not todo.any():
            return
        self.stage[todo] = stage
        self.field[todo] = field
        if isinstance(reason, pd.Series):
            self.reason[todo] = reason.reindex(mask.index[todo]).to_numpy(dtype=object)
        else:
            self.reason[todo] = reason
        self.free &= ~todo

    def columns(self, index: pd.Index) -> dict[str, pd.Series]:
        """``error_stage``, ``error_field``, ``error_reason`` on the chunk's ``index``."""
        arrays = {"error_stage": self.stage, "error_field": self.field}
        arrays["error_reason"] = self.reason
        return {
            name: pd.Series(values, index=index, dtype=object) for name, values in arrays.items()
        }


def _raw_rows(frame: pd.DataFrame, mask: pd.Series) -> pd.Series:
    originals = [c for c in frame.columns if c not in (INDEX_COLUMN, ERROR_COLUMN)]
    raw = pd.Series(None, index=frame.index, dtype=object)
    if mask.any():
        subset = frame.loc[mask, originals].astype(object)
        subset = subset.where(subset.notna(), None)
        raw.loc[mask] = pd.Series(
            [
                json.dumps(dict(zip(originals, values, strict=True)), ensure_ascii=False)
                for values in subset.to_numpy().tolist()
            ],
            index=subset.index,
            dtype=object,
        )
    return raw


def clean(
    raw: pd.DataFrame,
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
    require_title: bool = True,
) -> pd.DataFrame:
    """Raw string rows (any dialect) -> CLEAN_COLUMNS + ERROR_COLUMNS, one row per input row.

    ``require_title=False`` for already-scored rows, which name their model instead."""
    mapping = map_headers(list(raw.columns))
    strings = _Strings(raw)
    out = pd.DataFrame(index=raw.index)
    if INDEX_COLUMN in raw.columns:
        out["import_index"] = raw[INDEX_COLUMN].astype("int64")
    else:
        out["import_index"] = np.arange(FIRST_INDEX, FIRST_INDEX + len(raw), dtype="int64")
    for column in CLEAN_COLUMNS:
        if column not in (
            "import_index",
            "price",
            "currency",
            "quantity",
            "unit_price",
            "condition",
        ):
            out[column] = _text(strings, mapping, column)

    price_text = _text(strings, mapping, "price")
    header_currency = None
    if "price" in mapping:
        match = _CURRENCY_FROM_HEADER.search(header_key(mapping["price"]))
        header_currency = match.group(1).upper() if match else None
    out["price"], out["currency"] = parse_prices(price_text, header_currency or "USD")
    explicit_currency = _text(strings, mapping, "currency")
    if explicit_currency.notna().any():
        code = map_distinct(explicit_currency, _currency_codes)
        out["currency"] = out["currency"].mask(code.notna() & out["price"].notna(), code)
    out["condition"] = map_distinct(_text(strings, mapping, "condition"), normalize_condition)
    quantity_text = _text(strings, mapping, "quantity")
    quantity = map_distinct(quantity_text, parse_quantity)
    # on every row, not once per distinct title: a lot word is rare, so the Arrow test for one
    # costs less than grouping the titles (and the patterns run only where it is found)
    title_lot, title_lot_size = priced_lot(out["title"]), _lot_size(out["title"])
    lots = quantity.isna() & out["title"].notna()
    if lots.any():
        quantity = quantity.mask(lots, title_lot_size.fillna(title_lot))
    out["quantity"] = quantity.astype("Int64")
    quantity_lot = map_distinct(quantity_text, priced_lot)
    out["unit_price"] = unit_prices(out["price"], title_lot, quantity_lot)

    errors = _RowErrors(len(raw))
    if ERROR_COLUMN in raw.columns:
        read_error = raw[ERROR_COLUMN]
        errors.add(read_error.notna(), "row", read_error.astype(object), stage="read")
        # "field 'price' has a JSON list ...": the reader named the field; record it as such.
        failed = read_error.notna().to_numpy()
        if failed.any():
            named = read_error[failed].astype(str).str.extract(r"^field '([^']*)'", expand=False)
            found = named.notna().to_numpy()
            at = np.flatnonzero(failed)[found]
            errors.field[at] = named[found].str.slice(0, FIELD_NAME_CHARS).to_numpy(dtype=object)
    for column in [c for c in raw.columns if c not in (INDEX_COLUMN, ERROR_COLUMN)]:
        lengths = strings[column].str.len()
        too_long = (lengths > max_field_chars).fillna(False).astype(bool)
        reason = f"field is longer than {max_field_chars} characters"
        errors.add(too_long, column[:FIELD_NAME_CHARS], reason)
    if require_title:
        errors.add(out["title"].isna(), "title", "title is empty")
    errors.add(price_text.isna(), "price", "price is missing")
    unparsed = price_text.notna() & out["price"].isna()
    if unparsed.any():  # the reason quotes the text: built for those rows only
        quoted = price_text[unparsed].astype(str).str.slice(0, 80)
        errors.add(unparsed, "price", "price is not a number: " + quoted)
    errors.add(out["price"] == 0, "price", "price is zero")
    errors.add(out["price"] < 0, "price", "price is negative")
    errors.add(out["price"] > 1e8, "price", "price is above 100,000,000")

    columns = errors.columns(raw.index)
    columns["raw_row"] = _raw_rows(raw, pd.Series(~errors.free, index=raw.index))
    columns |= {name: out[name] for name in CLEAN_COLUMNS}
    order = CLEAN_COLUMNS + ERROR_COLUMNS
    result = pd.DataFrame({name: columns[name] for name in order}, copy=False)
    result.index = pd.RangeIndex(len(result))  # the chunk's rows from 0, as every stage expects
    return result
