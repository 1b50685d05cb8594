"""The console's pages on the seeded warehouse of the read tests: what each page shows comes
from the functions the JSON routes call, so the figures checked here are the API's own."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch

import pytest
from fastapi.testclient import TestClient

from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.store.db import migrate
from tests.support.app import api_client
from tests.support.reads import ROWS_A, ROWS_B, A, B, C, seed, seeded_client
from tests.support.warehouse import refresh_market


@pytest.fixture
def client(glyph_env: Settings) -> Iterator[TestClient]:
    """The read tests' seeded warehouse behind the app."""
    with seeded_client(glyph_env) as test_client:
        yield test_client


@pytest.fixture
def priced_client(client: TestClient, glyph_env: Settings) -> TestClient:
    """The seeded app after a market refresh, as the market automation leaves it."""
    refresh_market(migrate(glyph_env.sqlalchemy_url))
    return client


TOKEN = "console-secret"


def _cells(html: str, table_id: str) -> list[list[str]]:
    """The text of each body row of the table with ``table_id``."""
    body = html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [
        [
            re.sub(r"<[^>]+>|\s+", " ", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


def test_imports_page_lists_newest_first_with_status_and_counts(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    rows = _cells(page.text, "imports")
    assert [r[0] for r in rows] == [C[:8], B[:8], A[:8]]
    assert rows[2][4] == "partially succeeded"
    api = client.get("/api/imports").json()["items"][2]
    counts = ("total_rows", "persisted_rows", "error_rows", "not_gpu_rows")
    assert rows[2][5:9] == [str(api[name]) for name in counts] == ["10", "8", "2", "1"]
    # The upload form: every control labelled, posting to the API.
    assert '<label for="upload-file">' in page.text and 'id="upload-file"' in page.text
    assert 'action="/api/imports"' in page.text


def test_import_page_shows_summary_errors_and_filtered_listings(client: TestClient) -> None:
    page = client.get(f"/imports/{A}")
    assert page.status_code == 200
    text = page.text
    assert "price is missing" in text and "title is empty" in text  # the reasons
    assert f"/api/imports/{A}/listings.csv" in text
    assert "Retry the import" not in text  # partially succeeded: nothing to retry
    assert len(_cells(text, "row-errors")) == 2

    filtered = client.get(
        f"/imports/{A}", params={"canonical_model": "H100_PCIE_80GB", "sort": "-score"}
    )
    api = client.get(
        f"/api/imports/{A}/listings", params={"canonical_model": "H100_PCIE_80GB", "sort": "-score"}
    ).json()
    assert "(5 match)" in filtered.text
    shown = re.findall(r"<td>(\d+)</td>\s*<td class=\"title\">listing", filtered.text)
    assert [int(i) for i in shown] == [item["import_index"] for item in api["items"]]


def test_a_form_with_empty_fields_filters_by_the_given_ones_only(client: TestClient) -> None:
    empty = {name: "" for name in ("vendor", "is_gpu", "min_score", "max_price", "reject_reason")}
    page = client.get(f"/imports/{A}", params={**empty, "canonical_model": "B200"})
    assert page.status_code == 200 and "(1 match)" in page.text


def test_import_listings_page_by_keyset_and_keep_their_filters(client: TestClient) -> None:
    first = client.get(f"/imports/{A}", params={"limit": 3, "is_gpu": "true"})
    link = re.search(
        r'href="\?([^"]*after_index=(\d+)[^"]*)#listings-heading" rel="next"', first.text
    )
    assert link is not None
    assert "is_gpu=true" in link.group(1) and "limit=3" in link.group(1)
    second = client.get(f"/imports/{A}?{link.group(1).replace('&amp;', '&')}")
    api = client.get(
        f"/api/imports/{A}/listings",
        params={"limit": 3, "is_gpu": "true", "after_index": link.group(2)},
    ).json()
    shown = re.findall(r"<td>(\d+)</td>\s*<td class=\"title\">listing", second.text)
    assert [int(i) for i in shown] == [item["import_index"] for item in api["items"]]


def test_bad_input_is_a_clear_4xx(client: TestClient) -> None:
    missing = client.get("/imports/00000000-0000-4000-8000-00000000dead")
    assert missing.status_code == 404 and "no import" in missing.text
    assert "text/html" in missing.headers["content-type"]
    out_of_range = client.get(f"/imports/{A}", params={"min_score": 300})
    assert out_of_range.status_code == 422 and "text/html" in out_of_range.headers["content-type"]
    assert "min_score: Input should be less than or equal to 100" in out_of_range.text
    typo = client.get(f"/imports/{A}", params={"canonical_modle": "B200"})
    assert typo.status_code == 422 and "canonical_modle: not a parameter" in typo.text
    assert client.get(f"/imports/{A}", params={"sort": "nonsense"}).status_code == 422
    assert client.get(f"/imports/{A}", params={"min_price": 9, "max_price": 1}).status_code == 422
    assert client.get("/", params={"offset": -1}).status_code == 422
    assert client.get("/models/NO_SUCH_MODEL_EVER").status_code == 404


def test_models_pages_show_market_figures_and_the_price_history(
    priced_client: TestClient,
) -> None:
    client = priced_client
    models = client.get("/models")
    assert models.status_code == 200
    rows = {r[0].split()[0]: r for r in _cells(models.text, "models")}
    api = {m["canonical_model"]: m for m in client.get("/api/models").json()}
    assert set(rows) == set(api)
    assert rows["B200"][4] == str(api["B200"]["listing_count"])

    history = client.get("/api/models/H100_PCIE_80GB/prices").json()["points"]
    usd = [p for p in history if p["currency"] == "USD"]
    # Card prices of import A in USD: 400 (a lot of 4 at 1600), 100, 300, 200.
    assert [(p["import_id"], p["listings"]) for p in usd] == [(A, 4)]
    assert usd[0]["median_price"] == pytest.approx(250.0)
    assert usd[0]["p10_price"] == pytest.approx(130.0)
    assert usd[0]["p90_price"] == pytest.approx(370.0)
    assert usd[0]["source"] == "feed-a"
    assert [(p["currency"], p["listings"]) for p in history] == [("EUR", 1), ("USD", 4)]

    page = client.get("/models/H100_PCIE_80GB")
    assert page.status_code == 200
    assert 'id="price-chart"' in page.text and "uPlot.iife.min.js" in page.text
    assert len(_cells(page.text, "price-table")) == 2
    b200 = client.get("/models/B200")
    assert len(_cells(b200.text, "price-table")) == 2  # one point per import
    assert client.get("/api/models/NO_SUCH_MODEL_EVER/prices").json()["points"] == []


def test_report_page_and_the_report_in_both_formats(priced_client: TestClient) -> None:
    client = priced_client
    page = client.get("/report")
    assert page.status_code == 200
    assert "<h1>GPU market report</h1>" in page.text and "<table>" in page.text
    markdown = client.get("/api/report", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# GPU market report")
    assert client.get("/api/report").json()["top_ranked"]


def test_script_json_cannot_close_its_script_tag(glyph_env: Settings) -> None:
    now = datetime.now(UTC)
    seed(glyph_env, A, ROWS_B, "</script><script>alert(1)</script>", "succeeded", now)
    with api_client(glyph_env) as app:
        page = app.get("/models/B200")
    assert "<script>alert(1)" not in page.text
    assert "\\u003c/script>" in page.text


@pytest.fixture
def guarded(glyph_env: Settings) -> Iterator[TestClient]:
    seed(glyph_env, A, ROWS_A, "feed-a", "failed", datetime.now(UTC) - timedelta(days=1))
    with api_client(glyph_env, api_token=TOKEN, api_token_reads=True) as app:
        yield app


def test_the_token_guards_the_pages_when_reads_need_it_and_writes_always(
    guarded: TestClient,
) -> None:
    refused = guarded.get("/")
    assert refused.status_code == 401 and 'id="token-input"' in refused.text
    assert guarded.get("/", cookies={"glyph_token": "wrong"}).status_code == 401
    assert guarded.get("/", cookies={"glyph_token": TOKEN}).status_code == 200
    page = guarded.get(f"/imports/{A}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert "Retry the import" in page.text
    # The cookie opens the pages only: a write through the API still needs the header.
    write = guarded.post(f"/api/imports/{A}/retry", json={}, cookies={"glyph_token": TOKEN})
    assert write.status_code == 401


def test_writes_need_the_token_even_when_reads_do_not(glyph_env: Settings) -> None:
    with api_client(glyph_env, api_token=TOKEN) as app:
        page = app.get("/")
        assert page.status_code == 200 and 'id="token-input"' in page.text
        assert app.post("/api/imports/x/retry", json={}).status_code == 401


def test_the_package_ships_every_console_file() -> None:
    """An installed package serves the pages only if pyproject's package data names every
    template and static file (the Python modules ship anyway)."""
    root = PROJECT_ROOT / "glyphd_api"
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as fh:
        globs = tomllib.load(fh)["tool"]["setuptools"]["package-data"]["glyphd_api"]
    files = [
        path.relative_to(root).as_posix()
        for path in (root / "console").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    ]
    assert {"console/templates/base.html", "console/static/vendor/uplot/LICENSE"} <= set(files)
    assert [f for f in files if not any(fnmatch(f, g) for g in globs)] == []
