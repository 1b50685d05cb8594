"""The warehouse's reads as it grows: each read of issue 16's table against the plain listing
page measured in the same run, on SQLite and on PostgreSQL, and the bytes a listing costs.

The warehouse holds ``imports`` copies of one generated file (``datagen.generate_csv``) run
through the real pipeline stages once (``sieve.pipeline.Stages``); each copy is written as its
own import by the store's own bulk writer (``store.repository.replace_import_rows`` and
``finish_import``, as ``persisted_listings`` does), not by a Dagster run per import: ten runs
of a million rows would take the bench most of an hour and measure the ingest again, which the
suite's ingest figure already does. The market table is then refreshed as the market asset
does, and the API is started over the warehouse and asked each read repeatedly (median).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import Engine, func, select, text

from glyph_assets.settings import PROJECT_ROOT
from glyph_assets.sieve.market import model_market_stats
from glyph_assets.sieve.pipeline import Stages, read_chunks
from glyph_assets.store import market, repository
from glyph_assets.store.db import migrate
from glyph_assets.store.models import Listing
from glyph_assets.store.status import ImportStatus
from glyph_assets.tooling.bench.datagen import generate_csv, generate_realistic_csv
from glyph_assets.tooling.bench.runner import Figure, median_get_ms
from glyph_assets.tooling.bench.storage import (
    DEFAULT_ADMIN_URL,
    _postgres_url,
    _sqlite_url,
    _unreachable,
)
from glyph_assets.tooling.supervisor import api_command, free_port, wait_http

PLAIN_PAGE = "plain listing page"
# The reads of issue 16, each with the most it may cost as a multiple of the plain page.
READS: list[tuple[str, str, str]] = [
    ("GET /api/imports/{id}", "/api/imports/{import_id}", "<= 5x"),
    ("GET /api/models", "/api/models", "<= 10x"),
    (
        "GET /api/imports/{id}/listings?model=RTX_4090&limit=100",
        "/api/imports/{import_id}/listings?model=RTX_4090&limit=100",
        "<= 10x",
    ),
    (
        "GET /api/listings?vendor=AMD&min_score=20&sort=-score&limit=100",
        "/api/listings?vendor=AMD&min_score=20&sort=-score&limit=100",
        "<= 10x",
    ),
]
PLAIN = "/api/imports/{import_id}/listings?limit=100"


def refresh_market(engine: Engine, window_imports: int = 10) -> int:
    """What the ``model_market_stats`` asset does, without Dagster: the market figures of the
    newest ``window_imports`` persisted imports, replacing the table the API reads."""
    imports = market.recent_imports(engine, window_imports)
    listings = market.listings_of(engine, imports["import_id"].tolist())
    return market.replace_model_market_stats(engine, model_market_stats(listings), window_imports)


def scored_chunks(path: Path) -> list[pd.DataFrame]:
    """The generated file through every stage of the pipeline, as the rows persist takes."""
    return list(Stages(kind="raw", source="bench").run(read_chunks(path)))


def populate(engine: Engine, chunks: list[pd.DataFrame], imports: int) -> list[str]:
    """``imports`` imports of the same scored rows, each written and ended by the store."""
    ids = []
    for n in range(imports):
        import_id = str(uuid.uuid4())
        repository.create_import(
            engine,
            import_id=import_id,
            source="bench",
            sha256=f"{n:064d}",
            size_bytes=0,
            kind="raw",
        )
        counts = repository.replace_import_rows(engine, import_id, chunks)
        repository.finish_import(engine, import_id, ImportStatus.SUCCEEDED, counts=counts)
        ids.append(import_id)
    refresh_market(engine, imports)
    return ids


# Every table of glyph's schema with its indexes and TOAST (not the database's own catalog,
# which pg_database_size would add: some 7 MB, 70 bytes a listing of a 100,000-row warehouse).
_PG_TABLES_SIZE = text(
    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
)


def bytes_per_listing(engine: Engine) -> float:
    """The store's size on disk, tables and indexes together, over its listings (SQLite: the
    file's pages in use after a checkpoint; PostgreSQL: every table of the schema with its
    indexes)."""
    with engine.connect() as conn:
        listings = conn.execute(select(func.count()).select_from(Listing)).scalar_one()
        if engine.dialect.name == "postgresql":
            size = conn.execute(_PG_TABLES_SIZE).scalar_one()
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            size = (pages - free) * page_size
    return float(size) / max(1, int(listings))


@contextmanager
def api_over(url: str, work: Path) -> Iterator[str]:
    """The API served by uvicorn (one worker) over the warehouse at ``url``; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "GLYPH_DATABASE_URL": url,
        "GLYPH_DATA_DIR": str(work / "data"),
        "DAGSTER_HOME": str(work / "dagster_home"),
    }
    (work / "dagster_home").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        api_command("127.0.0.1", port, "--log-level", "warning"), env=env, cwd=PROJECT_ROOT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api/models", 60, proc, below=300)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def measure(url: str, work: Path, chunks: list[pd.DataFrame], imports: int) -> dict[str, Any]:
    engine = migrate(url)
    started = time.perf_counter()
    ids = populate(engine, chunks, imports)
    populated = time.perf_counter() - started
    analyzed = analyze(engine)
    repeat = 20
    with api_over(url, work) as base, httpx.Client(base_url=base, timeout=300) as client:
        import_id = ids[-1]
        plain = median_get_ms(client, PLAIN.format(import_id=import_id), repeat, warmup=2)
        reads = {
            name: median_get_ms(client, path.format(import_id=import_id), repeat, warmup=2)
            for name, path, _ in READS
        }
    return {
        "plain": plain,
        "reads": reads,
        "bytes": bytes_per_listing(engine),
        "populate": populated,
        "analyzed": analyzed,
    }


def analyze(engine: Engine) -> bool:
    """PostgreSQL: ``ANALYZE``, what autovacuum (on by default) does within a minute of a bulk
    load, and what its documentation asks for after one. Without it the planner has no
    statistics on the rows just written (this machine's server runs with autovacuum off) and
    the vendor read took 2.3 s on ten 1,000,000-row imports (its bounded count then still read
    in the page's order) where it takes 12 ms with statistics. SQLite's planner needs none for
    these reads."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return True


def _figures(backend: str, found: dict[str, Any], label: str) -> list[Figure]:
    plain = found["plain"]
    figures = [Figure(f"{label}, {backend}: {PLAIN_PAGE}", plain, "ms")]
    for name, _, target in READS:
        figures.append(
            Figure(
                f"{label}, {backend}: {name}",
                found["reads"][name],
                "ms",
                baseline=plain,
                baseline_name=PLAIN_PAGE,
                target=target,
            )
        )
    figures.append(
        Figure(
            f"{label}, {backend}: warehouse bytes per listing (tables and indexes)",
            found["bytes"],
            "B",
            target="<= 350" if backend == "SQLite" else "",
        )
    )
    figures.append(
        Figure(f"{label}, {backend}: populating it (bulk writer)", found["populate"], "s")
    )
    return figures


# The generated files a warehouse can be filled from: the wide 11-column export layout, or
# uploads shaped like real ones (six narrow columns; what issue 16's figures were taken on).
LAYOUTS = {"wide": generate_csv, "realistic": generate_realistic_csv}


def bench_warehouse(
    quick: bool = False,
    rows: int | None = None,
    imports: int | None = None,
    layout: str = "wide",
) -> list[Figure]:
    """The reads on SQLite and (when reachable) PostgreSQL warehouses of ``imports`` imports of
    ``rows`` rows each (by default ten of 1,000,000, three of 20,000 with ``quick``), generated
    in ``layout`` (``LAYOUTS``)."""
    rows = rows or (20_000 if quick else 1_000_000)
    imports = imports or (3 if quick else 10)
    label = (
        f"warehouse of {imports} x {rows:,}-row imports ({layout} rows, written by the store's "
        "bulk writer, not through Dagster)"
    )
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="glyph-bench-warehouse-") as tmp:
        work = Path(tmp)
        chunks = scored_chunks(LAYOUTS[layout](work / f"generated_{rows}.csv", rows))
        with _sqlite_url() as url:
            figures += _figures("SQLite", measure(url, work / "sqlite", chunks, imports), label)
        admin = os.environ.get("GLYPH_BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL)
        unreachable = _unreachable(admin)
        if unreachable:
            figures.append(Figure(f"{label}, PostgreSQL unavailable: {unreachable}", 0, ""))
        else:
            with _postgres_url(admin) as url:
                figures += _figures(
                    "PostgreSQL", measure(url, work / "postgres", chunks, imports), label
                )
    return figures


if __name__ == "__main__":
    import argparse

    from glyph_assets.tooling.bench.runner import print_table

    parser = argparse.ArgumentParser(description="glyph's warehouse reads, alone")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--imports", type=int)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="wide")
    args = parser.parse_args()
    print_table(
        bench_warehouse(args.quick, args.rows, args.imports, args.layout),
        title="glyph warehouse reads",
    )
