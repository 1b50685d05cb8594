"""Headless Chromium for the UI tests: Debian's chromium (installed by ``make browser`` /
``.ci/install-chromium``) driven through playwright's Python API; playwright's own browser
downloads are never used."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glyph_assets.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium_page(profile: Path, width: int = 1800, height: int = 1000) -> Iterator[Any]:
    """A page of a fresh Chromium profile, closed after; the test skips (saying why) when
    Debian's chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium and could not be installed "
            "(run `make browser` as root, or `apt-get install chromium`)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()


README_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


def refresh_readme_screenshot(shot: Path) -> None:
    """With ``GLYPH_UPDATE_SCREENSHOTS`` set, ``shot`` replaces the README's picture of the same
    name (docs/screenshots/): the pictures are refreshed on request, never by a plain run."""
    if os.environ.get("GLYPH_UPDATE_SCREENSHOTS"):
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, README_SCREENSHOTS / shot.name)
