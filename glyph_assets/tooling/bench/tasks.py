"""Benchmark tasks, each run in its own interpreter so its peak memory is its own.

Usage: ``python -m glyph_assets.tooling.bench.tasks TASK ARGS...``; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from glyph_assets.tooling.bench.memory import peak_mb


def task_read_csv(path: str) -> dict[str, Any]:
    start = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {"seconds": time.perf_counter() - start, "rows": len(frame)}


def task_sqlite_floor(path: str, db: str) -> dict[str, Any]:
    """The machine's floor for ingesting: read_csv plus one bulk insert into an empty table."""
    start = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    read_s = time.perf_counter() - start
    conn = sqlite3.connect(db)
    columns = ", ".join(f'"{c}" TEXT' for c in frame.columns)
    conn.execute(f"CREATE TABLE listings (import_index INTEGER, {columns})")
    marks = ", ".join("?" for _ in range(len(frame.columns) + 1))
    with conn:
        conn.executemany(
            f"INSERT INTO listings VALUES ({marks})",
            ((i, *row) for i, row in enumerate(frame.itertuples(index=False, name=None))),
        )
    conn.close()
    return {"seconds": time.perf_counter() - start, "read_seconds": read_s, "rows": len(frame)}


def task_offline(path: str, chunk_rows: str = "100000") -> dict[str, Any]:
    """Each stage timed separately over the same chunks, in this one process, then the sum as
    the whole pipeline. ``titles`` is the analysis of each distinct title the first time it is
    seen (inside normalize, which is timed without it); ``keys`` the listing keys."""
    from glyph_assets.sieve.clean import clean
    from glyph_assets.sieve.enrich import enrich
    from glyph_assets.sieve.listing_key import listing_keys
    from glyph_assets.sieve.normalize import analyse_titles, normalize
    from glyph_assets.sieve.read import iter_raw_chunks
    from glyph_assets.sieve.registry import load_registry
    from glyph_assets.sieve.score import market_reference, score

    load_registry()
    stages = ("read", "clean", "titles", "normalize", "keys", "enrich", "score")
    timings = dict.fromkeys(stages, 0.0)

    def analyse(titles: list[str]) -> None:
        now = time.perf_counter()
        analyse_titles(titles)
        timings["titles"] += time.perf_counter() - now

    enriched: list[pd.DataFrame] = []
    rows = 0
    started = time.perf_counter()
    tick = time.perf_counter()
    for raw in iter_raw_chunks(Path(path), chunk_rows=int(chunk_rows)):
        now = time.perf_counter()
        timings["read"] += now - tick
        cleaned = clean(raw)
        timings["clean"] += time.perf_counter() - now
        now, analysed = time.perf_counter(), timings["titles"]
        normalized = normalize(cleaned, analyse_new=analyse)
        timings["normalize"] += time.perf_counter() - now - (timings["titles"] - analysed)
        now = time.perf_counter()
        normalized["listing_key"] = listing_keys(normalized)
        timings["keys"] += time.perf_counter() - now
        now = time.perf_counter()
        enriched.append(enrich(normalized))
        timings["enrich"] += time.perf_counter() - now
        rows += len(raw)
        tick = time.perf_counter()
    now = time.perf_counter()
    reference = market_reference(enriched)
    scored = [score(frame, reference=reference) for frame in enriched]
    timings["score"] += time.perf_counter() - now
    total = time.perf_counter() - started
    matched = sum(int(f["canonical_model"].notna().sum()) for f in scored)
    return {"seconds": total, "stages": timings, "rows": rows, "matched": matched}


def task_pipeline(path: str, output: str) -> dict[str, Any]:
    """``glyph pipeline`` as a user runs it: every stage, the listings and row-errors files
    written; its peak memory is the whole run's."""
    from glyph_assets.offline import default_title_helpers, write_offline_outputs
    from glyph_assets.tooling.bench.api import MemorySampler

    start = time.perf_counter()
    # The helper processes' memory counts too, sampled (their rusage peak would be this
    # process's size at the moment they were forked to exec the new interpreter).
    with MemorySampler([os.getpid()], roots=False) as children:
        result = write_offline_outputs(Path(path), Path(output), helpers=default_title_helpers())
    return {
        "seconds": time.perf_counter() - start,
        "rows": result.rows,
        "listings": result.listings,
        "errors": result.errors,
        "helpers": result.helpers,
        "helpers_peak_mb": children.peak_mb,
    }


def task_pipeline_rows(path: str, output: str) -> dict[str, Any]:
    """``pipeline``, with every distinct title of the file analysed in this process before the
    clock starts: what the rest of the run costs (reading, cleaning, matching rows to known
    titles, listing keys, enrich, score, the output files), that is, the whole run as it would
    be with a title matcher that took no time. The helper still starts and makes the keys."""
    from glyph_assets.offline import default_title_helpers, write_offline_outputs
    from glyph_assets.sieve.normalize import analyse_titles, analysed_titles

    analyse_titles([t.strip() for t in _distinct_titles(path) if t.strip()])
    known = analysed_titles()
    start = time.perf_counter()
    result = write_offline_outputs(Path(path), Path(output), helpers=default_title_helpers())
    return {
        "seconds": time.perf_counter() - start,
        "rows": result.rows,
        "listings": result.listings,
        # titles the run still had to analyse (cleaning can change a title: 0 on a scrape)
        "titles_analysed_in_run": analysed_titles() - known,
    }


def task_titles(distinct: str = "20000", seed: str = "11") -> dict[str, Any]:
    """Distinct titles per second through ``match_title`` on a cold cache (the normalizer's own
    cost, without pandas): generated titles from ``datagen.title_pool``, each matched once."""
    import numpy as np

    from glyph_assets.tooling.bench.datagen import title_pool

    titles = [t for t, _, _ in title_pool(int(distinct), np.random.default_rng(int(seed)))]
    return _titles_per_second(titles)


def task_file_titles(path: str) -> dict[str, Any]:
    """As ``titles``, on the distinct titles of a file's ``title`` column (a generated upload's
    60,000, say: seller-written titles, not the pool's)."""
    return _titles_per_second(_distinct_titles(path))


def _distinct_titles(path: str) -> list[str]:
    """The distinct values of a file's ``title`` column, as read_csv gives them."""
    frame = pd.read_csv(path, usecols=["title"], dtype=str, keep_default_na=False)
    return frame["title"].unique().tolist()


def _titles_per_second(titles: list[str]) -> dict[str, Any]:
    from glyph_assets.sieve.normalize import match_title
    from glyph_assets.sieve.registry import clear_registry_cache, load_registry

    best = float("inf")
    for _ in range(3):
        # A registry loaded afresh has a fresh matcher index with nothing cached in it; building
        # the index is not what is measured, so a warm-up title builds it before the clock starts.
        clear_registry_cache()
        registry = load_registry()
        match_title("warm up the index", registry=registry)
        start = time.perf_counter()
        for title in titles:
            match_title(title, registry=registry)
        best = min(best, time.perf_counter() - start)
    return {"seconds": best, "titles": len(titles), "titles_per_s": len(titles) / best}


def task_ingest(path: str) -> dict[str, Any]:
    """One import end to end through a Dagster run of the real ``ingest_import`` job (five
    assets, in_process executor, the code location's IO manager) into the database, the same
    job the API and the inbox sensor launch, then the ``check_import`` run its checks sensor
    launches after it. ``seconds`` covers both, as it did when the checks ran inside the ingest
    run; ``ingest_seconds`` the ingest run alone (what a client waiting for its import sees)."""
    from dagster import DagsterInstance

    from glyph_assets.contract import (
        CHECK_JOB_NAME,
        IMPORT_TAG,
        IMPORTS_PARTITIONS_NAME,
        INGEST_JOB_NAME,
    )
    from glyph_assets.definitions import defs
    from glyph_assets.imports import file_chunks, register_import
    from glyph_assets.sensors import checks_request
    from glyph_assets.settings import get_settings
    from glyph_assets.store import repository
    from glyph_assets.store.db import migrate

    settings = get_settings()
    migrate(settings.sqlalchemy_url)
    start = time.perf_counter()
    source = Path(path)
    registered = register_import(file_chunks(source), filename=source.name, source="bench")
    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, [registered.import_id])
        result = defs.resolve_job_def(INGEST_JOB_NAME).execute_in_process(
            instance=instance,
            partition_key=registered.import_id,
            tags={IMPORT_TAG: registered.import_id},
        )
        ingest_seconds = time.perf_counter() - start
        run = instance.get_run_by_id(result.run_id)
        request = checks_request(run) if run is not None else None
        if request is None:
            raise RuntimeError(f"no checks follow the ingest run {result.run_id}")
        checks = defs.resolve_job_def(CHECK_JOB_NAME).execute_in_process(
            instance=instance, tags=request.tags
        )
        steps = {
            **_step_seconds(instance, result.run_id),
            **_step_seconds(instance, checks.run_id),
        }
    seconds = time.perf_counter() - start
    counts = repository.count_rows(migrate(settings.sqlalchemy_url), registered.import_id)
    return {
        "seconds": seconds,
        "ingest_seconds": ingest_seconds,
        "success": result.success and checks.success,
        "import_id": registered.import_id,
        "steps": steps,
        **counts,
    }


def _step_seconds(instance: Any, run_id: str) -> dict[str, float]:
    """Wall time of each step of the run (assets and checks), from its event log."""
    stats = instance.get_run_step_stats(run_id)
    return {
        s.step_key: round(s.end_time - s.start_time, 2)
        for s in stats
        if s.start_time is not None and s.end_time is not None
    }


TASKS = {
    "read_csv": task_read_csv,
    "sqlite_floor": task_sqlite_floor,
    "offline": task_offline,
    "pipeline": task_pipeline,
    "pipeline_rows": task_pipeline_rows,
    "titles": task_titles,
    "file_titles": task_file_titles,
    "ingest": task_ingest,
}


def main(argv: list[str]) -> None:
    result = TASKS[argv[0]](*argv[1:])
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
