from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glyph_assets.sieve.clean import (
    _parse_price_text,
    clean,
    map_distinct,
    map_headers,
    parse_price,
    parse_prices,
    parse_quantity,
    priced_lot,
)
from glyph_assets.sieve.inspect import inspect_file
from glyph_assets.sieve.read import FileRejected, read_raw


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_import_index_is_position_of_data_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b"title,price\nA,1\n\nB,2\nC,3\n")
    raw = read_raw(path)
    assert list(raw["import_index"]) == [1, 2, 3]  # 1-based, as established clients count
    assert list(raw["title"]) == ["A", "B", "C"]


def test_ragged_rows_are_kept_with_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b"title,price\nA,1,extra\nB\nC,3\n")
    raw = read_raw(path)
    assert len(raw) == 3
    assert raw["_error"].notna().tolist() == [True, True, False]
    cleaned = clean(raw)
    assert cleaned["error_stage"].tolist()[:2] == ["read", "read"]
    assert cleaned["raw_row"].notna().tolist() == [True, True, False]


@pytest.mark.parametrize(
    "encoding,delimiter",
    [("utf-8-sig", ","), ("cp1252", ";"), ("latin-1", "\t"), ("utf-8", "|")],
)
def test_encodings_and_delimiters(tmp_path: Path, encoding: str, delimiter: str) -> None:
    text = f"Title{delimiter}Price (USD)\r\nCafé RTX 4090 ± 24GB{delimiter}1599\r\n"
    path = write(tmp_path, "a.csv", text.encode(encoding))
    cleaned = clean(read_raw(path))
    assert cleaned.loc[0, "title"].startswith("Caf")
    assert cleaned.loc[0, "price"] == 1599


def test_quoted_fields_with_commas_quotes_and_newlines(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b'title,price\n"RTX 3090, ""FE""\nused",700\n')
    cleaned = clean(read_raw(path))
    assert cleaned.loc[0, "title"] == 'RTX 3090, "FE"\nused'


@pytest.mark.parametrize(
    "text,amount,currency",
    [
        ("$12,490.00", 12490.0, "USD"),
        ("USD 899", 899.0, "USD"),
        ("1299.00 USD", 1299.0, "USD"),
        ("€ 7,450", 7450.0, "EUR"),
        ("1.299,00 €", 1299.0, "EUR"),
        ("£300", 300.0, "GBP"),
        ("Quote", None, None),
    ],
)
def test_parse_price(text: str, amount: float | None, currency: str | None) -> None:
    values, currencies = parse_price(pd.Series([text]))
    if amount is None:
        assert pd.isna(values[0]) and currencies[0] is None
    else:
        assert values[0] == amount and currencies[0] == currency


# Price cells as scrapes write them: text of price characters, and the plain shapes (a
# symbol or none, digits grouped by commas or not, a few decimals).
_PRICE_TEXTS = st.lists(
    st.text(alphabet="$€£¥₹0123456789.,- USDeurx", min_size=0, max_size=12)
    | st.from_regex(r"[$€£¥₹]?\d{1,3}(,\d{3}){0,3}(\.\d{1,3})?", fullmatch=True)
    | st.from_regex(r"[$€£¥₹]?\d{1,9}(\.\d{1,4})?", fullmatch=True),
    min_size=1,
    max_size=20,
)
_HEADER_CURRENCIES = st.sampled_from(["USD", "EUR"])


@settings(max_examples=200, deadline=None)
@given(texts=_PRICE_TEXTS, header_currency=_HEADER_CURRENCIES)
def test_plain_prices_read_as_the_general_rule_reads_them(
    texts: list[str], header_currency: str
) -> None:
    """The one-pass Arrow reading of prices shaped like "$911.57" or "1,299" gives what the
    general text rule gives each value."""
    values = pd.Series(texts, dtype=object)
    amounts, currencies = parse_price(values, header_currency)
    numeric = pd.to_numeric(values, errors="coerce")
    text = values[numeric.isna()]
    expected_amounts, expected_currencies = _parse_price_text(text, header_currency)
    pd.testing.assert_series_equal(
        amounts[text.index], expected_amounts, check_names=False, check_dtype=False
    )
    found = expected_currencies.where(expected_amounts.notna(), None)
    assert currencies[text.index].tolist() == found.tolist()


@settings(max_examples=200, deadline=None)
@given(texts=_PRICE_TEXTS, header_currency=_HEADER_CURRENCIES)
def test_a_column_of_prices_reads_as_each_distinct_value_reads(
    texts: list[str], header_currency: str
) -> None:
    """``parse_prices`` reads the plain shapes of a whole column in one Arrow pass; every value
    gets what ``parse_price`` gives it alone, an empty cell stays missing."""
    column = pd.Series(texts, dtype="string[pyarrow]", index=range(5, 5 + len(texts)))
    column = column.mask(column == "")
    amounts, currencies = parse_prices(column, header_currency)
    expected, named = map_distinct(column, lambda v: parse_price(v, header_currency))
    pd.testing.assert_series_equal(amounts, expected, check_names=False, check_dtype=False)
    assert currencies.tolist() == named.tolist()
    assert list(amounts.index) == list(column.index)


def test_a_plain_price_beyond_a_float_is_no_number() -> None:
    """400 digits: not read as infinity (and so "above 100,000,000"), but as no number, as the
    general rule reads it."""
    texts = pd.Series(["9" * 400, "$" + "9" * 400, "12"], dtype="string[pyarrow]")
    amounts, currencies = parse_prices(texts, "USD")
    expected, named = map_distinct(texts, lambda v: parse_price(v, "USD"))
    assert amounts.isna().tolist()[:1] == [True] and amounts.tolist()[2] == 12.0
    pd.testing.assert_series_equal(amounts, expected, check_dtype=False)
    assert currencies.tolist() == named.tolist()


def test_long_plain_prices_are_read_to_the_nearest_float() -> None:
    """A plain number is read as Python's ``float`` reads it, to the last digit."""
    texts = ["134364244112.40121", "0.093859586774234893", "1,234,567.8912345678"]
    amounts, currencies = parse_prices(pd.Series(texts, dtype="string[pyarrow]"), "EUR")
    assert amounts.tolist() == [float(t.replace(",", "")) for t in texts]
    assert currencies.tolist() == ["EUR"] * 3


def test_quantity_words() -> None:
    parsed = parse_quantity(pd.Series(["Available", "Out of Stock", "Lot of 4", "12", None]))
    assert parsed.tolist()[1:4] == [0, 4, 12]
    assert pd.isna(parsed[0]) and pd.isna(parsed[4])


def test_header_dialects() -> None:
    assert map_headers(["Model", "Price_USD", "Seller"])["title"] == "Model"
    mapping = map_headers(["model", "title", "Price (USD)", " CONDITION "])
    assert mapping["title"] == "title" and mapping["model_hint"] == "model"
    assert mapping["price"] == "Price (USD)" and mapping["condition"] == " CONDITION "


def test_row_errors_for_bad_values(tmp_path: Path) -> None:
    data = b"title,price\n,10\nA,\nB,abc\nC,0\nD,-5\nE,5\n"
    cleaned = clean(read_raw(write(tmp_path, "a.csv", data)))
    reasons = cleaned["error_reason"].tolist()
    assert reasons[:5] == [
        "title is empty",
        "price is missing",
        "price is not a number: abc",
        "price is zero",
        "price is negative",
    ]
    assert pd.isna(reasons[5])


def test_formula_and_html_titles_are_kept_as_text(tmp_path: Path) -> None:
    data = b'title,price\n=HYPERLINK("x"),5\n<b>RTX</b>\'; DROP TABLE x;--,6\n'
    cleaned = clean(read_raw(write(tmp_path, "a.csv", data)))
    assert cleaned["title"].tolist() == ['=HYPERLINK("x")', "<b>RTX</b>'; DROP TABLE x;--"]


@pytest.mark.parametrize(
    "data,problem",
    [
        (b"", "empty"),
        (b"title,price\n", "no data rows"),
        (b"\x00\x01\x02\x03" * 100, "binary"),
        (b"name_of_thing,colour\nx,y\n", "price"),
        (b"[]", "no header"),
        (b"{not json", "invalid JSON"),
    ],
)
def test_file_level_rejections(tmp_path: Path, data: bytes, problem: str) -> None:
    path = write(tmp_path, "f.json" if data[:1] in b"[{" else "f.csv", data)
    with pytest.raises(FileRejected) as info:
        inspect_file(path)
    assert problem in "; ".join(info.value.problems)


def test_inspection_takes_records_already_parsed_from_a_utf8_json_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API parses a JSON body before landing it: the landed file's inspection takes those
    records instead of parsing the file again, and parses a file in another encoding itself."""
    import glyph_assets.sieve.inspect as inspect

    body = '[{"title": "RTX 4090 24GB", "price": "1599"}, {"title": "A100 80GB", "price": 9000}]'
    records = [{"title": "RTX 4090 24GB", "price": "1599"}, {"title": "A100 80GB", "price": 9000}]
    utf8 = write(tmp_path, "a.json", body.encode("utf-8"))
    legacy = write(tmp_path, "b.json", body.replace("GB", "GB d\u00e9j\u00e0 vu").encode("cp1252"))
    parsed = []

    def load_json(path: Path, fmt: object) -> list[object]:
        parsed.append(path.name)
        return list(records)

    monkeypatch.setattr(inspect, "load_json", load_json)
    found = inspect_file(utf8, records=records)
    assert (found.rows, found.columns, parsed) == (2, ["title", "price"], [])
    assert inspect_file(utf8).rows == 2 and parsed == ["a.json"]
    assert inspect_file(legacy, records=records).rows == 2 and parsed == ["a.json", "b.json"]


def test_shopify_products_json_expands_variants(corpus: Path) -> None:
    raw = read_raw(corpus / "shopify_products_sample.json")
    cleaned = clean(raw)
    assert len(cleaned) >= 25
    assert cleaned["price"].notna().all()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["title", "price", "condition", "quantity", "Model", "x"]),
            st.one_of(st.none(), st.text(max_size=40)),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_clean_never_raises(rows: list[dict]) -> None:
    raw = pd.DataFrame(rows, dtype=object)
    result = clean(raw)
    assert len(result) == len(raw)


def _cells(frames: list[pd.DataFrame]) -> list[list[object]]:
    frame = pd.concat(frames, ignore_index=True)
    return frame.astype(object).where(frame.notna(), None).values.tolist()


@pytest.mark.parametrize(
    "data",
    [
        b'title,price\nA,1\n"B, with ""quotes""\nand a newline",2\n,,\n\nC,3\n',
        "\ufefftitle;price\nCaf\u00e9 RTX,1\nD;2\n".encode(),
        b"title,price\n" + b"".join(b"T%d,%d\n" % (i, i) for i in range(2500)),
        b"title,price\n" + b"".join(b"T%d,%d\n" % (i, i) for i in range(2500)) + b"late,1,2\n",
        b"title,price\n" + b"".join(b"T%d,%d\n" % (i, i) for i in range(1800)) + b"\xff\xfe,3\n",
        b"title\nfirst\n   \n" + b"".join(b"T%d\n" % i for i in range(2500)) + b"x,y\nlast\n",
        # Windows line ends: with small blocks, many a "\r\n" is split between two blocks
        b"title,price\r\n" + b"".join(b"T%d,%d\r\n" % (i, i * 7) for i in range(2500)),
        b"title,price\r\n" + b"".join(b'"T%d\r\nnext line",%d\r\n' % (i, i) for i in range(900)),
    ],
    ids=[
        "ragged-quoted",
        "bom-semicolon",
        "plain",
        "ragged-late",
        "not-utf8-late",
        "one-column",
        "crlf",
        "crlf-in-quotes",
    ],
)
@pytest.mark.parametrize("block_bytes", [4 << 20, 2_000], ids=["one-block", "small-blocks"])
def test_arrow_fast_path_reads_like_the_careful_reader(
    tmp_path: Path, data: bytes, block_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file as the careful reader reads it, whether Arrow's reader reads all of it, or
    stops at a row of another width (or text that is not UTF-8) after some chunks were yielded
    (small blocks) and the careful reader goes on from there."""
    from glyph_assets.sieve import read
    from glyph_assets.sieve.read import detect_format, iter_csv_chunks, iter_raw_chunks

    monkeypatch.setattr(read, "ARROW_BLOCK_BYTES", block_bytes)
    path = write(tmp_path, "a.csv", data)
    careful = list(iter_csv_chunks(path, detect_format(path), 1000))
    chunks = list(iter_raw_chunks(path, chunk_rows=1000))
    assert _cells(chunks) == _cells(careful)
    assert [len(c) for c in chunks] == [len(c) for c in careful]


def test_a_row_of_another_width_late_in_a_file_hands_over_to_the_careful_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrow's reader yields the chunks before the ragged row; the careful reader numbers the
    rest on from there, the ragged row with its error."""
    from glyph_assets.sieve import read
    from glyph_assets.sieve.read import iter_raw_chunks

    monkeypatch.setattr(read, "ARROW_BLOCK_BYTES", 2_000)
    rows = b"".join(b"T%d,%d\n" % (i, i) for i in range(2500))
    path = write(tmp_path, "a.csv", b"title,price\n" + rows + b"late\nlast,5\n")
    chunks = list(iter_raw_chunks(path, chunk_rows=1000))
    frame = pd.concat(chunks, ignore_index=True)
    assert frame["import_index"].tolist() == list(range(1, 2503))
    assert frame["_error"].notna().tolist() == [False] * 2500 + [True, False]
    assert frame["title"].tolist()[-3:] == ["T2499", "late", "last"]
    assert chunks[0]["_error"].dtype == "string[pyarrow]"  # the first ones came from Arrow


def test_ragged_file_falls_back_to_the_careful_reader(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b"title,price\nA,1\nB\n")
    assert read_raw(path)["_error"].notna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("title", "quantity", "price", "unit"),
    [
        ("Lot of 4 NVIDIA RTX 3090 24GB", None, 4000.0, 1000.0),
        ("2x RTX 3090 Founders Edition", None, 1800.0, 900.0),
        ("RTX 3070 8GB 4pcs mining pulls", None, 1200.0, 300.0),
        ("RTX 3070 8GB", "Lot of 3", 900.0, 300.0),
        ("RTX 3070 8GB", "12", 300.0, 300.0),  # 12 in stock, priced per card
        ("RTX 3070 8GB (qty 10 available)", None, 300.0, 300.0),
        ("AMD FirePro S7150 x2 16GB", None, 500.0, 500.0),  # x2 is the card's name
        ("1x HDMI 3x DP RTX 4060", None, 300.0, 300.0),
    ],
)
def test_unit_price_is_the_price_of_one_card_of_a_lot(
    tmp_path: Path, title: str, quantity: str | None, price: float, unit: float
) -> None:
    header = "title,price" + (",quantity" if quantity is not None else "")
    row = f'"{title}",{price}' + (f',"{quantity}"' if quantity is not None else "")
    cleaned = clean(read_raw(write(tmp_path, "lot.csv", f"{header}\n{row}\n".encode())))
    assert cleaned["unit_price"].iloc[0] == pytest.approx(unit)
    assert cleaned["price"].iloc[0] == price


def test_a_lot_in_the_title_sets_quantity_when_no_column_does(tmp_path: Path) -> None:
    data = (
        "title,price,qty\n2x RTX 3090 24GB,1800,\nLot of 4 RTX 3070,1200,\nRTX 3070 4pcs,1200,7\n"
    )
    cleaned = clean(read_raw(write(tmp_path, "lots.csv", data.encode())))
    assert cleaned["quantity"].tolist() == [2, 4, 7]  # a stock column wins over the title
    assert cleaned["unit_price"].tolist() == [900.0, 300.0, 300.0]


def test_three_digits_after_a_lot_word_are_a_model_not_a_lot() -> None:
    lots = priced_lot(pd.Series(["Bundle 580 8GB + Ryzen 5", "Lot of 12 RTX 3070", "set 710 GT"]))
    assert pd.isna(lots[0]) and lots[1] == 12 and pd.isna(lots[2])


def test_json_records_become_cells_field_by_field(tmp_path: Path) -> None:
    """Each field's cells whatever its mix of JSON types; a row's problems in field order."""
    path = tmp_path / "rows.json"
    path.write_text(
        '[{"title": "RTX 4090", "price": 1599.5, "quantity": 2, "nvlink": true},'
        ' {"title": 4090, "price": [1], "quantity": null, "nvlink": false},'
        ' "not an object",'
        ' {"title": "A\\u0000100", "price": "900", "seller": "shop\\u0000"}]'
    )
    frame = read_raw(path)
    # text held by Arrow, as the CSV reader's: compared with None for a missing cell
    assert all(frame[c].dtype == "string[pyarrow]" for c in frame.columns if c != "import_index")
    frame = frame.astype(object).where(frame.notna(), None)
    assert frame["import_index"].tolist() == [1, 2, 3, 4]
    assert frame["title"].tolist() == ["RTX 4090", None, None, "A100"]
    assert frame["price"].tolist() == ["1599.5", None, None, "900"]
    assert frame["quantity"].tolist() == ["2", None, None, None]
    assert frame["nvlink"].tolist() == ["true", "false", None, None]
    assert frame["seller"].tolist() == [None, None, None, "shop"]
    assert frame["_error"].tolist() == [
        None,
        "field 'title' is a JSON number, expected text; "
        "field 'price' is a JSON array, expected text or a number",
        "row is a JSON text, expected an object",
        "field 'title' contains NUL bytes; field 'seller' contains NUL bytes",
    ]
