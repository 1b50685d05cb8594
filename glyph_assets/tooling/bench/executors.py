"""The celery executor against the default one, on one machine: an import end to end on each,
and what handing every step to a Celery worker costs.

Both stacks run on PostgreSQL (Dagster's instance and the warehouse, fresh databases each), so
the only difference is ``GLYPH_EXECUTOR``: the baseline runs every step in the run's own process,
the figure sends each to one of two supervised ``glyph worker`` processes over the local
RabbitMQ. On two cores little speed-up is possible; the figures say what it costs. Per-stage rows
per second are one worker's (a stage's step runs on one worker), from the run's step times.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from glyph_assets.contract import PIPELINE_STAGES, stages_of_step
from glyph_assets.tooling.bench.api import SAMPLE, post_to_terminal, temporary_stack
from glyph_assets.tooling.bench.datagen import generate_csv
from glyph_assets.tooling.bench.runner import Figure
from glyph_assets.tooling.bench.storage import DEFAULT_ADMIN_URL, _postgres_url, _unreachable

BROKER = ("127.0.0.1", 5672)


def _broker_down() -> str | None:
    with socket.socket() as sock:
        sock.settimeout(2.0)
        return None if sock.connect_ex(BROKER) == 0 else f"no broker at {BROKER[0]}:{BROKER[1]}"


def _steps(base: str, import_id: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=base, timeout=60) as client:
        return list(client.get(f"/api/imports/{import_id}").json().get("steps", []))


def _seconds(step: dict[str, Any]) -> float:
    start, end = (datetime.fromisoformat(step[k]) for k in ("started_at", "ended_at"))
    return (end - start).total_seconds()


def _ingest(work: Path, name: str, files: list[Path], extra: dict[str, str]) -> list[dict]:
    """Each file through a fresh stack of ``extra`` settings on fresh PostgreSQL databases:
    seconds from POST to its end, and its run's steps."""
    admin = os.environ.get("GLYPH_BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL)
    results = []
    with ExitStack() as stack:
        glyph_url = stack.enter_context(_postgres_url(admin))
        dagster_url = stack.enter_context(_postgres_url(admin))
        settings = {
            "GLYPH_DATABASE_URL": glyph_url,
            "GLYPH_DAGSTER_POSTGRES_URL": dagster_url.replace("+psycopg", ""),
            **extra,
        }
        running = stack.enter_context(temporary_stack(work / name, settings))
        for path in files:
            _, seconds, status = post_to_terminal(running.api, path, timeout=3600)
            if status not in ("succeeded", "partially_succeeded"):
                raise RuntimeError(f"{name}: {path.name} ended {status}")
            with httpx.Client(base_url=running.api, timeout=60) as client:
                page = client.get("/api/imports", params={"limit": 1}).json()
            import_id = page["items"][0]["import_id"]
            results.append({"seconds": seconds, "steps": _steps(running.api, import_id)})
    return results


def bench_executors(quick: bool = False) -> list[Figure]:
    """1,000,000 rows (100,000 with ``--quick``) on celery with two workers beside the default
    executor, one-row imports for the per-step dispatch cost, rows/s per stage on a worker."""
    down = _unreachable(os.environ.get("GLYPH_BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    down = down or _broker_down()
    if down:
        return [Figure(f"celery executor: not measured ({down})", 0, "")]
    rows = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="glyph-bench-celery-") as tmp:
        work = Path(tmp)
        big = generate_csv(work / f"generated_{rows}.csv", rows)
        one = work / "one_row.csv"
        one.write_text("\n".join(SAMPLE.read_text().splitlines()[:2]) + "\n")
        files = [one, big]
        default = _ingest(work, "multiprocess", files, {"GLYPH_EXECUTOR": "multiprocess"})
        celery = _ingest(
            work,
            "celery",
            files,
            {
                "GLYPH_EXECUTOR": "celery",
                "GLYPH_CELERY_WORKERS": "2",
                "GLYPH_CELERY_QUEUE": f"glyph-bench-{uuid.uuid4().hex[:8]}",
            },
        )
    small_steps = len(celery[0]["steps"]) or 1
    dispatch = (celery[0]["seconds"] - default[0]["seconds"]) / small_steps
    workers = {s["worker"] for s in celery[1]["steps"]}
    figures = [
        Figure(
            f"celery, 2 workers: {name} end to end",
            celery[i]["seconds"],
            "s",
            baseline=default[i]["seconds"],
            baseline_name="multiprocess executor",
        )
        for i, name in (
            (1, f"ingest {rows:,} rows ({len(workers)} workers used)"),
            (0, f"1-row import ({small_steps} steps)"),
        )
    ]
    figures.append(Figure("celery: dispatch overhead per step (1-row import)", dispatch, "s"))
    by_step = {s["step_key"]: s for s in celery[1]["steps"] if s.get("ended_at")}
    for stage in PIPELINE_STAGES:
        if stage in by_step:
            seconds = max(_seconds(by_step[stage]), 1e-9)
            figures.append(Figure(f"celery worker: {stage} rows/s", rows / seconds, "rows/s"))
    chunks = sum("transform_chunk[" in key for key in by_step)
    if chunks:  # the import fanned out (GLYPH_FANOUT_MIN_ROWS): its chunks ran side by side
        seconds = max(stage_span(celery[1]["steps"], FANNED_STAGES), 1e-9)
        figures.append(
            Figure(
                f"celery workers: normalize+enrich over {chunks} chunk steps rows/s",
                rows / seconds,
                "rows/s",
            )
        )
    return figures


FANNED_STAGES = frozenset({"normalized_listings", "enriched_listings"})


def stage_span(steps: list[dict[str, Any]], stages: frozenset[str]) -> float:
    """Seconds from the first start to the last end of the steps computing ``stages`` (one
    step each, or the chunk steps of a fanned-out run: ``contract.stages_of_step``)."""
    times = [
        (datetime.fromisoformat(s["started_at"]), datetime.fromisoformat(s["ended_at"]))
        for s in steps
        if s.get("started_at") and s.get("ended_at") and stages & set(stages_of_step(s["step_key"]))
    ]
    if not times:
        return 0.0
    return (max(e for _, e in times) - min(b for b, _ in times)).total_seconds()


if __name__ == "__main__":
    import sys

    from glyph_assets.tooling.bench.runner import print_table

    print_table(bench_executors(quick="--quick" in sys.argv), title="celery executor")
