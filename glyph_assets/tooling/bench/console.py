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
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

from glyph_assets.settings import PROJECT_ROOT, get_settings
from glyph_assets.tooling.bench.runner import Figure, median_get_ms
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
            value = median_get_ms(client, path, repeat)
            baseline = median_get_ms(client, json_page, repeat)
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


def build_warehouse(work: Path, rows: int, imports: int) -> tuple[dict[str, str], str]:
    """A SQLite warehouse of ``imports`` imports of one generated realistic file of ``rows``
    rows (``datagen.generate_realistic_csv`` through the pipeline's stages, written by the
    store's bulk writer as the warehouse bench does), with what the assets would have stored
    after them: market figures, price movements and each import's diff against the one before.
    Kept in ``work`` (reused when it is there already): the env the API needs, and the newest
    import's id."""
    from glyph_assets.sieve import market as market_figures
    from glyph_assets.sieve.fx import load_rates
    from glyph_assets.store import changes, market
    from glyph_assets.store.db import migrate
    from glyph_assets.tooling.bench.datagen import generate_realistic_csv
    from glyph_assets.tooling.bench.warehouse import populate, scored_chunks

    work.mkdir(parents=True, exist_ok=True)
    (work / "dagster_home").mkdir(exist_ok=True)
    database = work / "glyph.db"
    env = {
        "GLYPH_DATABASE_URL": f"sqlite:///{database}",
        "GLYPH_DATA_DIR": str(work / "data"),
        "DAGSTER_HOME": str(work / "dagster_home"),
    }
    ready = work / "import_id"
    if ready.exists():
        return env, ready.read_text().strip()
    database.unlink(missing_ok=True)
    engine = migrate(env["GLYPH_DATABASE_URL"])
    csv_path = generate_realistic_csv(work / f"realistic_{rows}.csv", rows)
    chunks = scored_chunks(csv_path)
    csv_path.unlink()
    ids = populate(engine, chunks, imports)
    del chunks
    settings = get_settings()
    window = market.recent_imports(engine, settings.market_movements_window_imports)
    listings = market.listings_of(engine, window["import_id"].tolist())
    rates = load_rates(settings.fx_rates_path)
    market.replace_price_movements(engine, market_figures.price_movements(listings, window, rates))
    for import_id in ids:
        changes.record_diff(engine, import_id, changes.previous_import(engine, import_id))
    engine.dispose()
    ready.write_text(ids[-1])
    return env, ids[-1]


if __name__ == "__main__":
    import argparse
    import tempfile

    from glyph_assets.tooling.bench.runner import print_table

    parser = argparse.ArgumentParser(
        description="The console's pages on a warehouse of big realistic imports, alone"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows an import")
    parser.add_argument("--imports", type=int, default=2, help="imports of the generated file")
    parser.add_argument("--repeat", type=int, default=10, help="requests a page (the median)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the warehouse in this directory and keep it; reuse it when it is there",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glyph-bench-console-") as tmp:
        where = args.keep or Path(tmp)
        env, newest = build_warehouse(where, args.rows, args.imports)
        print_table(
            console_figures(env, newest, args.repeat),
            title=f"glyph console pages ({args.imports} imports of {args.rows:,} realistic rows)",
        )
