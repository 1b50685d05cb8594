"""What each file of the bad-input corpus (tests/fixtures/bad_inputs) must come to, and the
independent reading of the accepted ones: shared by the bad-input suite, which checks every file
through the API, and the fault suite, which uploads them all at once.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.support.cases import read_table
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

# name -> its data rows; the row errors each must come to are in ROW_ERRORS_TABLE.
PARTIAL_ROWS: dict[str, int] = {
    "partial_titles.csv": 5,
    "partial_prices.csv": 7,
    "partial_ragged.csv": 4,
    "partial_nul.csv": 3,
    "partial_long_fields.csv": 4,
    "partial_json_types.json": 9,
    "partial_scored.csv": 7,
}
ROW_ERRORS_TABLE = "bad_input_row_errors.csv"


def _partial() -> dict[str, tuple[int, dict[int, tuple[str, str]]]]:
    """Each partial file's data rows and its row errors, {import_index (1-based): (field, reason
    substring)}, from the table (one row per expected row error)."""
    errors: dict[str, dict[int, tuple[str, str]]] = {name: {} for name in PARTIAL_ROWS}
    for row in read_table(ROW_ERRORS_TABLE):
        errors[row["file"]][int(row["import_index"])] = (row["field"], row["reason"])
    return {name: (rows, errors[name]) for name, rows in PARTIAL_ROWS.items()}


# name -> (data rows, {import_index (1-based): (field, reason substring)}) of the row errors.
PARTIAL = _partial()

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
