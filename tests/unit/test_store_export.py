"""The CSV export reads an import's listings through the store a batch at a time."""

from __future__ import annotations

import csv
import io

import pandas as pd

from glyph_assets.settings import Settings
from glyph_assets.store import pages, repository
from glyph_assets.store.db import migrate
from glyphd_api import export

IMPORT_ID = "00000000-0000-4000-8000-000000000015"


def test_every_batch_size_exports_the_same_rows_in_import_order(glyph_env: Settings) -> None:
    engine = migrate(glyph_env.sqlalchemy_url)
    repository.create_import(
        engine, import_id=IMPORT_ID, source="t", sha256="0" * 64, size_bytes=0, kind="raw"
    )
    titles = ["RTX 4090", "=HYPERLINK(1)", "RTX 3090", "@SUM(A1)", "a", "b", "c"]
    frame = pd.DataFrame(
        {
            "import_index": [7, 1, 5, 2, 6, 3, 4],
            "title": titles,
            "is_gpu": [True] * 7,
            "reject_reason": [None] * 7,
            "error_stage": [None] * 7,
            "error_field": [None] * 7,
            "error_reason": [None] * 7,
        }
    )
    repository.replace_import_rows(engine, IMPORT_ID, [frame])
    whole = b"".join(export.csv_rows(engine, IMPORT_ID))
    for batch in (1, 3, 7):
        assert b"".join(export.csv_rows(engine, IMPORT_ID, batch=batch)) == whole
    rows = list(csv.reader(io.StringIO(whole.decode("utf-8"))))
    assert rows[0] == list(pages.LISTING_KEYS) == export.EXPORT_COLUMNS
    position = rows[0].index("import_index")
    assert [int(r[position]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6, 7]
    exported = {r[rows[0].index("title")] for r in rows[1:]}
    assert "'=HYPERLINK(1)" in exported and "'@SUM(A1)" in exported


def test_an_import_without_rows_exports_its_header_only(glyph_env: Settings) -> None:
    engine = migrate(glyph_env.sqlalchemy_url)
    body = b"".join(export.csv_rows(engine, "no-such-import"))
    assert body.decode("utf-8") == ",".join(pages.LISTING_KEYS) + "\r\n"
