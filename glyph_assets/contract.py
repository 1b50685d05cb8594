"""What the code location and the API agree on, in one module that imports no Dagster.

The two sides run in different processes and meet only through Dagster: the API launches runs
with tags and reads their events over GraphQL; the code location's assets, sensors and jobs
produce them. Every name one side writes and the other reads lives here, so renaming one is a
change in one place rather than a silent break (``GET /api/jobs/{id}/status`` used to parse a
log line back with a regular expression).

- names: the ingest job, the partitions definition, the five pipeline stages (asset keys);
- run tags: glyph's own (``glyph/...``) and the Dagster ones glyph sets or reads;
- the progress event: an ``AssetObservation`` whose metadata :func:`progress_metadata` builds
  and :func:`progress_from_metadata` reads back, whichever side holds it;
- the failure rule: how a run's failure events become an import's ``error_message``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from glyph_assets.landing import NO_SPACE_MESSAGES

# -- names ------------------------------------------------------------------------------------
INGEST_JOB_NAME = "ingest_import"
# The same assets for a large import, its normalize and enrich stages fanned out over chunk
# steps (glyph_assets/assets/fanout.py); chosen at launch by ``ingest_job_for``.
FANOUT_JOB_NAME = "ingest_import_chunked"
INGEST_JOB_NAMES = (INGEST_JOB_NAME, FANOUT_JOB_NAME)
# The asset checks of an import's stages, run after a successful ingest run
# (``sensors.build_import_checks_sensor``): they do not hold up the import's end.
CHECK_JOB_NAME = "check_import"
MARKET_JOB_NAME = "refresh_market"
IMPORTS_PARTITIONS_NAME = "imports"

RAW_LISTINGS = "raw_listings"
NORMALIZED_LISTINGS = "normalized_listings"
ENRICHED_LISTINGS = "enriched_listings"
SCORED_LISTINGS = "scored_listings"
PERSISTED_LISTINGS = "persisted_listings"
# The pipeline's assets in the order a run materializes them (also its step keys).
PIPELINE_STAGES = (
    RAW_LISTINGS,
    NORMALIZED_LISTINGS,
    ENRICHED_LISTINGS,
    SCORED_LISTINGS,
    PERSISTED_LISTINGS,
)

# The step that runs a stage's asset checks (``checks.py``): ``<stage>_checks``.
CHECKS_STEP_SUFFIX = "_checks"


def check_step(stage: str) -> str:
    """The name of the multi-asset check (and its step) that checks ``stage``."""
    return f"{stage}{CHECKS_STEP_SUFFIX}"


# -- run tags ---------------------------------------------------------------------------------
IMPORT_TAG = "glyph/import_id"
SOURCE_TAG = "glyph/source"
ATTEMPT_TAG = "glyph/attempt"
# Which of glyph's jobs a run belongs to (JOB_INGEST, JOB_CHECKS or JOB_MARKET), for filtering
# in the UI.
JOB_TAG = "glyph/job"
JOB_INGEST = "ingest"
JOB_CHECKS = "checks"
JOB_MARKET = "market"
# On a run of CHECK_JOB_NAME: the ingest run whose materializations it checks.
CHECKED_RUN_TAG = "glyph/checked_run"
# A run nobody waits for (the checks after an import): the queue takes it last and one at a
# time, it never holds a small import out of the fast lane (``run_coordinator``), and its
# worker yields the CPU to the runs clients wait for (``run_launcher``).
PRIORITY_TAG = "glyph/priority"
PRIORITY_BACKGROUND = "background"
BACKGROUND_RUNS_AT_ONCE = 1
# Dagster's own run priority: the queue dequeues higher values first (default 0).
DAGSTER_PRIORITY_TAG = "dagster/priority"
BACKGROUND_TAGS = {PRIORITY_TAG: PRIORITY_BACKGROUND, DAGSTER_PRIORITY_TAG: "-1"}
PARTITION_TAG = "dagster/partition"
# Enforced by the daemon's run monitoring: a run older than this is terminated and failed.
MAX_RUNTIME_TAG = "dagster/max_runtime"
# Set on a re-execution with new run config: Dagster then resumes from the failed step.
RESUME_RETRY_TAG = "dagster/is_resume_retry"
# Set by Dagster on a failed run that its run retries (instance ``run_retries``) will re-execute.
WILL_RETRY_TAG = "dagster/will_retry"
# Where a run's worker is (pid and start time, JSON): written by glyph_assets.run_launcher.
RUN_WORKER_TAG = "glyph/run_worker"
# How a run wants to be launched: LAUNCH_EXPRESS (a small import, or one a client waits for in
# its request) skips the run queue while it has room (glyph_assets.run_coordinator); without the
# tag a run is queued.
LAUNCH_TAG = "glyph/launch"
LAUNCH_EXPRESS = "express"


def launch_tags(
    size_bytes: int | None, express_max_bytes: int, waited_on: bool = False
) -> dict[str, str]:
    """The launch tag of an import's run: express when its landed file is small, or at any size
    when the client waits for the import inside its request (an established client's
    synchronous upload: the dequeue tick would be part of its answer's latency). An
    ``express_max_bytes`` of 0 queues every run, as GLYPH_EXPRESS_MAX_BYTES documents."""
    if express_max_bytes <= 0:
        return {}
    if waited_on or (size_bytes is not None and 0 <= size_bytes <= express_max_bytes):
        return {LAUNCH_TAG: LAUNCH_EXPRESS}
    return {}


# The steps of a fanned-out run's normalize and enrich stages: ``listing_chunks.plan_chunks``,
# ``listing_chunks.transform_chunk[c0000]``..., ``listing_chunks.assemble_chunks``.
FANOUT_GRAPH = "listing_chunks"
FANOUT_STEP_PREFIX = FANOUT_GRAPH + "."
_FANOUT_DONE_STEP = FANOUT_STEP_PREFIX + "assemble_chunks"


def stages_of_step(step_key: str) -> tuple[str, ...]:
    """The pipeline stages a step computes: its own for a one-step stage, normalize and
    enrich for each step of a fanned-out run's ``listing_chunks``, none for a check."""
    if step_key in PIPELINE_STAGES:
        return (step_key,)
    if step_key.startswith(FANOUT_STEP_PREFIX):
        return (NORMALIZED_LISTINGS, ENRICHED_LISTINGS)
    return ()


def stage_statuses(step_status: Mapping[str, str | None]) -> dict[str, str | None]:
    """Each stage's status from a run's step statuses (step key -> status), for either job: a
    fanned-out stage is done when its assembling step is, failed when any of its steps failed,
    else in progress once one of them started."""
    out: dict[str, str | None] = {}
    fanned = {k: v for k, v in step_status.items() if k.startswith(FANOUT_STEP_PREFIX)}
    for stage in PIPELINE_STAGES:
        out[stage] = step_status.get(stage)
    if fanned:
        statuses = set(fanned.values())
        if fanned.get(_FANOUT_DONE_STEP) == "SUCCESS":
            status: str | None = "SUCCESS"
        elif "FAILURE" in statuses:
            status = "FAILURE"
        else:
            status = "IN_PROGRESS" if statuses - {None} else None
        out[NORMALIZED_LISTINGS] = out[ENRICHED_LISTINGS] = status
    return out


def ingest_job_for(rows: int, fanout_min_rows: int, run_config: Mapping | None = None) -> str:
    """The job a new import's run is launched as: ``ingest_import_chunked`` from
    ``GLYPH_FANOUT_MIN_ROWS`` data rows (0: never), else ``ingest_import``, whose one step per
    stage keeps a small import's latency. A run config names the one-step job's ops (a
    stage's delay or fault switch), so a run launched with one stays on that job."""
    if fanout_min_rows > 0 and rows >= fanout_min_rows and not run_config:
        return FANOUT_JOB_NAME
    return INGEST_JOB_NAME


def runtime_limit_tags(seconds: int | None) -> dict[str, str]:
    """The processing-time limit an ingest run carries (GLYPH_MAX_RUN_SECONDS; 0: none)."""
    return {MAX_RUNTIME_TAG: str(seconds)} if seconds and seconds > 0 else {}


def import_of(tags: Mapping[str, str]) -> str | None:
    """The import a run works on: our own tag, else the partition (UI runs and backfills)."""
    return tags.get(IMPORT_TAG) or tags.get(PARTITION_TAG) or None


# -- the progress event -----------------------------------------------------------------------
# Seconds between two progress events of a stage: each is an event written to Dagster's event
# log, and a chunk every half second would make the log itself a cost. The first and the last
# chunk of a stage always get one.
PROGRESS_EVERY_S = 2.0
PROGRESS_STAGE = "glyph/progress_stage"
PROGRESS_DONE = "glyph/rows_done"
PROGRESS_TOTAL = "glyph/rows_total"


@dataclass(frozen=True)
class ProgressEvent:
    """How far a stage is: rows done, of ``total`` when the stage knows it (raw_listings
    reads a file whose row count it learns only at the end)."""

    stage: str
    done: int
    total: int | None = None

    @property
    def text(self) -> str:
        of = f" / {self.total}" if self.total is not None else ""
        return f"{self.stage}: {self.done}{of} rows"


def progress_metadata(rows: ProgressEvent) -> dict[str, str | int]:
    """The metadata of a progress event (plain values: Dagster types them as text and int)."""
    metadata: dict[str, str | int] = {PROGRESS_STAGE: rows.stage, PROGRESS_DONE: rows.done}
    if rows.total is not None:
        metadata[PROGRESS_TOTAL] = rows.total
    return metadata


def progress_from_metadata(values: Mapping[str, object]) -> ProgressEvent | None:
    """A progress event's metadata (label -> value) back to its figures; None when the event
    is not a progress event."""
    stage, done, total = (values.get(k) for k in (PROGRESS_STAGE, PROGRESS_DONE, PROGRESS_TOTAL))
    if not isinstance(stage, str) or done is None:
        return None
    return ProgressEvent(stage, int(str(done)), int(str(total)) if total is not None else None)


# -- where a step ran -------------------------------------------------------------------------
# Every pipeline step records the worker that runs it as an observation with this entry: the
# Celery node name (``w1@host``) on the celery executor, ``host:pid`` in the run's own process.
STEP_WORKER = "glyph/worker"
# dagster-celery's own engine event names the node too ("Executing steps ... in celery worker").
CELERY_WORKER_LABEL = "Celery worker"


def worker_metadata(worker: str) -> dict[str, str]:
    """The metadata of a step's placement event."""
    return {STEP_WORKER: worker}


def worker_from_metadata(values: Mapping[str, object]) -> str | None:
    """The worker an event names (glyph's placement event or dagster-celery's), else None."""
    worker = values.get(STEP_WORKER) or values.get(CELERY_WORKER_LABEL)
    return worker if isinstance(worker, str) and worker else None


# -- the failure rule -------------------------------------------------------------------------
# An import's error_message column holds at most this much (the rest of a traceback is noise).
MAX_ERROR_CHARS = 4000
# The daemon's run monitoring fails an over-long run with a message saying so: that message is
# the reason, not the step it interrupted.
RUNTIME_LIMIT_MARK = "maximum runtime"


def root_cause(message: str | None, cause: str | None) -> str | None:
    """The user's exception rather than Dagster's wrapper ("Error occurred while executing op",
    ``RetryRequestedFromPolicy``): the cause's message when there is one."""
    text = cause or message
    return text.strip() if text and text.strip() else None


def failure_message(
    step_failures: Sequence[tuple[str, str]],
    retry_errors: Mapping[str, str] | None = None,
    run_failure: str | None = None,
) -> str | None:
    """Why a run failed, as an import's ``error_message``: ``step <name>: <error>``.

    The last failed step's own error wins over Dagster's generic run failure; after exhausted
    retries the error that caused them is added. A run stopped by the processing-time limit
    says so rather than naming the step it interrupted. Bounded to ``MAX_ERROR_CHARS``.
    """
    if run_failure and RUNTIME_LIMIT_MARK in run_failure:
        return run_failure.strip()[:MAX_ERROR_CHARS]
    if step_failures:
        step, error = step_failures[-1]
        text = f"step {step}: {error.strip()}"
        cause = (retry_errors or {}).get(step)
        if cause and cause.strip() != error.strip():
            text += f" (last error: {cause.strip()})"
        return _disk_full_first(text)[:MAX_ERROR_CHARS]
    return _disk_full_first(run_failure.strip())[:MAX_ERROR_CHARS] if run_failure else None


def _disk_full_first(text: str) -> str:
    """A run stopped by a full disk says so first: the operator's fix is space, not the data
    (retry the import once there is space again)."""
    if any(mark in text for mark in (*NO_SPACE_MESSAGES, "[Errno 28]")):
        return f"disk full: {text}"
    return text


__all__ = [
    "ATTEMPT_TAG",
    "IMPORT_TAG",
    "CHECKED_RUN_TAG",
    "CHECKS_STEP_SUFFIX",
    "CHECK_JOB_NAME",
    "check_step",
    "IMPORTS_PARTITIONS_NAME",
    "FANOUT_GRAPH",
    "FANOUT_JOB_NAME",
    "FANOUT_STEP_PREFIX",
    "INGEST_JOB_NAME",
    "INGEST_JOB_NAMES",
    "JOB_CHECKS",
    "JOB_TAG",
    "LAUNCH_EXPRESS",
    "LAUNCH_TAG",
    "MAX_ERROR_CHARS",
    "MAX_RUNTIME_TAG",
    "PARTITION_TAG",
    "BACKGROUND_RUNS_AT_ONCE",
    "BACKGROUND_TAGS",
    "DAGSTER_PRIORITY_TAG",
    "PRIORITY_BACKGROUND",
    "PRIORITY_TAG",
    "PIPELINE_STAGES",
    "PROGRESS_EVERY_S",
    "ProgressEvent",
    "RESUME_RETRY_TAG",
    "RUN_WORKER_TAG",
    "SOURCE_TAG",
    "STEP_WORKER",
    "WILL_RETRY_TAG",
    "failure_message",
    "import_of",
    "ingest_job_for",
    "launch_tags",
    "stage_statuses",
    "stages_of_step",
    "progress_from_metadata",
    "progress_metadata",
    "root_cause",
    "runtime_limit_tags",
    "worker_from_metadata",
    "worker_metadata",
]
