"""SQLite against PostgreSQL for the write that ends every import (``replace_import_rows``).

Each measurement runs in a fresh process (spawn), as a Dagster run worker would, and times only
the database write: the generator that produces the scored frames times itself and that time is
subtracted. Frames carry the full column contract of ``scored_listings`` (listings plus about 1 %
row errors), so the write path is the one ``persisted_listings`` takes: DELETE, then COPY on
PostgreSQL or executemany on SQLite, in one transaction.

Figures: one 1,000,000-row import (100,000 with ``quick``), replacing that same import again
(the idempotent re-run), and 5 imports of 100,000 rows written at once by 5 processes
(5 x 20,000 with ``quick``), where SQLite's single writer serializes what PostgreSQL overlaps.

PostgreSQL: a throw-away database is created beside ``GLYPH_BENCH_PG_ADMIN_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and dropped afterwards.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glyph_assets.sieve.columns import ERROR_COLUMNS, REGISTRY_SPECS, SCORED_COLUMNS
from glyph_assets.tooling.bench.memory import peak_mb

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
CHUNK_ROWS = 50_000
MODELS = [
    ("H100_PCIE_80GB", "NVIDIA", "datacenter", "Hopper", 80.0, "HBM2e", 350.0, 7, True, 5),
    ("A100_SXM4_80GB", "NVIDIA", "datacenter", "Ampere", 80.0, "HBM2e", 400.0, 7, True, 4),
    ("RTX_4090", "NVIDIA", "consumer", "Ada Lovelace", 24.0, "GDDR6X", 450.0, 0, False, 4),
    ("RTX_A6000", "NVIDIA", "workstation", "Ampere", 48.0, "GDDR6", 300.0, 0, True, 4),
    ("MI300X", "AMD", "datacenter", "CDNA 3", 192.0, "HBM3", 750.0, 0, False, 5),
    ("L40S", "NVIDIA", "datacenter", "Ada Lovelace", 48.0, "GDDR6", 350.0, 0, False, 4),
]
CONDITIONS = ["new", "used", "refurbished", "open_box"]
SPEC_SCORES = ("score_capacity", "score_features", "score_efficiency")


def scored_frame(rows: int, start: int = 0, seed: int = 0) -> pd.DataFrame:
    """``rows`` scored listings shaped like the pipeline's output (dtypes included)."""
    rng = np.random.default_rng(seed + start)
    index = np.arange(start, start + rows, dtype="int64")
    pick = rng.integers(0, len(MODELS), rows)
    spec = pd.DataFrame(
        MODELS,
        # a model's id, vendor and its registry specs from segment to pcie_gen
        columns=["canonical_model", "vendor", *REGISTRY_SPECS[: len(MODELS[0]) - 2]],
    ).iloc[pick]
    spec = spec.reset_index(drop=True)
    kind = rng.random(rows)
    not_gpu = kind < 0.05
    unknown = (kind >= 0.05) & (kind < 0.08)
    failed = kind > 0.99
    price = np.round(rng.lognormal(7.5, 1.0, rows), 2)
    frame = pd.DataFrame(
        {
            "import_index": index,
            "title": pd.array(
                [f"{m} listing {i}" for m, i in zip(spec["vendor"], index, strict=True)]
            ),
            "price": price,
            "currency": "USD",
            "condition": np.array(CONDITIONS)[rng.integers(0, len(CONDITIONS), rows)],
            "quantity": pd.array(rng.integers(1, 9, rows), dtype="Int64"),
            "unit_price": price,  # stock counts, not lots: each row's price is one card's
            "seller": pd.array([f"seller-{i % 997:03d}" for i in index], dtype="string"),
            "region": "US",
            "source_url": pd.array(
                [f"https://shop.example.com/p/{i:09d}" for i in index], dtype="string"
            ),
            "source_type": "Generated",
            "listing_age": "Current",
            "model_hint": None,
            "brand_hint": None,
            "bulk_notes": None,
            "canonical_model": spec["canonical_model"].where(~(not_gpu | unknown), None),
            "match_type": np.where(not_gpu | unknown, None, "alias"),
            "match_score": np.where(not_gpu | unknown, np.nan, 0.97),
            "vendor": spec["vendor"],
            "is_gpu": pd.array(~not_gpu, dtype="boolean"),
            "reject_reason": np.where(not_gpu, "not_gpu", np.where(unknown, "unknown_model", None)),
            "match_alternatives": None,
            # one item per URL: a key of the same shape as sieve.listing_key's
            "listing_key": pd.array([f"u-{i:020x}" for i in index], dtype="string"),
            "segment": spec["segment"],
            "architecture": spec["architecture"],
            "vram_gb": spec["vram_gb"],
            "memory_type": spec["memory_type"],
            "tdp_watts": spec["tdp_watts"],
            "mig_instances": pd.array(spec["mig_instances"], dtype="Int64"),
            "nvlink": pd.array(spec["nvlink"], dtype="boolean"),
            "pcie_gen": pd.array(spec["pcie_gen"], dtype="Int64"),
            "form_factor": "PCIe",
            "launch_year": pd.array(np.full(rows, 2023), dtype="Int64"),
            "warnings": None,
        }
    )
    # score and score_value depend on the listing (its price); the other three components on
    # the model's specs alone, as sieve.score computes them: one value per model, so the rows
    # share their models' spec sets (spec_sets) as the pipeline's rows do.
    for name in ("score", "score_value"):
        frame[name] = np.round(rng.random(rows) * 100, 3)
    per_model = np.random.default_rng(seed).random((3, len(MODELS))) * 100
    for name, values in zip(SPEC_SCORES, per_model, strict=True):
        frame[name] = np.round(values[pick], 3)
    frame["client_score"] = np.nan  # glyph scored these rows itself
    frame["error_stage"] = np.where(failed, "clean", None)
    frame["error_field"] = np.where(failed, "price", None)
    frame["error_reason"] = np.where(failed, "price is not a number: call", None)
    frame["raw_row"] = np.where(failed, '{"title": "RTX 4090", "price": "call"}', None)
    return frame[SCORED_COLUMNS + ERROR_COLUMNS]


def scored_frames(
    rows: int, chunk_rows: int = CHUNK_ROWS, seed: int = 0, clock: dict[str, float] | None = None
) -> Iterator[pd.DataFrame]:
    """Chunks of ``scored_frame``; adds the time spent generating them to ``clock["gen"]``."""
    for start in range(0, rows, chunk_rows):
        began = time.perf_counter()
        frame = scored_frame(min(chunk_rows, rows - start), start, seed)
        if clock is not None:
            clock["gen"] = clock.get("gen", 0.0) + time.perf_counter() - began
        yield frame


def _write_import(url: str, import_id: str, rows: int, times: int, start_at: Any, out: Any) -> None:
    """Child process: register an import, then write its rows ``times`` times (replace).

    With ``start_at`` (a barrier shared by every writer) it writes once, when all are ready. A
    failed write (SQLite's "database is locked") is reported to the parent, not raised.
    """
    report: dict[str, Any] = {"seconds": [], "counts": {}, "error": None}
    try:
        _write(url, import_id, rows, times, start_at, report)
    except Exception as exc:  # noqa: BLE001 - the parent reports what failed and why
        report["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    report.update(peak_mb=peak_mb(), end=time.time())
    out.put(json.dumps(report))


def _write(
    url: str, import_id: str, rows: int, times: int, start_at: Any, report: dict[str, Any]
) -> None:
    from glyph_assets.store import repository
    from glyph_assets.store.db import migrate

    engine = migrate(url)
    repository.create_import(
        engine, import_id=import_id, source="bench", sha256="0" * 64, size_bytes=0, kind="raw"
    )
    if start_at is not None:
        # Writers that start together get their frames ready first, so the wall is writes only.
        ready = list(scored_frames(rows))
        start_at.wait()
        began = time.perf_counter()
        report["counts"] = repository.replace_import_rows(engine, import_id, iter(ready))
        report["seconds"].append(time.perf_counter() - began)
    else:
        for _ in range(times):
            clock: dict[str, float] = {}
            began = time.perf_counter()
            frames = scored_frames(rows, clock=clock)
            report["counts"] = repository.replace_import_rows(engine, import_id, frames)
            report["seconds"].append(time.perf_counter() - began - clock.get("gen", 0.0))
    engine.dispose()


def _run(
    url: str, rows: int, writers: int = 1, times: int = 1, timeout: float = 1800.0
) -> list[dict]:
    """Start ``writers`` processes at once, each writing its own import; their reports."""
    from glyph_assets.store.db import migrate

    migrate(url)  # schema first: the children measure writes, not the migration
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = ctx.Barrier(writers + 1) if writers > 1 else None
    procs = [
        ctx.Process(target=_write_import, args=(url, str(uuid.uuid4()), rows, times, start_at, out))
        for _ in range(writers)
    ]
    for proc in procs:
        proc.start()
    try:
        if start_at is not None:
            start_at.wait(timeout=timeout)
        began = time.time()
        reports = [json.loads(out.get(timeout=timeout)) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    for report in reports:
        report["wall"] = report["end"] - began
    return reports


@contextmanager
def _sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="glyph-bench-sqlite-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'glyph.db'}"


@contextmanager
def _postgres_url(admin_url: str) -> Iterator[str]:
    """A fresh database beside the admin URL's, dropped afterwards."""
    import psycopg
    from psycopg import sql

    from glyph_assets.store.db import dispose_engines

    name = f"glyph_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    base, _, _db = plain.rpartition("/")
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        dispose_engines()
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _measure(url: str, big_rows: int, concurrent_rows: int, writers: int) -> dict[str, Any]:
    single = _run(url, big_rows, writers=1, times=2)[0]
    if single["error"]:
        raise RuntimeError(f"single import failed: {single['error']}")
    together = _run(url, concurrent_rows, writers=writers)
    failed = [r["error"] for r in together if r["error"]]
    result = {
        "import": single["seconds"][0],
        "replace": single["seconds"][1],
        "import_peak": single["peak_mb"],
        "concurrent": max(r["wall"] for r in together),
        "concurrent_peak": sum(r["peak_mb"] for r in together),
        "concurrent_failed": failed,
        "rows": single["counts"]["persisted_rows"] + single["counts"]["error_rows"],
    }
    if failed:
        # What a deployment that hit this has to do instead: the same imports one after another.
        result["one_by_one"] = sum(
            _run(url, concurrent_rows, writers=1)[0]["seconds"][0] for _ in range(writers)
        )
    return result


def _row(
    figure: str, value: float | None, baseline: float | None, unit: str, peak: float | None
) -> dict[str, Any]:
    ratio = value / baseline if value is not None and baseline else None
    return {
        "figure": figure,
        "value": value,
        "baseline": baseline,
        "ratio": ratio,
        "unit": unit,
        "peak_mem_mb": peak,
        "baseline_name": "SQLite, ADBC ingest",
    }


def bench_storage(quick: bool = False) -> list[dict[str, Any]]:
    """PostgreSQL (value) against SQLite (baseline, same run) for the listing store's writes."""
    big = 100_000 if quick else 1_000_000
    writers, each = 5, (20_000 if quick else 100_000)
    with _sqlite_url() as url:
        lite = _measure(url, big, each, writers)
    admin = os.environ.get("GLYPH_BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL)
    post: dict[str, Any] = {}
    unreachable = _unreachable(admin)
    note = f" (PostgreSQL unavailable: {unreachable})" if unreachable else ""
    if not unreachable:
        with _postgres_url(admin) as url:
            post = _measure(url, big, each, writers)
    if post and post["rows"] != lite["rows"]:
        raise RuntimeError(f"row counts differ: SQLite {lite['rows']}, PostgreSQL {post['rows']}")
    if post.get("concurrent_failed"):
        raise RuntimeError(f"PostgreSQL writers failed: {post['concurrent_failed']}")
    concurrent_baseline = lite["concurrent"]
    lite_note = ""
    if lite["concurrent_failed"]:
        concurrent_baseline = lite["one_by_one"]
        lite_note = (
            f"; SQLite: {len(lite['concurrent_failed'])} of {writers} writers failed at once "
            f"({lite['concurrent_failed'][0][:60]}), its baseline is one after another"
        )
    label = "store, PostgreSQL COPY vs SQLite ADBC"
    return [
        _row(
            f"{label}: {big:,}-row import{note}",
            post.get("import"),
            lite["import"],
            "s",
            post.get("import_peak"),
        ),
        _row(
            f"{label}: replace the same {big:,}-row import{note}",
            post.get("replace"),
            lite["replace"],
            "s",
            post.get("import_peak"),
        ),
        _row(
            f"{label}: {writers} concurrent {each:,}-row imports, wall{note}{lite_note}",
            post.get("concurrent"),
            concurrent_baseline,
            "s",
            post.get("concurrent_peak"),
        ),
    ]


def _unreachable(admin_url: str) -> str | None:
    """Why the PostgreSQL server cannot be used (then the bench reports SQLite alone)."""
    import psycopg

    try:
        plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return type(exc).__name__
    return None


if __name__ == "__main__":
    import sys

    for line in bench_storage(quick="--quick" in sys.argv):
        print(json.dumps(line))
