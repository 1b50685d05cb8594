"""What each file of the bad-input corpus (tests/fixtures/bad_inputs) must come to, and the
independent reading of the accepted ones: shared by the bad-input suite, which checks every file
through the API, and the fault suite, which uploads them all at once.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.support.reliability import BAD_INPUTS

# name -> the problems (substrings) the 422 must list, all of them.
REJECTED: dict[str, list[str]] = {
    "reject_empty.csv": ["the file is empty"],
    "reject_whitespace_only.csv": ["the file is empty"],
    "reject_header_only.csv": ["header but no data rows"],
    "reject_header_only_blank_lines.csv": ["header but no data rows"],
    "reject_binary.png": ["binary"],
    "reject_binary_zip.csv": ["binary"],
    "reject_no_title.csv": ["listing title"],
    "reject_no_price.csv": ["the price"],
    "reject_no_title_no_price.csv": ["listing title", "the price"],
    "reject_invalid.json": ["invalid JSON"],
    "reject_wrong_shape.json": ["JSON must be an array of objects"],
    "reject_empty_list.json": ["no header and no data rows"],
    "reject_list_of_numbers.json": ["listing title", "the price"],
}

# name -> (data rows, {import_index (1-based): (field, reason substring)}) of the row errors.
PARTIAL: dict[str, tuple[int, dict[int, tuple[str, str]]]] = {
    "partial_titles.csv": (
        5,
        {
            2: ("title", "title is empty"),
            3: ("title", "title is empty"),
            5: ("title", "title is empty"),
        },
    ),
    "partial_prices.csv": (
        7,
        {
            1: ("price", "price is missing"),
            2: ("price", "price is zero"),
            3: ("price", "price is negative"),
            4: ("price", "price is not a number: call for price"),
            6: ("price", "price is zero"),
            7: ("price", "price is negative"),
        },
    ),
    "partial_ragged.csv": (
        4,
        {
            2: ("row", "row has 6 fields, the header has 4"),
            3: ("row", "row has 2 fields, the header has 4"),
        },
    ),
    "partial_nul.csv": (
        3,
        {2: ("title", "contains NUL bytes"), 3: ("seller", "contains NUL bytes")},
    ),
    "partial_long_fields.csv": (
        4,
        {
            1: ("title", "longer than 4096 characters"),
            2: ("seller", "longer than 4096 characters"),
            3: ("price", "longer than 4096 characters"),
        },
    ),
    "partial_json_types.json": (
        9,
        {
            2: ("title", "field 'title' is a JSON object, expected text"),
            3: ("price", "field 'price' is a JSON array, expected text or a number"),
            4: ("row", "row is a JSON text"),
            5: ("row", "row is a JSON number"),
            6: ("row", "row is a JSON null"),
            8: ("title", "field 'title' is a JSON boolean, expected text"),
            9: ("price", "price is missing"),
        },
    ),
    "partial_scored.csv": (
        7,
        {
            4: ("score", "score is not a number"),
            5: ("vram_gb", "vram_gb is not a number"),
            6: ("canonical_model", "not in the registry"),
        },
    ),
}

# name -> how Python's csv module reads the same bytes (the independent reference).
ACCEPTED: dict[str, dict[str, Any]] = {
    "ok_bom.csv": {"encoding": "utf-8-sig"},
    "ok_crlf.csv": {},
    "ok_cp1252.csv": {"encoding": "cp1252", "prices": [2100.0, 650.0]},
    "ok_latin1.csv": {"encoding": "latin-1"},
    "ok_semicolon.csv": {"delimiter": ";"},
    "ok_tab.tsv": {"delimiter": "\t"},
    "ok_tab_named_csv.csv": {"delimiter": "\t"},
    "ok_quoted.csv": {},
    "ok_header_case.csv": {},
    "ok_extra_columns.csv": {},
    "ok_text_prices.csv": {"prices": [2100.0, 2100.0, 2100.0, 1999.0, 1799.0, 2099.5]},
    "ok_duplicates.csv": {},
    "ok_unicode.csv": {},
    "ok_injection.csv": {},
}
CURRENCIES = {
    "ok_text_prices.csv": ["USD", "USD", "USD", "EUR", "GBP", "USD"],
    "ok_cp1252.csv": ["EUR", "USD"],
}


def reference_rows(name: str) -> list[dict[str, str]]:
    """The file read by Python's csv module with the declared encoding and delimiter."""
    how = ACCEPTED[name]
    text = (BAD_INPUTS / name).read_bytes().decode(how.get("encoding", "utf-8"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=how.get("delimiter", ","))
    header = [h.strip().lower() for h in next(reader)]
    return [dict(zip(header, row, strict=True)) for row in reader if row]
