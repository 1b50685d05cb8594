"""What the routes do with an import: launch its run, reconcile its state, summarize, retry, cancel.

Dagster is the source of truth for run state. The ``imports`` table caches it: the assets and the
code location's run-status sensors write it, and every read here re-checks the import's newest run
against Dagster whenever the cached state is not final or disagrees with that run.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from glyph_assets import run_state
from glyph_assets.contract import ingest_job_for, stage_statuses, stages_of_step
from glyph_assets.settings import Settings
from glyph_assets.store import changes, pages, repository, summaries
from glyph_assets.store.db import Engine
from glyph_assets.store.repository import RunFacts
from glyph_assets.store.status import (
    PERSISTED_STATUSES,
    RETRYABLE_STATUSES,
    TERMINAL_STATUSES,
    ImportStatus,
)
from glyphd_api.dagster_client import (
    ATTEMPT_TAG,
    RUN_TERMINAL,
    STAGES,
    DagsterError,
    DagsterGateway,
    DagsterUnavailable,
    RunInfo,
    to_datetime,
)
from glyphd_api.errors import ApiError
from glyphd_api.schemas import (
    EstablishedRowError,
    ImportResult,
    ImportSummary,
    ImportSummaryStats,
    JobStatus,
    Links,
    ListingChanges,
    Progress,
    RetryRequest,
    RetryResponse,
    RowErrorOut,
    RunOut,
    ScoreRange,
    StageProgress,
    StepOut,
    Timings,
    TopModel,
)

log = logging.getLogger("glyphd_api")

# The import status each Dagster run status implies; SUCCESS is refined by the row counts.
RUN_TO_IMPORT = {
    "QUEUED": ImportStatus.QUEUED,
    "NOT_STARTED": ImportStatus.QUEUED,
    "MANAGED": ImportStatus.QUEUED,
    "STARTING": ImportStatus.QUEUED,
    "STARTED": ImportStatus.RUNNING,
    "CANCELING": ImportStatus.RUNNING,
    "SUCCESS": ImportStatus.SUCCEEDED,
    "FAILURE": ImportStatus.FAILED,
    "CANCELED": ImportStatus.CANCELED,
}
RUN_TO_JOB = {
    "QUEUED": "queued",
    "NOT_STARTED": "queued",
    "MANAGED": "queued",
    "STARTING": "queued",
    "STARTED": "running",
    "CANCELING": "canceling",
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "CANCELED": "canceled",
}


@dataclass
class Context:
    """One request's handles: settings, the database and (lazily) its own Dagster gateway."""

    settings: Settings
    engine: Engine
    _gateway: DagsterGateway | None = field(default=None, repr=False)

    @property
    def dagster(self) -> DagsterGateway:
        if self._gateway is None:
            self._gateway = DagsterGateway(self.settings)
        return self._gateway

    def dagster_url(self, run_id: str) -> str:
        return f"http://{self.settings.dagster_host}:{self.settings.dagster_port}/runs/{run_id}"

    def links(self, import_id: str, run_id: str | None = None) -> Links:
        return Links(
            summary=f"/api/imports/{import_id}",
            job_status=f"/api/jobs/{run_id}/status" if run_id else None,
            dagster_run=self.dagster_url(run_id) if run_id else None,
            listings=f"/api/imports/{import_id}/listings",
            errors=f"/api/imports/{import_id}/errors",
        )


def dagster_failure(exc: Exception, action: str, import_id: str | None = None) -> ApiError:
    details = {"import_id": import_id} if import_id else None
    if isinstance(exc, DagsterUnavailable):
        return ApiError(503, f"{action}: {exc}", code="dagster_unavailable", details=details)
    return ApiError(502, f"{action}: {exc}", code="dagster_error", details=details)


# -- launching -----------------------------------------------------------------------------------
def launch_first_run(
    ctx: Context,
    import_id: str,
    source: str,
    run_config: dict[str, Any] | None,
    size_bytes: int | None = None,
    rows: int = 0,
    waited_on: bool = False,
) -> tuple[str, int]:
    """Add the import's partition and launch its run; a launch that fails fails the import.
    An import of ``rows`` from GLYPH_FANOUT_MIN_ROWS runs as ``ingest_import_chunked``; one the
    client waits for (``waited_on``) may skip the run queue (``contract.launch_tags``)."""
    job_name = ingest_job_for(rows, ctx.settings.fanout_threshold, run_config)
    try:
        ctx.dagster.add_partition(import_id)
        run_id = ctx.dagster.submit_ingest(
            import_id,
            source,
            run_config,
            attempt=1,
            size_bytes=size_bytes,
            job_name=job_name,
            waited_on=waited_on,
        )
    except (DagsterUnavailable, DagsterError) as exc:
        timed_out = isinstance(exc, DagsterUnavailable) and exc.timed_out
        adopted = _launched_anyway(ctx, import_id) if timed_out else None
        if adopted is not None:
            log.warning("launch of %s timed out but its run %s exists", import_id, adopted)
            return adopted, repository.add_run(ctx.engine, import_id, adopted, status="QUEUED")
        repository.finish_import(
            ctx.engine,
            import_id,
            ImportStatus.FAILED,
            error_message=f"could not launch the run: {exc}",
        )
        if isinstance(exc, DagsterError) and exc.kind == "RunConfigValidationInvalid":
            raise ApiError(
                422,
                f"run_config is not valid: {exc.message}"[:2000],
                code="invalid_run_config",
                details={"import_id": import_id},
            ) from exc
        raise dagster_failure(
            exc, "the import was recorded but its run could not be launched", import_id
        ) from exc
    attempt = repository.add_run(ctx.engine, import_id, run_id, status="QUEUED")
    return run_id, attempt


def _launched_anyway(ctx: Context, import_id: str, attempts: int = 3) -> str | None:
    """A busy webserver may finish a launch after our request to it timed out: find the run by
    the import's tag rather than fail an import whose run is in fact queued."""
    for attempt in range(attempts):
        try:
            runs = ctx.dagster.runs_of_import(import_id, limit=5)
        except (DagsterUnavailable, DagsterError):
            runs = []
        if runs:
            return runs[0].run_id
        if attempt + 1 < attempts:
            time.sleep(2.0)
    return None


# -- reconciling ---------------------------------------------------------------------------------
def consistent(import_status: str, run_status: str) -> bool:
    """Does the cached import status agree with what its newest run's status implies?"""
    implied = RUN_TO_IMPORT.get(run_status)
    if run_status == "SUCCESS":
        return import_status in PERSISTED_STATUSES
    return implied == import_status


def needs_reconcile(record: dict[str, Any], latest: dict[str, Any] | None) -> bool:
    """Only the newest run decides; skip Dagster when the cache is final and agrees with it."""
    if latest is None:
        return False
    if record["status"] not in TERMINAL_STATUSES or latest["status"] not in RUN_TERMINAL:
        return True
    return not consistent(record["status"], latest["status"])


def reconcile(
    ctx: Context, record: dict[str, Any], run: dict[str, Any], info: RunInfo | None
) -> dict[str, Any]:
    """Bring the cached import (and its run row) in line with Dagster's view of its newest run.

    Only a finished run is written back, and only what changed: while a run is active it may
    hold SQLite's write lock, and a read must not queue behind it. An active run's state is
    reported as Dagster gives it. (``run``, the stored row of that run, is re-read by the rule.)
    """
    if info is None:
        return record
    if info.status not in RUN_TERMINAL:
        # Active: the status is Dagster's (even when persisted_listings already wrote its
        # result and the run is wrapping up); the run's sensors and assets write the table.
        return {**record, "status": RUN_TO_IMPORT.get(info.status, record["status"])}
    now = time.time()
    if info.status == "FAILURE" and run_state.retry_undecided(
        info.tags, info.end_time, now, ctx.settings.run_retries > 0
    ):
        return record  # Dagster is about to say whether it retries this run: a later read settles
    # Finished: the same rule the code location's run-status sensors apply (run_state.settle).
    settled = run_state.settle(
        ctx.engine,
        record["import_id"],
        info.run_id,
        info.status,
        lambda: _failure_message(ctx, info.run_id),
        will_retry=run_state.retry_pending(info.tags, info.end_time, now),
        facts=run_facts(info),
    )
    return settled or record


def run_facts(info: RunInfo) -> RunFacts:
    """What glyph keeps of a run besides its status (``import_runs``), from Dagster's answer."""
    return RunFacts.of(info.parent_run_id, info.start_time, info.end_time)


def _failure_message(ctx: Context, run_id: str) -> str | None:
    try:
        return ctx.dagster.events(run_id).failure_message
    except (DagsterUnavailable, DagsterError):
        return None


@dataclass
class ImportState:
    record: dict[str, Any]
    runs: list[dict[str, Any]]
    infos: dict[str, RunInfo]
    dagster_reachable: bool = True
    # The status glyph's database holds, before an active run's status replaces it in
    # ``record``: persisted_listings writes the final one while the run's last step still runs.
    stored_status: str | None = None

    @property
    def wrapping_up(self) -> bool:
        """The import's rows are written and its run is still active: only the run's last
        step (its listing changes) remains."""
        return (
            self.stored_status in PERSISTED_STATUSES
            and self.record["status"] not in TERMINAL_STATUSES
        )


def import_not_found(import_id: str) -> ApiError:
    return ApiError(404, f"no import {import_id}", code="import_not_found")


def known_import(ctx: Context, import_id: str) -> dict[str, Any]:
    """The import's stored record; 404 when there is no such import."""
    record = repository.get_import(ctx.engine, import_id)
    if record is None:
        raise import_not_found(import_id)
    return record


def load_state(ctx: Context, import_id: str, refresh: bool = True) -> ImportState:
    """The import, its runs and Dagster's view of them, reconciled; 404 when unknown."""
    record = known_import(ctx, import_id)
    runs = repository.runs_of(ctx.engine, import_id)
    state = ImportState(record, runs, {}, stored_status=record["status"])
    if not runs or not refresh:
        return state
    latest = runs[-1]
    wanted = [r["run_id"] for r in runs] if needs_reconcile(record, latest) else []
    if not wanted:
        return state
    try:
        state.infos = ctx.dagster.runs(wanted)
    except (DagsterUnavailable, DagsterError) as exc:
        log.warning("could not reconcile import %s: %s", import_id, exc)
        state.dagster_reachable = False
        return state
    for run in runs:
        info = state.infos.get(run["run_id"])
        if info is None or not info.terminal or run is latest:
            continue
        facts = run_facts(info)
        if info.status != run["status"] or facts.missing_from(run):
            repository.set_run_status(ctx.engine, run["run_id"], info.status, facts)
    state.record = reconcile(ctx, record, latest, state.infos.get(latest["run_id"]))
    state.runs = repository.runs_of(ctx.engine, import_id)
    return state


def reconcile_page(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reconcile the not-final imports of a list page with one Dagster call."""
    pending: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for item in items:
        latest = (
            repository.latest_run(ctx.engine, item["import_id"])
            if item.get("latest_run_id")
            else None
        )
        if latest and needs_reconcile(item, latest):
            pending[latest["run_id"]] = (item, latest)
    if not pending:
        return items
    try:
        infos = ctx.dagster.runs(list(pending))
    except (DagsterUnavailable, DagsterError) as exc:
        log.warning("could not reconcile a page of imports: %s", exc)
        return items
    updated: dict[str, dict[str, Any]] = {}
    for run_id, (item, latest) in pending.items():
        record = repository.get_import(ctx.engine, item["import_id"]) or item
        updated[item["import_id"]] = reconcile(ctx, record, latest, infos.get(run_id))
    out = []
    for item in items:
        fresh = updated.get(item["import_id"])
        out.append({**item, **fresh, "latest_run_id": item.get("latest_run_id")} if fresh else item)
    return out


# -- summaries -----------------------------------------------------------------------------------
def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((_aware(end) - _aware(start)).total_seconds(), 3)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_summary(ctx: Context, state: ImportState) -> ImportSummary:
    record = state.record
    import_id = record["import_id"]
    ended = record["status"] in TERMINAL_STATUSES
    stats = summaries.import_figures(ctx.engine, import_id, ended)
    errors, _ = pages.list_errors(
        ctx.engine, import_id, window=replace(pages.FIRST_ERRORS, limit=10)
    )
    runs = [_run_out(ctx, run, state.infos.get(run["run_id"])) for run in state.runs]
    latest_run_id = state.runs[-1]["run_id"] if state.runs else None
    created, started, finished = (
        record.get("created_at"),
        record.get("started_at"),
        record.get("finished_at"),
    )
    if record["status"] not in TERMINAL_STATUSES:
        finished = None
    first_model, last_model = stats["first_model"], stats["last_model"]
    low, high = stats["client_score_min"], stats["client_score_max"]
    if low is None:
        low, high = stats["score_min"], stats["score_max"]
    processing = _seconds(started, finished)
    total = record.get("total_rows")
    return ImportSummary(
        record_count=stats["persisted_rows"],
        first_model=first_model,
        last_model=last_model,
        timestamp=finished or record["updated_at"],
        valid_rows=stats["persisted_rows"],
        invalid_rows=stats["error_rows"],
        score_range=[low, high] if low is not None and high is not None else None,
        rows_with_errors=[_established_error(e) for e in errors],
        summary_stats=(
            ImportSummaryStats(
                total_rows=total,
                successful_rows=stats["persisted_rows"],
                failed_rows=stats["error_rows"],
                warnings_count=stats["warning_rows"],
                processing_time_ms=round((processing or 0.0) * 1000),
            )
            if total is not None and record["status"] in TERMINAL_STATUSES
            else None
        ),
        warnings=list(record.get("warnings") or []),
        score_scale=record.get("score_scale"),
        import_id=import_id,
        status=record["status"],
        source=record["source"],
        description=record.get("description"),
        filename=record.get("filename"),
        content_type=record.get("content_type"),
        kind=record.get("kind") or "raw",
        sha256=record["sha256"],
        size_bytes=record.get("size_bytes") or 0,
        campaign_id=record.get("campaign_id"),
        metadata=record.get("metadata_json"),
        error_message=record.get("error_message"),
        created_at=record["created_at"],
        updated_at=record["updated_at"],
        total_rows=record.get("total_rows"),
        persisted_rows=stats["persisted_rows"],
        error_rows=stats["error_rows"],
        not_gpu_rows=stats["not_gpu_rows"],
        unknown_model_rows=stats["unknown_model_rows"],
        score=ScoreRange(min=stats["score_min"], max=stats["score_max"], mean=stats["score_mean"]),
        top_models=[TopModel(**m) for m in stats["top_models"]],
        first_errors=[RowErrorOut(**e) for e in errors],
        runs=runs,
        steps=_steps(ctx, state),
        timings=Timings(
            received_at=created,
            started_at=started,
            finished_at=finished,
            queued_seconds=_seconds(created, started),
            processing_seconds=_seconds(started, finished),
            total_seconds=_seconds(created, finished),
        ),
        links=ctx.links(import_id, latest_run_id),
        listing_changes=_listing_changes(ctx, import_id),
    )


def _listing_changes(ctx: Context, import_id: str) -> ListingChanges | None:
    found = changes.stored_diff(ctx.engine, import_id)
    if not found:
        return None
    return ListingChanges(**{k: v for k, v in found.items() if k in ListingChanges.model_fields})


def _established_error(error: dict[str, Any]) -> EstablishedRowError:
    """A row error in the established ``RowErrorDTO`` shape (the raw row as an object)."""
    try:
        data = json.loads(error.get("raw_row") or "{}")
    except ValueError:
        data = {"raw_row": error.get("raw_row")}
    field = error.get("field")
    return EstablishedRowError(
        row_index=error["import_index"],
        row_data=data if isinstance(data, dict) else {"raw_row": data},
        errors=[error["reason"]],
        field_errors={field: error["reason"]} if field else {},
    )


def import_result(summary: ImportSummary) -> ImportResult:
    """The summary as the established ``ImportResultDTO`` (``top_models`` as model ids, the
    established schema version) with glyph's own fields beside it."""
    shared = summary.model_dump(exclude={"schema_version", "top_models"})
    return ImportResult(
        **shared,
        top_models=[m.canonical_model for m in summary.top_models],
        top_model_counts=summary.top_models,
        glyph_schema_version=summary.schema_version,
    )


def _steps(ctx: Context, state: ImportState) -> list[StepOut]:
    """The latest run's steps and the worker each ran on, from Dagster (none when it cannot
    answer: the rest of the summary comes from the database and still does)."""
    if not state.runs:
        return []
    run_id = state.runs[-1]["run_id"]
    try:
        info = state.infos.get(run_id) or ctx.dagster.run(run_id)
        if info is None or not info.step_stats:
            return []
        workers = ctx.dagster.events(run_id).workers
    except (DagsterUnavailable, DagsterError) as exc:
        log.warning("could not read the steps of run %s: %s", run_id, exc)
        return []
    # A step that names no worker (an asset check) on the multiprocess executor ran in the run's
    # one process, where every step that did name one ran (on Celery, every step is named).
    named = set(workers.values())
    shared = named.pop() if len(named) == 1 else None
    return [
        StepOut(
            step_key=step.step_key,
            worker=workers.get(step.step_key, shared),
            status=step.status,
            started_at=to_datetime(step.start_time),
            ended_at=to_datetime(step.end_time),
        )
        for step in info.step_stats
    ]


def _run_out(ctx: Context, run: dict[str, Any], info: RunInfo | None) -> RunOut:
    """A run as Dagster gives it now, or as glyph kept it (a final import is not reconciled)."""
    return RunOut(
        run_id=run["run_id"],
        attempt=run["attempt"],
        status=info.status if info else run["status"],
        parent_run_id=info.parent_run_id if info else run.get("parent_run_id"),
        created_at=run.get("created_at"),
        start_time=to_datetime(info.start_time) if info else run.get("started_at"),
        end_time=to_datetime(info.end_time) if info else run.get("ended_at"),
        dagster_url=ctx.dagster_url(run["run_id"]),
    )


# -- jobs ----------------------------------------------------------------------------------------
def progress_of(info: RunInfo, events: Any | None) -> Progress:
    """Assets done (of five) from the step stats; rows from the assets' progress log lines."""
    # by stage: a fanned-out run's normalize and enrich stages are several steps each
    step_status = stage_statuses({s.step_key: s.status for s in info.step_stats})
    to_run = (
        {stage for key in info.step_keys_to_execute for stage in stages_of_step(key)}
        if info.step_keys_to_execute
        else set(STAGES)
    )
    stages: list[StageProgress] = []
    done = 0
    current: str | None = None
    for stage in STAGES:
        status = step_status.get(stage)
        if stage not in to_run:
            status = status or "REUSED"  # re-execution from failure: done by an earlier run
        rows = events.progress.get(stage) if events else None
        if status in ("SUCCESS", "REUSED"):
            done += 1
        elif status == "IN_PROGRESS":
            current = stage
        stages.append(
            StageProgress(
                stage=stage,
                status=status,
                rows_processed=rows.done if rows else None,
                rows_total=rows.total if rows else None,
            )
        )
    if current is None and events is not None and events.last_stage:
        current = events.last_stage
    rows = events.progress.get(current) if (events and current) else None
    return Progress(
        assets_done=done,
        current_stage=current,
        rows_processed=rows.done if rows else None,
        rows_total=rows.total if rows else None,
        stages=stages,
    )


def job_status(ctx: Context, run_id: str) -> JobStatus:
    try:
        info = ctx.dagster.run(run_id)
        if info is None:
            raise ApiError(404, f"Dagster has no run {run_id}", code="run_not_found")
        events = ctx.dagster.events(run_id)
    except (DagsterUnavailable, DagsterError) as exc:
        raise dagster_failure(exc, "could not read the run from Dagster") from exc
    import_id = repository.import_of_run(ctx.engine, run_id) or info.import_id
    attempt = None
    import_status = None
    if import_id and repository.get_import(ctx.engine, import_id) is not None:
        known = {r["run_id"]: r for r in repository.runs_of(ctx.engine, import_id)}
        attempt = known[run_id]["attempt"] if run_id in known else _tag_int(info, ATTEMPT_TAG)
        state = load_state(ctx, import_id)
        import_status = state.record["status"]
    return JobStatus(
        run_id=run_id,
        import_id=import_id,
        job_name=info.job_name,
        status=RUN_TO_JOB.get(info.status, "running"),
        dagster_status=info.status,
        attempt=attempt,
        parent_run_id=info.parent_run_id,
        import_status=import_status,
        progress=progress_of(info, events),
        created_at=to_datetime(info.creation_time),
        start_time=to_datetime(info.start_time),
        end_time=to_datetime(info.end_time),
        failure_message=events.failure_message if info.status == "FAILURE" else None,
        links=ctx.links(import_id, run_id) if import_id else None,
    )


def _tag_int(info: RunInfo, key: str) -> int | None:
    value = info.tags.get(key)
    return int(value) if value and value.isdigit() else None


def cancel(ctx: Context, run_id: str, wait_seconds: float = 15.0) -> tuple[JobStatus, bool]:
    """Terminate the run and wait (bounded) until Dagster reports it canceled."""
    try:
        info = ctx.dagster.run(run_id)
        if info is None:
            raise ApiError(404, f"Dagster has no run {run_id}", code="run_not_found")
        if info.terminal:
            raise ApiError(
                409,
                f"run {run_id} already ended with {info.status}",
                code="run_already_finished",
                details={"dagster_status": info.status},
            )
        ctx.dagster.terminate(run_id)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            info = ctx.dagster.run(run_id)
            if info is None or info.terminal:
                break
            time.sleep(0.2)
    except (DagsterUnavailable, DagsterError) as exc:
        raise dagster_failure(exc, "could not cancel the run") from exc
    status = job_status(ctx, run_id)
    return status, status.dagster_status == "CANCELED"


# -- retries -------------------------------------------------------------------------------------
def retry(ctx: Context, import_id: str, request: RetryRequest) -> RetryResponse:
    """Launch the next attempt: Dagster re-execution from the failed step where it can."""
    state = load_state(ctx, import_id)
    record = state.record
    if record["status"] not in RETRYABLE_STATUSES:
        raise ApiError(
            409,
            f"import {import_id} is {record['status']}; only failed or canceled imports retry",
            code="not_retryable",
            details={"status": record["status"]},
        )
    parent_id = state.runs[-1]["run_id"] if state.runs else None
    attempt = len(state.runs) + 1
    extra = {ATTEMPT_TAG: str(attempt), **ctx.dagster.limit_tags()}
    strategy = request.strategy
    run_id: str | None = None
    try:
        parent = ctx.dagster.run(parent_id) if parent_id else None
        if parent is not None and parent.terminal and strategy != "fresh":
            dagster_strategy = "FROM_FAILURE" if strategy == "from_failure" else "ALL_STEPS"
            try:
                if request.run_config is not None:
                    run_id = ctx.dagster.reexecute_with_config(
                        parent, request.run_config, strategy == "from_failure", extra
                    )
                else:
                    run_id = ctx.dagster.reexecute(parent.run_id, dagster_strategy, extra)
            except DagsterError as exc:
                if exc.kind == "RunConfigValidationInvalid":
                    raise ApiError(
                        422, f"run_config is not valid: {exc.message}", code="invalid_run_config"
                    ) from exc
                # Nothing Dagster can resume (e.g. the parent never started): run it afresh.
                log.info("re-execution of %s refused (%s); launching afresh", parent_id, exc)
                run_id = None
        if run_id is None:
            strategy = "fresh"
            ctx.dagster.add_partition(import_id)
            run_id = ctx.dagster.submit_ingest(
                import_id,
                record["source"],
                request.run_config,
                attempt=attempt,
                size_bytes=record.get("size_bytes"),
            )
    except (DagsterUnavailable, DagsterError) as exc:
        raise dagster_failure(exc, "could not launch the retry", import_id) from exc
    repository.reopen_import(ctx.engine, import_id)
    parent_run_id = parent_id if strategy != "fresh" else None
    attempt = repository.add_run(
        ctx.engine, import_id, run_id, status="QUEUED", facts=RunFacts(parent_run_id)
    )
    return RetryResponse(
        import_id=import_id,
        run_id=run_id,
        parent_run_id=parent_run_id,
        attempt=attempt,
        strategy=strategy,
        status=ImportStatus.QUEUED,
        links=ctx.links(import_id, run_id),
    )
