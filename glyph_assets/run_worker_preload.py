"""What the warm run launcher's fork server imports before it forks any run worker.

A run worker that starts from ``import dagster`` still imports about 300 modules before its first
step (the CLI's run body, the instance's storages, SQLAlchemy's SQLite dialect, the in-process
executor), and resolves the code location's repository and jobs: seconds of every run on this
project's machine. Importing and resolving them here, once, leaves every forked worker with
them done. (Found by listing the modules a worker forked after ``import dagster`` imported.)
"""

import contextlib
import gc
import importlib
import logging

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from glyph_assets.assets.placement import current_worker
from glyph_assets.contract import ENRICHED_LISTINGS, NORMALIZED_LISTINGS, SCORED_LISTINGS
from glyph_assets.dagster_storage import sqlite_head_revision
from glyph_assets.definitions import defs
from glyph_assets.io_managers import PART_COMPRESSION
from glyph_assets.memory import give_back_freed_memory
from glyph_assets.sieve.pipeline import Stages, arrow_text_types
from glyph_assets.sieve.registry import clear_registry_cache
from glyph_assets.sieve.schemas import STAGE_SCHEMAS, validate_stage

RUN_WORKER_MODULES = (
    "dagster._cli.api",
    "dagster._core.execution.plan.active",
    "dagster._core.execution.plan.resume_retry",
    "dagster._core.execution.run_cancellation_thread",
    "dagster._core.executor.in_process",
    "dagster._core.instance.factory",
    "dagster._core.secrets.env_file",
    "dagster._core.storage.event_log.sqlite",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._core.storage.migration.utils",
    "dagster._core.storage.root",
    "dagster._core.storage.runs.sqlite",
    "dagster._core.storage.schedules.sqlite",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.system_config.composite_descent",
    "dagster._core.workspace.autodiscovery",
    "dagster._utils.test.definitions",
    "fsspec.implementations.local",
    "adbc_driver_sqlite.dbapi",  # the persist step's bulk writer on a SQLite warehouse
    "glyph_assets.run_coordinator",
    "glyph_assets.run_launcher",
    "glyph_assets.store.columns",
    "glyph_assets.store.sqlite_bulk",
    "tabulate",  # the checks' Markdown tables (pandas imports it on first use)
    "sqlalchemy.dialects.sqlite",
    "upath.implementations.local",  # Dagster's IO managers' paths, and fsspec beneath them
)

for _name in RUN_WORKER_MODULES:
    importlib.import_module(_name)
with contextlib.suppress(ImportError):  # the instance's storage with GLYPH_DAGSTER_POSTGRES_URL
    importlib.import_module("dagster_postgres")

# Definitions resolve lazily and cache the result on ``defs``, the object a worker loads again.
defs.get_repository_def().get_all_jobs()

# Made-up listings, one of each kind an import can be, for exercise_stages.
RAW_ROW = {"title": "NVIDIA GeForce RTX 4090 24GB", "price": "$1,599.00", "url": ""}
SCORED_ROW = {"canonical_model": "RTX_4090", "price": "1599.0", "score": "0.9"}


def exercise_stages() -> None:
    """Run the stages on a made-up row of each kind, validate each stage's output with its
    stage's schema and round-trip it through Parquet, all in memory, as the steps do.

    Why: what a step does the first time in a process (pandera registering its backends,
    pyarrow's dataset and pandas modules, Dagster's event-log schema revision read from its
    scripts, Celery's task state) cost a 3-row import's worker about 0.15 s before any row was
    touched. Done here once, every forked worker starts with it done. Nothing is written, and
    the registry is not kept: each worker reads it once, as before, so a run never sees an
    edit made after the fork server started or one made halfway through the run.
    """
    for kind, row in (("raw", RAW_ROW), ("scored", SCORED_ROW)):
        stages = Stages(kind=kind)
        normalized = stages.normalize(pd.DataFrame([row]))
        enriched = stages.enrich(normalized)
        for scored in stages.score(lambda _columns, frame=enriched: [frame]):
            outputs = {
                NORMALIZED_LISTINGS: normalized,
                ENRICHED_LISTINGS: enriched,
                SCORED_LISTINGS: scored,
            }
            for stage, frame in outputs.items():
                validate_stage(STAGE_SCHEMAS[stage], frame)
                sink = pa.BufferOutputStream()
                table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
                pq.write_table(table, sink, compression=PART_COMPRESSION)
                source = pa.BufferReader(sink.getvalue())
                read = pq.read_table(source, use_threads=False)
                read.to_pandas(types_mapper=arrow_text_types, use_threads=False)
    sqlite_head_revision()
    current_worker()  # imports Celery's task state, to ask whether a step is a Celery task
    clear_registry_cache()


try:
    exercise_stages()
except Exception:  # noqa: BLE001 - a warm-up must never stop the fork server
    # A worker then pays for the first use itself, and a real problem (a broken registry, say)
    # fails its run with the stage's own error instead of every launch failing here.
    logging.getLogger(__name__).warning("run worker warm-up failed", exc_info=True)
    clear_registry_cache()

# Everything imported above lives as long as the fork server. Frozen, the collector never walks
# it in a worker: a full collection there walked (and so copied) the server's whole heap, about
# 0.2 s between a worker's start and its first step. A 3-row persist's median, 15 runs each on
# the same machine: 1.91 s without, 1.53 s with.
gc.collect()  # nothing the warm-up left behind is frozen with the rest
gc.freeze()
# A worker's steps give back what they free (glyph_assets.memory); trimmed here once, the
# server's own free memory is not inherited, so a worker's first trim does not copy the
# server's heap page by page (7-9 ms in a forked worker measured here, 0.2 ms after this).
give_back_freed_memory()
