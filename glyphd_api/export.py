"""CSV export of an import's listings, safe to open in a spreadsheet.

Titles come from strangers' scrapes: a cell such as ``=HYPERLINK(...)`` or ``@SUM(...)`` would
run as a formula in Excel, LibreOffice or Google Sheets. Every text cell whose first character
(or first after leading blanks) is one of ``= + - @`` or a tab / carriage return is written with
a leading ``'``, which spreadsheets show as text (OWASP "CSV injection"). Numbers stay numbers.
The database keeps the exact text; only the export is neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from glyph_assets.store import pages
from glyph_assets.store.db import Engine

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = list(pages.LISTING_KEYS)
BATCH_ROWS = 5000


def neutralise(value: Any) -> Any:
    """A cell as a spreadsheet will only ever show it as text (strings only; numbers pass)."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_PREFIXES) or value.lstrip(" \t\r\n").startswith(
        FORMULA_PREFIXES[:4]
    ):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralise(value)


def csv_rows(engine: Engine, import_id: str, batch: int = BATCH_ROWS) -> Iterator[bytes]:
    """The header, then the import's listings in import_index order, a batch at a time (memory
    stays at one batch however large the import is)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for rows in pages.listing_batches(engine, import_id, batch):
        for row in rows:
            writer.writerow([_cell(v) for v in row])
        data = buffer.getvalue()
        if data:
            yield data.encode("utf-8")
            buffer.seek(0)
            buffer.truncate()


__all__ = ["EXPORT_COLUMNS", "FORMULA_PREFIXES", "csv_rows", "neutralise"]
