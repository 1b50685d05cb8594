"""What the persisted_listings checks read back (glyph_assets.store.audit)."""

from __future__ import annotations

import pandas as pd

from glyph_assets.settings import Settings
from glyph_assets.store import audit, repository
from glyph_assets.store.db import migrate

IMPORT_ID = "00000000-0000-4000-8000-000000000016"


def test_indexes_sample_and_figures_of_one_import(glyph_env: Settings) -> None:
    engine = migrate(glyph_env.sqlalchemy_url)
    repository.create_import(
        engine, import_id=IMPORT_ID, source="t", sha256="0" * 64, size_bytes=0, kind="raw"
    )
    frame = pd.DataFrame(
        {
            "import_index": [1, 2, 3, 4, 5, 6],
            "title": ["a", "b", "c", "d", "e", "f"],
            "is_gpu": [True] * 6,
            "reject_reason": [None, "unknown_model", None, None, "unknown_model", None],
            "score": [10.0, 120.0, 50.0, -1.0, 99.0, None],
            "error_stage": [None, None, None, None, None, "normalize"],
            "error_field": [None] * 6,
            "error_reason": [None, None, None, None, None, "no price"],
        }
    )
    repository.replace_import_rows(engine, IMPORT_ID, [frame])
    listings, errors = audit.stored_indexes(engine, IMPORT_ID)
    assert sorted(listings.tolist()) == [1, 2, 3, 4, 5] and errors.tolist() == [6]
    sample = pd.concat(audit.persisted_sample(engine, IMPORT_ID, ["import_index", "title"], 2))
    assert sample["import_index"].tolist() == [2, 4]
    found = audit.persisted_figures(engine, IMPORT_ID)
    assert found.scores_outside == 2 and found.unknown_model_rows == 2
    assert [e["import_index"] for e in found.examples] == [2, 4]
