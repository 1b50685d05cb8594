"""One large import with and without fan-out, on one executor: ``ingest_import`` (one step per
stage) against ``ingest_import_chunked`` (normalize and enrich over chunk steps of
``GLYPH_FANOUT_CHUNK_ROWS`` rows), each on a fresh stack on fresh PostgreSQL databases, the same
generated file posted to each. Reported: POST to the import's end, and the span of the normalize
and enrich stages (first step start to last step end), the part fan-out spreads over workers.

``python -m glyph_assets.tooling.bench.fanout [ROWS] [--celery] [--fanned-first]``: 200,000 rows
by default, on the default executor (its steps share the run's process, so fan-out spreads
nothing there) or with ``--celery`` on two supervised workers; the one-step job runs first
unless ``--fanned-first``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

from glyph_assets.tooling.bench.datagen import generate_csv
from glyph_assets.tooling.bench.executors import FANNED_STAGES, _broker_down, _ingest, stage_span
from glyph_assets.tooling.bench.runner import Figure, print_table
from glyph_assets.tooling.bench.storage import DEFAULT_ADMIN_URL, _unreachable


def bench_fanout(
    rows: int = 200_000, celery: bool = False, fanned_first: bool = False
) -> list[Figure]:
    """The same file through both jobs; ``fanned_first`` swaps the order (the machine's load
    and warm caches favour whichever runs second)."""
    down = _unreachable(os.environ.get("GLYPH_BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    down = down or (_broker_down() if celery else None)
    if down:
        return [Figure(f"fan-out: not measured ({down})", 0, "")]
    executor = {"GLYPH_EXECUTOR": "multiprocess"}
    if celery:
        executor = {
            "GLYPH_EXECUTOR": "celery",
            "GLYPH_CELERY_WORKERS": "2",
            "GLYPH_CELERY_QUEUE": f"glyph-bench-{uuid.uuid4().hex[:8]}",
        }
    name = "celery, 2 workers" if celery else "multiprocess"
    with tempfile.TemporaryDirectory(prefix="glyph-bench-fanout-") as tmp:
        work = Path(tmp)
        big = generate_csv(work / f"generated_{rows}.csv", rows)
        runs = {"one-step": "0", "fanned": "1"}  # GLYPH_FANOUT_MIN_ROWS: never / always
        results = {
            name: _ingest(work, name, [big], {**executor, "GLYPH_FANOUT_MIN_ROWS": threshold})
            for name, threshold in sorted(runs.items(), reverse=not fanned_first)
        }
        one_step, fanned = results["one-step"], results["fanned"]
    chunks = sum("transform_chunk[" in s["step_key"] for s in fanned[0]["steps"])
    workers = sorted({s["worker"] for s in fanned[0]["steps"] if s.get("worker")})
    return [
        Figure(
            f"{name}: {rows:,} rows fanned out ({chunks} chunks), POST to end",
            fanned[0]["seconds"],
            "s",
            baseline=one_step[0]["seconds"],
            baseline_name="one step per stage",
        ),
        Figure(
            f"{name}: normalize+enrich span, fanned out over {len(workers)} worker(s)",
            stage_span(fanned[0]["steps"], FANNED_STAGES),
            "s",
            baseline=stage_span(one_step[0]["steps"], FANNED_STAGES),
            baseline_name="one step per stage",
        ),
    ]


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    figures = bench_fanout(
        numbers[0] if numbers else 200_000,
        celery="--celery" in sys.argv,
        fanned_first="--fanned-first" in sys.argv,
    )
    print_table(figures, title="fan-out of one large import")
