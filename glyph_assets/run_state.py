"""What a Dagster run of an import's partition does to the import: one rule for every path.

A run may be launched by the API, the inbox sensor, an operator in the Dagster UI (a
materialization or a re-execution of the implicit asset job ``__ASSET_JOB``) or a backfill over
the ``imports`` partitions. Each of them is an attempt of the import: it is recorded in
``import_runs`` with the next attempt number and drives the import's status the same way.

- **Start**: every pipeline asset calls :func:`claim` first. The run records itself (if nobody
  did yet) and marks the import ``running``. This is done inside the run rather than by a
  STARTED run-status sensor because a sensor ticks every few seconds and a small run is over in
  less than one: a late "running" would overwrite the ``succeeded`` that ``persisted_listings``
  already wrote. Inside the run the order is fixed (the claim precedes the run's own writes),
  and a re-execution from a failed step claims at that step, since the earlier steps do not run.
- **End**: :func:`settle` is the rule for a finished run, used by the code location's run-status
  sensors (for every run of the location, whatever job launched it) and by the API when a read
  notices the end first. It records the run too, so a run that never reached a step (canceled
  while queued, failed at launch) is still an attempt.
- A run that is no longer the newest attempt (:func:`superseded`) never touches the import: the
  late end of an older attempt must not overwrite or delete what a newer one produced.

This module imports no Dagster code: the API uses it without loading the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Engine

from glyph_assets.contract import (
    CHECK_JOB_NAME,
    CHECKS_STEP_SUFFIX,
    FANOUT_GRAPH,
    INGEST_JOB_NAMES,
    MAX_ERROR_CHARS,
    PIPELINE_STAGES,
    WILL_RETRY_TAG,
)
from glyph_assets.store import repository
from glyph_assets.store.repository import RunFacts
from glyph_assets.store.status import PERSISTED_STATUSES, ImportStatus

# How long a failed run marked for retry may wait for its retry before the import counts as
# failed after all (a daemon that never came back must not leave it queued for ever).
RETRY_WAIT_SECONDS = 300.0
# Dagster marks a run FAILURE a moment before it tags whether it retries it; a read in between
# must not call the import failed. Past this many seconds a missing tag means "no retry".
RETRY_TAG_WAIT_SECONDS = 30.0


def materializes_pipeline(
    job_name: str, asset_keys: Iterable[str] | None, step_keys: Iterable[str] | None
) -> bool:
    """Is the run an attempt of its import's pipeline?

    A run of the implicit asset job says what it materializes by its asset selection; a
    re-execution by its steps, where a stage's checks and the fan-out's steps count as the
    stage's (a retry of a run whose worker died after persisting re-runs only the last checks,
    and it is what settles the import); a run of ``ingest_import`` (or of its fanned-out twin
    ``ingest_import_chunked``) always works on its import, whatever steps it re-executes. A run
    of ``check_import`` only checks what an attempt produced (a re-execution of it included).
    """
    if job_name == CHECK_JOB_NAME:
        return False
    if job_name in INGEST_JOB_NAMES:
        return True
    if asset_keys is not None:
        return not set(PIPELINE_STAGES).isdisjoint(asset_keys)
    if step_keys is not None:
        return any(_pipeline_step(step) for step in step_keys)
    return False


def _pipeline_step(step_key: str) -> bool:
    """A stage's own step, its checks' step, or a step of the graph that fans stages out."""
    node = step_key.split(".", 1)[0]
    return node == FANOUT_GRAPH or node.removesuffix(CHECKS_STEP_SUFFIX) in PIPELINE_STAGES


def retry_pending(
    tags: Mapping[str, str], ended: float | None = None, now: float | None = None
) -> bool:
    """Will Dagster re-execute this failed run by itself? Its tag says so, and (when the run's
    end time is known) the retry is not overdue by ``RETRY_WAIT_SECONDS``."""
    if str(tags.get(WILL_RETRY_TAG, "")).lower() != "true":
        return False
    return ended is None or now is None or now - ended < RETRY_WAIT_SECONDS


def retry_undecided(
    tags: Mapping[str, str], ended: float | None, now: float, retries_enabled: bool
) -> bool:
    """A failed run that Dagster has not yet tagged with its retry decision (see
    ``RETRY_TAG_WAIT_SECONDS``): whoever reads it now should leave the import as it is."""
    if not retries_enabled or WILL_RETRY_TAG in tags:
        return False
    return ended is None or now - ended < RETRY_TAG_WAIT_SECONDS


def superseded(engine: Engine, import_id: str, run_id: str) -> bool:
    """A later attempt recorded after this run owns the import now: this run must not touch it
    (a late tick for a canceled first attempt would otherwise delete the retry's rows)."""
    attempts = {r["run_id"]: r["attempt"] for r in repository.runs_of(engine, import_id)}
    return run_id in attempts and attempts[run_id] < max(attempts.values())


def claim(
    engine: Engine, import_id: str, run_id: str, parent_run_id: str | None = None
) -> int | None:
    """A run starts working on the import: record it as the next attempt (once), with the run
    it re-executes (``parent_run_id``: a retry from the Dagster UI is recorded here first), and
    mark the import running. Returns the attempt, or None when glyph has no such import.

    Writes only what changed: every pipeline step calls this, and on SQLite a needless write
    would queue behind another import's bulk transaction.
    """
    record = repository.get_import(engine, import_id)
    if record is None:
        return None
    runs = {r["run_id"]: r for r in repository.runs_of(engine, import_id)}
    facts = RunFacts(parent_run_id)
    if run_id in runs:
        attempt = int(runs[run_id]["attempt"])
        if facts.missing_from(runs[run_id]):
            repository.keep_run_facts(engine, run_id, facts)
    else:
        attempt = repository.add_run(engine, import_id, run_id, status="STARTED", facts=facts)
    if superseded(engine, import_id, run_id):
        return attempt
    if record["status"] != ImportStatus.RUNNING:
        repository.set_import_status(engine, import_id, ImportStatus.RUNNING)
    return attempt


def settle(
    engine: Engine,
    import_id: str,
    run_id: str,
    run_status: str,
    failure: Callable[[], str | None],
    replace_message: bool = False,
    will_retry: bool = False,
    facts: RunFacts | None = None,
) -> dict[str, Any] | None:
    """Apply a finished run (SUCCESS, FAILURE or CANCELED) to its import; returns the import.

    - SUCCESS: ``succeeded``, or ``partially_succeeded`` when the import has row errors, with
      the counts of its rows (``persisted_listings`` normally wrote this already).
    - FAILURE: ``failed`` with ``failure()`` as the message; an import already failed with a
      message keeps it unless ``replace_message`` (the sensor, which knows this run's reason).
      A failure Dagster retries by itself (``will_retry``, see :func:`retry_pending`) is not the
      import's end: it goes back to ``queued`` with the reason, and the retry, recorded as the
      next attempt when it claims the import, decides.
    - CANCELED: ``canceled``, and whatever rows the import has are deleted.

    The run is recorded if it was not yet (next attempt), its stored status and ``facts`` (its
    parent, start and end, as Dagster gives them) are brought up to date, and nothing else
    happens when a newer attempt exists. None when the import is unknown.
    """
    record = repository.get_import(engine, import_id)
    if record is None:
        return None
    runs = {r["run_id"]: r for r in repository.runs_of(engine, import_id)}
    if run_id not in runs:
        repository.add_run(engine, import_id, run_id, status=run_status, facts=facts)
    elif runs[run_id]["status"] != run_status or (facts and facts.missing_from(runs[run_id])):
        repository.set_run_status(engine, run_id, run_status, facts)
    if superseded(engine, import_id, run_id):
        return record
    status = record["status"]
    if run_status == "SUCCESS":
        if status in PERSISTED_STATUSES:
            return record
        repository.finish_import(
            engine, import_id, ImportStatus.SUCCEEDED, total_rows=record.get("total_rows")
        )
    elif run_status == "FAILURE" and will_retry:
        if status == ImportStatus.QUEUED:
            return record
        message = failure() or "run failed"
        repository.set_import_status(
            engine,
            import_id,
            ImportStatus.QUEUED,
            error_message=f"retried automatically after: {message}"[:MAX_ERROR_CHARS],
        )
    elif run_status == "FAILURE":
        if status == ImportStatus.FAILED and record.get("error_message") and not replace_message:
            return record
        repository.finish_import(engine, import_id, ImportStatus.FAILED, error_message=failure())
    elif run_status == "CANCELED":
        repository.finish_import(engine, import_id, ImportStatus.CANCELED)
        if status == ImportStatus.CANCELED:
            return record
    else:
        return record
    return repository.get_import(engine, import_id) or record


__all__ = [
    "RunFacts",
    "claim",
    "materializes_pipeline",
    "retry_pending",
    "retry_undecided",
    "settle",
    "superseded",
]
