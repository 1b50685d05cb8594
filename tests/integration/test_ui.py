"""The operator's view: the Dagster UI in headless Chromium against the running stack.

Uses Debian's chromium through playwright's Python API (``tests.support.browser``).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from glyph_assets.contract import PIPELINE_STAGES
from glyph_assets.store import repository
from glyph_assets.store.db import migrate
from glyph_assets.store.status import TERMINAL_STATUSES
from tests.support.browser import chromium_page, refresh_readme_screenshot

PIPELINE_ASSETS = list(PIPELINE_STAGES)
MARKET_ASSETS = ["model_market_stats", "price_movements"]
DEMO = "demo_listings.csv"

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as page:
        yield page


def _demo_import(running_stack, corpus: Path) -> str:
    """A succeeded import of the demo file in the stack, ingested through the inbox if needed.

    Other tests of the session may have imported the same bytes already (then the inbox would
    skip them as a duplicate): a succeeded one is reused, and if only failed ones exist the
    file goes through the API, which imports duplicates.
    """
    demo = corpus / DEMO
    digest = hashlib.sha256(demo.read_bytes()).hexdigest()
    engine = migrate(running_stack.settings.sqlalchemy_url)

    def succeeded() -> dict | None:
        for status in ("succeeded", "partially_succeeded"):
            record = repository.find_import(engine, sha256=digest, status=status)
            if record:
                return record
        return None

    earlier = repository.find_import(engine, sha256=digest)
    if earlier is None:
        inbox = running_stack.settings.inbox
        inbox.mkdir(parents=True, exist_ok=True)
        staging = inbox / f".{DEMO}.part"
        shutil.copy(demo, staging)
        staging.rename(inbox / DEMO)  # appears whole, as a writer should do
    elif succeeded() is None and earlier["status"] in TERMINAL_STATUSES:
        with demo.open("rb") as fh:
            response = httpx.post(
                f"{running_stack.api_url}/api/imports",
                files={"file": (DEMO, fh, "text/csv")},
                data={"source": "ui-test"},
                timeout=120,
            )
        assert response.status_code < 300, response.text
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        record = succeeded()
        if record:
            return record["import_id"]
        time.sleep(0.5)
    raise AssertionError(
        f"no succeeded import of {DEMO}: {repository.find_import(engine, sha256=digest)}"
    )


def _wait_for_names(page, names: list[str], timeout: float = 60.0) -> str:
    """Wait until every name is in the page's visible text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.inner_text("body")
        if all(name in text for name in names):
            return text
        page.wait_for_timeout(500)
    missing = [n for n in names if n not in text]
    raise AssertionError(f"not on the page after {timeout:.0f} s: {missing}")


def _open_asset_graph(page, ui: str) -> None:
    """The global lineage with every group open, in the graph and in its sidebar.

    The UI starts with groups collapsed; the graph's own shortcut (Alt+E, "Expand all groups")
    opens them, and the sidebar's carets list each group's assets by their full names (the
    zoomed-out graph abbreviates long ones).
    """
    page.goto(f"{ui}/asset-groups", wait_until="domcontentloaded")
    _wait_for_names(page, ["ingestion", "market"])
    for group in ("market", "ingestion"):
        label = page.get_by_text(group, exact=True).first  # the sidebar's entry comes first
        box = label.bounding_box()
        assert box is not None, f"no sidebar entry for group {group}"
        page.mouse.click(box["x"] - 40, box["y"] + box["height"] / 2)  # its caret
        page.wait_for_timeout(300)
    viewport = page.viewport_size or {"width": 1800, "height": 1000}
    page.mouse.click(viewport["width"] * 0.6, 150)  # focus the graph canvas
    page.keyboard.press("Alt+KeyE")


@pytest.mark.timeout(300)
def test_dagster_ui_shows_the_pipeline_and_the_demo_partition(
    running_stack, corpus: Path, browser_page, tmp_path: Path
) -> None:
    page = browser_page
    import_id = _demo_import(running_stack, corpus)
    ui = running_stack.dagster_url
    shots = tmp_path / "screenshots"
    shots.mkdir()

    _open_asset_graph(page, ui)
    _wait_for_names(page, PIPELINE_ASSETS + MARKET_ASSETS)
    page.wait_for_timeout(2000)  # let the graph finish its layout before the picture
    graph = shots / "asset-graph.png"
    page.screenshot(path=str(graph), full_page=True)
    assert graph.stat().st_size > 10_000
    refresh_readme_screenshot(graph)

    page.goto(
        f"{ui}/assets/persisted_listings?view=partitions&partition={import_id}",
        wait_until="domcontentloaded",
    )
    _wait_for_names(page, [import_id, "persisted_listings", "Materialized", "total_rows"])
    partition = shots / "demo-partition.png"
    page.screenshot(path=str(partition), full_page=True)
    assert partition.stat().st_size > 10_000

    page.goto(f"{ui}/assets/persisted_listings?view=checks", wait_until="domcontentloaded")
    _wait_for_names(page, ["rows_accounted_for", "unknown_model_share", "schema_valid"])
    page.screenshot(path=str(shots / "persisted-checks.png"), full_page=True)

    page.goto(f"{ui}/assets/model_market_stats", wait_until="domcontentloaded")
    _wait_for_names(page, ["model_market_stats", "market_automation_sensor"])
    page.screenshot(path=str(shots / "market-asset.png"), full_page=True)
    print(f"screenshots in {shots}")
