"""The documented listing reads are served by an index, never by reading an import (or the
warehouse) row by row: their plans, on SQLite (``EXPLAIN QUERY PLAN``) and on PostgreSQL
(``EXPLAIN``), for the statements the API runs (``store.pages``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, Select, event

from glyph_assets.store import pages
from glyph_assets.store.db import migrate
from tests.support import pg

IMPORT_ID = "00000000-0000-4000-8000-000000000316"


@dataclass(frozen=True)
class Shape:
    """One documented read: its filter, its sort, the index that must serve its page (under
    either name: SQLite names a unique constraint's index itself)."""

    name: str
    filters: pages.ListingFilters
    sort: str
    index: str | tuple[str, ...]
    keyset: bool = False

    @property
    def indexes(self) -> tuple[str, ...]:
        return (self.index,) if isinstance(self.index, str) else self.index


SHAPES = [
    Shape(
        "an import's page of one model",
        pages.ListingFilters(import_id=IMPORT_ID, models=["RTX_4090"]),
        "import_index",
        "ix_listings_import_model",
    ),
    Shape(
        "an import's best first above a score",
        pages.ListingFilters(import_id=IMPORT_ID, min_score=20.0),
        "-score",
        "ix_listings_import_score_desc",
    ),
    Shape(
        "an import's keyset page",
        pages.ListingFilters(import_id=IMPORT_ID),
        "import_index",
        ("uq_listings_import_row", "sqlite_autoindex_listings_1"),
        keyset=True,
    ),
    Shape(
        "a vendor's listings above a score, best first",
        pages.ListingFilters(vendor="AMD", min_score=20.0),
        "-score",
        "ix_listings_vendor_score",
    ),
    Shape(
        "a model's listings best first",
        pages.ListingFilters(models=["RTX_4090"]),
        "-score",
        "ix_listings_model_score",
    ),
    Shape(
        "a model's listings above a score",
        pages.ListingFilters(models=["RTX_4090"], min_score=20.0),
        "-score",
        "ix_listings_model_score",
    ),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield migrate(f"sqlite:///{tmp_path_factory.mktemp('plans') / 'glyph.db'}")
        return
    pg.require_postgres()
    with pg.fresh_databases("glyph_plans") as databases:
        yield migrate(databases.database_url)


def plan(engine: Engine, query: Select, values: dict[str, Any]) -> str:
    """The database's plan of ``query`` run with ``values``: the statement is executed as the
    API executes it (same compilation, same binds), with ``EXPLAIN`` put before it."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "

    def explain(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> Any:
        return prefix + statement, parameters

    with engine.connect() as conn:
        if postgres:
            # The tables are empty here: forbid the sequential scan a planner would rightly
            # pick for them, so the plan shows whether an index can serve the statement.
            conn.exec_driver_sql("SET enable_seqscan = off")
        event.listen(conn, "before_cursor_execute", explain, retval=True)
        try:
            rows = conn.execute(query, values).cursor.fetchall()
        finally:
            event.remove(conn, "before_cursor_execute", explain)
    return "\n".join(str(row[0] if postgres else row[-1]) for row in rows)


def _queries(shape: Shape) -> list[Select]:
    clauses = shape.filters.clauses()
    one_import = bool(shape.filters.import_id)
    page = pages.listing_page_query(clauses, shape.sort, one_import, shape.keyset)
    bounded = pages.bounded_count_query(clauses)
    return [page, pages.listing_count_query(clauses), bounded]


def _indexed(found: str) -> bool:
    """The plan reads listings through an index, and never the table row by row."""
    scans = "SCAN listings" in found or "Seq Scan on listings" in found
    return not scans and (
        "USING INDEX" in found
        or "USING COVERING INDEX" in found
        or ("Index" in found and " on listings" in found)
    )


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_a_documented_read_is_served_by_its_index(engine: Engine, shape: Shape) -> None:
    values = {"limit": 100, "offset": 0, "after_index": 5000, "at_most": 10_100}
    page, count, bounded = (plan(engine, query, values) for query in _queries(shape))
    assert _indexed(page) and _indexed(count) and _indexed(bounded), (page, count, bounded)
    assert any(index in page for index in shape.indexes), page
    if engine.dialect.name == "sqlite":  # the index gives the page's order: nothing is sorted
        assert "TEMP B-TREE" not in page, page
        assert "TEMP B-TREE" not in bounded, bounded
