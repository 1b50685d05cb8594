"""The market console's pages on a big import, beside the JSON listing page of the same run.

Each page is asked over HTTP of an API served by uvicorn on the benchmark's warehouse, one
request at a time (a person browsing, not a load test): the median of ``repeat`` requests after
one warm-up, against the median of the same number of ``GET /api/imports/{id}/listings`` pages
of 100 measured in between. The JSON answers the pages are built from are timed the same way,
so that a slow page shows whether its time is the console's or its data's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx

from glyph_assets.settings import PROJECT_ROOT
from glyph_assets.tooling.bench.runner import Figure, median_of
from glyph_assets.tooling.supervisor import api_command, free_port, wait_http

TARGET = "< 1 s"


@contextlib.contextmanager
def served_api(env: dict[str, str]) -> Iterator[httpx.Client]:
    """One uvicorn worker of the API on the warehouse ``env`` names, stopped after. Its Dagster
    port is one nobody listens on: the benchmark's import is final, and a read that would ask
    Dagster anyway must not reach some other stack's webserver on the default port."""
    port = free_port()
    proc = subprocess.Popen(
        api_command("127.0.0.1", port, "--log-level", "warning"),
        env={
            **os.environ,
            **{k: v for k, v in env.items() if k.isupper()},
            "GLYPH_DAGSTER_PORT": str(free_port()),
        },
        cwd=PROJECT_ROOT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            # a loaded machine starts it slowly
            wait_http(f"http://127.0.0.1:{port}/api/imports?limit=1", 180, proc, below=300)
            yield client
    finally:
        proc.terminate()
        proc.wait(10)


def _median_ms(client: httpx.Client, path: str, repeat: int) -> float:
    """Median wall time of ``repeat`` GETs of ``path`` after one warm-up; each must be 200."""
    times = []
    for attempt in range(repeat + 1):
        start = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        if attempt:
            times.append(elapsed)
    return median_of(times)


def console_figures(env: dict[str, str], import_id: str, repeat: int = 10) -> list[Figure]:
    """Each console page's median time on the import, beside the JSON listing page of 100."""
    with served_api(env) as client:
        summary = client.get(f"/api/imports/{import_id}").json()
        rows = summary.get("persisted_rows") or 0
        model = quote(summary["top_models"][0]["canonical_model"]) if summary["top_models"] else ""
        page, last = f"/imports/{import_id}", max(0, rows - 100)
        pages = {
            "imports list /": "/",
            "import page (summary, errors, first listings)": page,
            "import page, listings best score first": f"{page}?sort=-score",
            "import page, listings of its top model": f"{page}?canonical_model={model}",
            "import page, keyset page deep in the import": f"{page}?after_index={last}",
            "models /models": "/models",
            "model page with its price chart": f"/models/{model}",
            "report /report": "/report",
            # What the pages draw from, as the JSON API answers it: where a page's time goes.
            "(its data) JSON summary /api/imports/{id}": f"/api/imports/{import_id}",
            "(its data) JSON models /api/models": "/api/models",
            "(its data) JSON price history /api/models/{id}/prices": f"/api/models/{model}/prices",
            "(its data) JSON report /api/report": "/api/report",
        }
        json_page = f"/api/imports/{import_id}/listings?limit=100&offset=500"
        figures = []
        for name, path in pages.items():
            value = _median_ms(client, path, repeat)
            baseline = _median_ms(client, json_page, repeat)
            figures.append(
                Figure(
                    f"console {name} ({rows:,} listings), median of {repeat}",
                    value,
                    "ms",
                    baseline=baseline,
                    baseline_name="JSON listing page of 100",
                    target="" if name.startswith("(") else TARGET,
                )
            )
    return figures
