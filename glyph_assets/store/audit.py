"""What the ``persisted_listings`` asset checks read back from the database for one import.

The checks (``glyph_assets/checks.py``) judge; this module only reads, in ways that stay cheap
on an import of millions of rows: indexes as NumPy arrays, samples streamed in chunks, and the
score figures from one aggregate pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, case, func, or_, select

from glyph_assets.sieve.columns import SCORE_COLUMNS
from glyph_assets.store import listing_rows
from glyph_assets.store.listing_rows import LISTINGS, of_import
from glyph_assets.store.models import Listing, RowError

SAMPLE_CHUNK_ROWS = 50_000


def stored_indexes(engine: Engine, import_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The import_index of every persisted listing and of every row error of the import."""
    found = []
    with engine.connect() as conn:
        for table in (Listing, RowError):
            values = conn.execute(
                select(table.import_index).where(of_import(import_id, table))
            ).scalars()
            found.append(np.fromiter(values, dtype=np.int64))
    return found[0], found[1]


def persisted_sample(
    engine: Engine, import_id: str, columns: Sequence[str], step: int
) -> Iterator[pd.DataFrame]:
    """The given columns of every ``step``-th persisted row in import_index order, streamed in
    chunks of ``SAMPLE_CHUNK_ROWS``."""
    names = list(columns)
    query = select(*listing_rows.columns(names)).select_from(LISTINGS).where(of_import(import_id))
    if step > 1:
        query = query.where(Listing.import_index % step == 0)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(
            query.order_by(Listing.import_index)
        )
        while batch := result.fetchmany(SAMPLE_CHUNK_ROWS):
            yield pd.DataFrame.from_records(batch, columns=names)


@dataclass
class PersistedFigures:
    """What one scan of an import's persisted rows found (one pass, not one per check)."""

    scores_outside: int
    unknown_model_rows: int
    examples: list[dict[str, object]]


def persisted_figures(engine: Engine, import_id: str) -> PersistedFigures:
    """Rows with a score outside [0, 100] (and the first ten of them) and unknown-model rows."""
    scores = listing_rows.columns(SCORE_COLUMNS)
    outside = or_(*[(c < 0) | (c > 100) for c in (s.element for s in scores)])
    unknown = Listing.reject_reason == "unknown_model"
    mine = of_import(import_id)
    with engine.connect() as conn:
        counts = conn.execute(
            select(
                func.coalesce(func.sum(case((outside, 1), else_=0)), 0),
                func.coalesce(func.sum(case((unknown, 1), else_=0)), 0),
            )
            .select_from(LISTINGS)
            .where(mine)
        ).one()
        rows = (
            conn.execute(
                select(Listing.import_index, *scores)
                .select_from(LISTINGS)
                .where(mine & outside)
                .order_by(Listing.import_index)
                .limit(10)
            ).all()
            if counts[0]
            else []
        )
    return PersistedFigures(
        scores_outside=int(counts[0]),
        unknown_model_rows=int(counts[1]),
        examples=[dict(r._mapping) for r in rows],
    )


__all__ = ["PersistedFigures", "persisted_figures", "persisted_sample", "stored_indexes"]
