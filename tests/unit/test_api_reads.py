"""The API's read side on a database seeded with rows whose expected figures are worked out by
hand: summaries, pages, filters, sorts, the import list and the per-model market figures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from glyph_assets.settings import Settings
from glyph_assets.store import pages
from glyph_assets.store.db import migrate
from glyphd_api.app import create_app
from glyphd_api.routes.listing_query import listing_page_json
from glyphd_api.schemas import ListingOut, ListingPage
from tests.support.reads import A, B, C, seeded_client
from tests.support.warehouse import refresh_market


@pytest.fixture
def client(glyph_env: Settings) -> Iterator[TestClient]:
    with seeded_client(glyph_env) as test_client:
        yield test_client


def test_summary_counts_come_from_the_database(client: TestClient) -> None:
    response = client.get(f"/api/imports/{A}")
    assert response.status_code == 200
    summary = response.json()
    assert response.headers["x-glyph-schema-version"] == summary["schema_version"] == "1"
    assert (summary["import_id"], summary["status"], summary["source"]) == (
        A,
        "partially_succeeded",
        "feed-a",
    )
    assert summary["total_rows"] == 10
    assert (summary["persisted_rows"], summary["error_rows"]) == (8, 2)
    assert (summary["not_gpu_rows"], summary["unknown_model_rows"]) == (1, 1)
    assert summary["score"]["min"] == 10.0 and summary["score"]["max"] == 90.0
    assert summary["score"]["mean"] == pytest.approx((10 + 90 + 55 + 70 + 20) / 5)
    assert summary["top_models"][0] == {
        "canonical_model": "H100_PCIE_80GB",
        "listings": 5,
        "min_price": 100.0,
        "max_price": 5000.0,
    }
    assert [(e["import_index"], e["field"]) for e in summary["first_errors"]] == [
        (7, "price"),
        (8, "title"),
    ]
    assert summary["runs"] == []
    assert summary["links"]["summary"] == f"/api/imports/{A}"
    assert summary["created_at"].endswith("+00:00") or summary["created_at"].endswith("Z")


def test_listings_page_filter_and_sort(client: TestClient) -> None:
    page = client.get(f"/api/imports/{A}/listings", params={"limit": 3, "offset": 2}).json()
    assert (page["total"], page["limit"], page["offset"]) == (8, 3, 2)
    assert [i["import_index"] for i in page["items"]] == [2, 3, 4]
    assert page["items"][0]["import_id"] == A

    by_model = client.get(
        f"/api/imports/{A}/listings", params={"model": "H100_PCIE_80GB", "sort": "-score"}
    ).json()
    # NULL scores sort last in either direction
    assert [i["import_index"] for i in by_model["items"]] == [1, 3, 9, 0, 2]

    scored = client.get(
        f"/api/imports/{A}/listings", params={"min_score": 50, "max_score": 80, "sort": "price"}
    ).json()
    assert [i["import_index"] for i in scored["items"]] == [4, 3]

    not_gpu = client.get(f"/api/imports/{A}/listings", params={"is_gpu": "false"}).json()
    assert [i["reject_reason"] for i in not_gpu["items"]] == ["not_gpu"]

    bad = client.get(f"/api/imports/{A}/listings", params={"sort": "title"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_sort"


def test_keyset_pages_walk_an_import_like_offset_pages(client: TestClient) -> None:
    url = f"/api/imports/{A}/listings"
    by_offset = [
        i["import_index"]
        for offset in range(0, 8, 3)
        for i in client.get(url, params={"limit": 3, "offset": offset}).json()["items"]
    ]
    by_keyset: list[int] = []
    after: int | None = -1
    while after is not None:
        page = client.get(url, params={"limit": 3, "after_index": after}).json()
        assert page["total"] == 8  # the import's total, not what is left after the key
        by_keyset += [i["import_index"] for i in page["items"]]
        after = page["next_after_index"]
    assert by_keyset == by_offset and len(by_keyset) == 8
    # Another order has no keyset: 422 rather than a silently wrong page.
    wrong = client.get(url, params={"after_index": 2, "sort": "-score"})
    assert wrong.status_code == 422 and "after_index" in wrong.json()["error"]["message"]
    across = client.get("/api/listings", params={"after_index": 2})
    assert across.status_code == 422
    scoped = client.get("/api/listings", params={"after_index": 2, "import_id": A, "limit": 3})
    after_two = by_offset[by_offset.index(2) + 1 :]
    assert [i["import_index"] for i in scoped.json()] == after_two[:3]
    # The established array carries glyph's paging in headers: the total and the next page.
    assert scoped.headers["x-total-count"] == "8"
    following = scoped.headers["x-next-after-index"]
    assert following == str(after_two[2]) and f"after_index={following}" in scoped.headers["link"]


@pytest.mark.parametrize("sort", ["import_index", "-score", "score", "price"])
def test_the_fast_import_page_answers_as_the_general_query_and_the_schema(
    client: TestClient, glyph_env: Settings, sort: str
) -> None:
    engine = migrate(glyph_env.sqlalchemy_url)
    filters = pages.ListingFilters(import_id=A)
    window = pages.ListingWindow(sort=sort, limit=4, offset=1)
    fast = pages.import_listing_page(engine, filters, window)
    general = pages.list_listings(engine, filters, window)
    assert fast == (general.items, general.total) and general.exact
    assert fast is not None and {type(i["is_gpu"]) for i in fast[0]} == {bool}
    # The page serialized without validation is exactly what the response model would give.
    raw = client.get(f"/api/imports/{A}/listings", params={"sort": sort, "limit": 4, "offset": 1})
    assert raw.json() == json.loads(ListingPage.model_validate(raw.json()).model_dump_json())
    assert raw.json()["items"] == [ListingOut.model_validate(i).model_dump() for i in fast[0]]


def test_a_missing_import_is_404_before_any_complaint_about_its_query(client: TestClient) -> None:
    missing = "00000000-0000-4000-8000-00000000dead"
    for params in ({"after_index": 1, "sort": "score"}, {"after_index": 1, "vendor": "x"}):
        response = client.get(f"/api/imports/{missing}/listings", params=params)
        assert response.status_code == 404, params
    wrong = client.get(f"/api/imports/{A}/listings", params={"after_index": 1, "sort": "score"})
    assert wrong.status_code == 422


def test_database_errors_on_the_fast_page_are_503_like_every_other_read(
    client: TestClient, glyph_env: Settings
) -> None:
    engine = migrate(glyph_env.sqlalchemy_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE listings RENAME TO listings_elsewhere")
    try:
        for params in ({}, {"vendor": "NVIDIA"}):  # the driver's cursor, and SQLAlchemy's path
            response = client.get(f"/api/imports/{A}/listings", params=params)
            assert response.status_code == 503, (params, response.text)
            assert response.json()["error"]["code"] == "database_unavailable"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE listings_elsewhere RENAME TO listings")
    assert client.get(f"/api/imports/{A}/listings").status_code == 200


def test_the_page_writer_gives_valid_json_for_non_finite_floats() -> None:
    # PostgreSQL can hold NaN and infinities in a float column; the answer stays valid JSON.
    items = [{"import_index": 0, "price": float("nan"), "score": float("inf"), "is_gpu": True}]
    body = listing_page_json(items, total=1, limit=1, offset=0, next_after_index=None)
    page = json.loads(body)
    assert page["items"] == [{"import_index": 0, "price": None, "score": None, "is_gpu": True}]
    assert page["schema_version"] and page["total"] == 1


def test_listings_across_imports_and_by_import_id(client: TestClient) -> None:
    everything = client.get("/api/listings", params={"limit": 1000})
    assert everything.headers["x-total-count"] == "11" and len(everything.json()) == 11
    assert "link" not in everything.headers  # nothing after the last page
    b200 = client.get("/api/listings", params={"model": "B200", "sort": "-price"}).json()
    assert [(i["import_id"], i["price"]) for i in b200] == [(B, 70.0), (B, 60.0), (A, 50.0)]
    only_b = client.get("/api/listings", params={"import_id": B})
    assert only_b.headers["x-total-count"] == "3" and {i["import_id"] for i in only_b.json()} == {B}
    first = client.get("/api/listings", params={"limit": 4})
    assert len(first.json()) == 4 and "offset=4" in first.headers["link"]


def test_listings_across_imports_count_only_so_far_past_the_page(glyph_env: Settings) -> None:
    """GLYPH_LISTING_COUNT_BEYOND: the 11 listings are counted at most 2 past the page, then
    the total is a lower bound (gte) that still announces the next page; near the end it is
    exact again; 0 counts every match."""
    near = glyph_env.model_copy(update={"listing_count_beyond": 2})
    with seeded_client(near) as client:
        first = client.get("/api/listings", params={"limit": 3})
        assert len(first.json()) == 3
        assert first.headers["x-total-count"] == "5"  # 3 on the page + 2 past it, at least
        assert first.headers["x-total-count-relation"] == "gte"
        assert "offset=3" in first.headers["link"]
        last = client.get("/api/listings", params={"limit": 3, "offset": 7})
        assert (last.headers["x-total-count"], last.headers["x-total-count-relation"]) == (
            "11",
            "eq",
        )
        assert len(last.json()) == 3 and "offset=10" in last.headers["link"]
        every = near.model_copy(update={"listing_count_beyond": 0})
        with TestClient(create_app(every)) as counting:
            first = counting.get("/api/listings", params={"limit": 3})
        assert (first.headers["x-total-count"], first.headers["x-total-count-relation"]) == (
            "11",
            "eq",
        )


def test_errors_page(client: TestClient) -> None:
    page = client.get(f"/api/imports/{A}/errors").json()
    assert page["total"] == 2
    assert set(page["items"][0]) >= {"import_index", "stage", "field", "reason", "raw_row"}
    titles = client.get(f"/api/imports/{A}/errors", params={"field": "title"}).json()
    assert [e["import_index"] for e in titles["items"]] == [8]
    desc = client.get(f"/api/imports/{A}/errors", params={"sort": "-import_index"}).json()
    assert [e["import_index"] for e in desc["items"]] == [8, 7]


def test_unknown_import_is_404_everywhere(client: TestClient) -> None:
    missing = "00000000-0000-4000-8000-00000000dead"
    for path in ("", "/errors", "/listings"):
        response = client.get(f"/api/imports/{missing}{path}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "import_not_found"
    assert client.post(f"/api/imports/{missing}/retry").status_code == 404


def test_import_list_filters_and_pages(client: TestClient) -> None:
    page = client.get("/api/imports").json()
    assert [i["import_id"] for i in page["items"]] == [C, B, A]  # newest first
    assert page["total"] == 3
    assert client.get("/api/imports", params={"source": "feed-b"}).json()["total"] == 2
    failed = client.get("/api/imports", params={"status": ["failed", "succeeded"]}).json()
    assert {i["import_id"] for i in failed["items"]} == {B, C}
    window = client.get(
        "/api/imports",
        params={
            "created_after": (datetime.now(UTC) - timedelta(days=1, hours=12)).isoformat(),
            "created_before": (datetime.now(UTC) - timedelta(hours=12)).isoformat(),
        },
    ).json()
    assert [i["import_id"] for i in window["items"]] == [B]
    second = client.get("/api/imports", params={"limit": 1, "offset": 1}).json()
    assert [i["import_id"] for i in second["items"]] == [B]
    bad = client.get("/api/imports", params={"status": "done"})
    assert bad.status_code == 422


def test_models_market_figures(client: TestClient, glyph_env: Settings) -> None:
    assert client.get("/api/models").json() == []  # no market figures computed yet
    refresh_market(migrate(glyph_env.sqlalchemy_url))
    response = client.get("/api/models")
    assert datetime.fromisoformat(response.headers["x-market-computed-at"])
    listed = response.json()  # the established default: models with listings
    assert all(m["listing_count"] > 0 for m in listed)
    assert {"model", "min_price", "median_price", "max_price", "avg_price"} <= set(listed[0])
    every = client.get("/api/models", params={"listed_only": "false"}).json()
    items = {m["canonical_model"]: m for m in every}
    h100 = items["H100_PCIE_80GB"]
    # USD only, per card: 400 (a lot of 4 at 1600), 100, 300, 200 (the EUR listing is another
    # market; rows without unit_price count at their price)
    assert (h100["listing_count"], h100["min_price"], h100["max_price"]) == (4, 100.0, 400.0)
    assert h100["median_price"] == pytest.approx(250.0)
    assert h100["in_registry"] and h100["display_name"]
    b200 = items["B200"]  # 50, 70, 60 -> odd count
    assert (b200["listing_count"], b200["median_price"]) == (3, 60.0)
    assert items["NOT_IN_REGISTRY_X"]["in_registry"] is False
    assert items["A100_PCIE_40GB"]["listing_count"] == 0
    assert h100["avg_price"] == pytest.approx(250.0) and h100["model"] == h100["display_name"]
    eur = {
        m["canonical_model"]: m
        for m in client.get("/api/models", params={"currency": "eur", "listed_only": "true"}).json()
    }
    assert list(eur) == ["H100_PCIE_80GB"] and eur["H100_PCIE_80GB"]["median_price"] == 5000.0


def test_retry_refuses_imports_that_did_not_fail(client: TestClient) -> None:
    response = client.post(f"/api/imports/{B}/retry")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_retryable"
