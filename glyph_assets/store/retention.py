"""The reads staging retention needs: which imports ended with their rows persisted, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from glyph_assets.store.db import Engine, fetch_all
from glyph_assets.store.models import Import
from glyph_assets.store.status import PERSISTED_STATUSES


def persisted_before(engine: Engine, cutoff: datetime) -> list[str]:
    """Imports whose last run persisted their rows (succeeded or partially succeeded) and
    finished before ``cutoff``, oldest first. A retried import is queued or running again, so a
    retry in progress never appears here."""
    table = Import.__table__
    query = (
        select(table.c.import_id)
        .where(table.c.status.in_([str(s) for s in PERSISTED_STATUSES]))
        .where(table.c.finished_at.is_not(None))
        .where(table.c.finished_at < cutoff)
        .order_by(table.c.finished_at)
    )
    return [row["import_id"] for row in fetch_all(engine, query)]


__all__ = ["persisted_before"]
