"""A page of an import with a million listings is read from an index, not sorted or counted.

The default page (import_index) is served by the unique (import_key, import_index) index, the
best-first page (-score) by (import_key, score DESC, import_index), and the total of an
unfiltered page of a finished import comes from imports.persisted_rows. Measured through the
app in-process on a SQLite store of 1,000,000 rows built for the test (about 6 s).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from glyph_assets.settings import Settings
from glyph_assets.store.db import dispose_engines, migrate
from glyph_assets.store.pages import ListingFilters, order_by
from glyphd_api.app import create_app
from tests.support.stack import free_port
from tests.support.warehouse import record_import

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

IMPORT_ID = "00000000-0000-4000-8000-00000000a11e"
ROWS = 1_000_000


def fill(engine: Engine) -> None:
    """A finished import of ROWS listings; every tenth score NULL. Indexes are dropped for the
    bulk insert and built again after it (what a restore would do), to keep the test short."""
    record_import(
        engine,
        IMPORT_ID,
        source="pages",
        size_bytes=1,
        status="succeeded",
        total_rows=ROWS,
        persisted_rows=ROWS,
        error_rows=0,
    )
    with engine.begin() as conn:
        indexes = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'listings' AND sql IS NOT NULL"
            )
        ).all()
        for name, _sql in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        conn.execute(  # every row its own title (kept once in titles, migration 0015)
            text("""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :last)
                INSERT INTO titles (title_id, digest, text)
                SELECT i, CAST(printf('%016d', i) AS BLOB), 'NVIDIA L4 24GB #' || i FROM n
                """),
            {"last": ROWS},
        )
        conn.execute(
            text("""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :last)
                INSERT INTO listings (import_key, import_index, title_id, price, currency,
                                      canonical_model, is_gpu, score)
                SELECT (SELECT import_key FROM imports WHERE import_id = :import_id),
                       i, i, 1000 + (i % 5000), 'USD',
                       CASE i % 3 WHEN 0 THEN 'L4' WHEN 1 THEN 'T4' END, 1,
                       CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919 % 10000) / 100.0 END
                FROM n
                """),
            {"import_id": IMPORT_ID, "last": ROWS},  # import_index 1..ROWS
        )
        for _name, sql in indexes:
            conn.execute(text(sql))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Engine]]:
    root: Path = tmp_path_factory.mktemp("pages")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=root / "data", dagster_port=free_port()
    )
    engine = migrate(settings.sqlalchemy_url)
    if engine.dialect.name != "sqlite":
        pytest.skip("the million-row store is built with SQLite")
    fill(engine)
    with TestClient(create_app(settings)) as client:
        yield client, engine
    dispose_engines()


def timed(client: TestClient, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    client.get(f"/api/imports/{IMPORT_ID}/listings", params=params)  # warm the page cache
    times = []
    for _ in range(7):
        started = time.perf_counter()
        response = client.get(f"/api/imports/{IMPORT_ID}/listings", params=params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(times), response.json()


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 100},
        {"limit": 100, "offset": 10_000},
        {"limit": 100, "sort": "-score"},
        {"limit": 100, "after_index": 899_999},
    ],
    ids=["first page", "offset 10000", "best first", "keyset at 900000"],
)
def test_a_page_of_a_million_rows_reads_only_its_rows(
    store: tuple[TestClient, Engine], params: dict[str, Any]
) -> None:
    client, engine = store
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        median_ms, page = timed(client, params)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    print(f"{params}: median {median_ms:.1f} ms over 7 requests")
    assert page["total"] == ROWS and len(page["items"]) == 100
    assert not [s for s in statements if "count(" in s], "the total must not be counted"
    indexes = [i["import_index"] for i in page["items"]]
    if params.get("sort") == "-score":
        scores = [i["score"] for i in page["items"]]
        assert scores == sorted(scores, reverse=True) and None not in scores
    else:
        first = params.get("after_index", params.get("offset", 0)) + 1
        assert indexes == list(range(first, first + 100))
        assert page["next_after_index"] == first + 99
    # Timing is the benchmark's business (make bench): here only printed, never asserted.


@pytest.mark.parametrize("sort", ["import_index", "-score"])
def test_page_orders_are_served_by_an_index(store: tuple[TestClient, Engine], sort: str) -> None:
    """No sort step in the plan: the order comes straight from an index."""
    from sqlalchemy import select

    from glyph_assets.store.models import Listing
    from glyph_assets.store.pages import LISTING_SORTS

    _client, engine = store
    filters = ListingFilters(import_id=IMPORT_ID)
    query = (
        select(Listing.import_index)
        .where(*filters.clauses())
        .order_by(*order_by(sort, LISTING_SORTS, [Listing.import_index]))
        .limit(100)
    )
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = " | ".join(
            str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
        )
    assert "TEMP B-TREE" not in plan, plan
    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan


def test_a_filtered_page_still_counts(store: tuple[TestClient, Engine]) -> None:
    client, _engine = store
    page = client.get(
        f"/api/imports/{IMPORT_ID}/listings", params={"limit": 5, "min_score": 99.9}
    ).json()
    assert 0 < page["total"] < ROWS
    assert all(i["score"] >= 99.9 for i in page["items"])
