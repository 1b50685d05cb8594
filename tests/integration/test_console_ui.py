"""The market console in headless Chromium against the running stack: a file dropped on the
upload form becomes an import that reaches its end on its own page, its listings filter, and a
model's page draws its price chart. With ``GLYPH_UPDATE_SCREENSHOTS`` set, the three main pages
replace the README's pictures."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import chromium_page, refresh_readme_screenshot
from tests.support.imports import SAMPLE, TERMINAL

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# Drops the file (its name and bytes) on the drop zone, as a person dragging it there would.
DROP = """([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, {type: "text/csv"}));
  const zone = document.getElementById("drop-zone");
  const init = {dataTransfer: data, bubbles: true, cancelable: true};
  zone.dispatchEvent(new DragEvent("dragover", init));
  zone.dispatchEvent(new DragEvent("drop", init));
}"""


@pytest.fixture(scope="module")
def console_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_page(tmp_path_factory.mktemp("console-profile"), 1400, 900) as page:
        yield page


def _final_status(page: Any, timeout: float = 600) -> str:
    """The import page follows its run and reloads itself when it ends: wait for that."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.locator("#import-status .status").inner_text().strip().replace(" ", "_")
        if text in TERMINAL and page.locator("#run-progress").count() == 0:
            return text
        page.wait_for_timeout(500)
    raise AssertionError(f"the import page still says {text!r} after {timeout:.0f} s")


def _shot(page: Any, folder: Path, name: str, full_page: bool = False) -> None:
    shot = folder / name
    page.screenshot(path=str(shot), full_page=full_page)
    assert shot.stat().st_size > 10_000
    refresh_readme_screenshot(shot)


@pytest.mark.timeout(900)
def test_upload_filter_and_chart_in_the_browser(
    running_stack, console_page, tmp_path: Path
) -> None:
    page, base = console_page, running_stack.api_url
    page.goto(f"{base}/", wait_until="domcontentloaded")
    page.evaluate(DROP, [SAMPLE.name, base64.b64encode(SAMPLE.read_bytes()).decode()])
    assert SAMPLE.name in page.locator("#upload-message").inner_text()
    page.get_by_label("Source").fill("console-ui")
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/imports/[0-9a-f-]{36}$"), timeout=120_000)
    import_id = page.url.rsplit("/", 1)[1]
    assert _final_status(page) in ("succeeded", "partially_succeeded")
    assert page.locator("a", has_text="in the Dagster UI").count() >= 1

    with httpx.Client(base_url=base, timeout=60) as client:
        summary = client.get(f"/api/imports/{import_id}").json()
        model = summary["top_models"][0]["canonical_model"]
        api = client.get(
            f"/api/imports/{import_id}/listings", params={"canonical_model": model, "limit": 1000}
        ).json()

    # Filter the listings through the form.
    page.goto(f"{base}/imports/{import_id}", wait_until="domcontentloaded")
    page.get_by_label("Model", exact=True).fill(model)
    page.get_by_label("Sort", exact=True).select_option("-score")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"canonical_model="))
    assert f"({len(api['items'])} match)" in page.locator("#listing-total").inner_text()
    models = page.locator("section:has(#listings-heading) tbody td:nth-child(3)").all_inner_texts()
    assert models and set(models) == {model}
    scores = [
        float(s.replace(",", ""))
        for s in page.locator(
            "section:has(#listings-heading) tbody td:nth-child(6)"
        ).all_inner_texts()
        if s.strip() not in ("", "–")
    ]
    assert scores == sorted(scores, reverse=True)
    _shot(page, tmp_path, "console-import.png", full_page=True)

    # The model's page: the chart is drawn with the imports' points.
    page.goto(f"{base}/models/{model}", wait_until="domcontentloaded")
    page.wait_for_function("window.glyphChart && window.glyphChart.data[0].length >= 1")
    points = page.evaluate(
        "window.glyphChart.data.slice(1).map(s => s.filter(v => v !== null).length)"
    )
    assert sum(points) >= 3  # p90, median and p10 of this import at least
    assert "console-ui median" in page.locator("#price-chart").inner_text()  # its legend
    box = page.locator("#price-chart canvas").first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    _shot(page, tmp_path, "console-model.png")

    page.goto(f"{base}/", wait_until="domcontentloaded")
    assert page.locator(f'#imports tr[data-import="{import_id}"]').count() == 1
    _shot(page, tmp_path, "console-imports.png")
