"""Sensors that keep glyph's imports table in step with Dagster's run state.

They watch every run of this code location, not only ``ingest_import``: an operator's
materialization in the UI, a re-execution and a backfill over the ``imports`` partitions all run
Dagster's implicit asset job (``__ASSET_JOB``), and each of them is an attempt of its import.
Leaving ``monitored_jobs`` out is what makes a run-status sensor watch the whole location
(``monitor_all_code_locations`` would also take other locations' runs, whose assets are not
glyph's). A run counts when it carries an import's partition and materializes a pipeline asset;
the rule it then applies is ``run_state.settle``, the same one the API applies when a read
notices the end first. The run's start is recorded inside the run (``run_state.claim``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    EventLogEntry,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

from glyph_assets import contract, run_state
from glyph_assets.launch_recovery import recover_stalled_launches
from glyph_assets.resources import StoreResource
from glyph_assets.settings import Settings


def pipeline_import(run: DagsterRun) -> str | None:
    """The import a run of this location works on, if it materializes pipeline assets."""
    import_id = contract.import_of(run.tags)
    if not import_id:
        return None
    keys = (
        None if run.asset_selection is None else [k.to_user_string() for k in run.asset_selection]
    )
    if not run_state.materializes_pipeline(run.job_name, keys, run.step_keys_to_execute):
        return None
    return import_id


def _import_id(context: RunStatusSensorContext) -> str | None:
    return pipeline_import(context.dagster_run)


def _run_facts(context: RunStatusSensorContext) -> run_state.RunFacts:
    """The finished run's parent, start and end, as Dagster recorded them.

    Dagster stores the run's end event first and then writes its end time (that event's
    timestamp) on the run's record, so a sensor tick in between finds no end time there: it is
    then read from the event itself, as it is kept once (a final import is not asked again)."""
    run = context.dagster_run
    record = context.instance.get_run_record_by_id(run.run_id)
    start, end = (record.start_time, record.end_time) if record is not None else (None, None)
    if end is None and context.dagster_event is not None:
        ended = context.instance.get_records_for_run(
            run.run_id, of_type=context.dagster_event.event_type, limit=1, ascending=False
        ).records
        end = ended[0].event_log_entry.timestamp if ended else None
    return run_state.RunFacts.of(run.parent_run_id, start, end)


def _error_of(entry: EventLogEntry) -> str | None:
    data = entry.dagster_event.event_specific_data if entry.dagster_event else None
    error = getattr(data, "error", None)
    if error is None:
        return None
    return contract.root_cause(error.message, error.cause.message if error.cause else None)


def run_failure_message(instance: DagsterInstance, run_id: str, run_failure: str | None) -> str:
    """The run's own reason from its event log: the failed step's error, named by the step."""
    entries = instance.all_logs(
        run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY}
    )
    failures: list[tuple[str, str]] = []
    retries: dict[str, str] = {}
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            continue
        step = event.step_key or "step"
        error = _error_of(entry)
        if event.event_type == DagsterEventType.STEP_FAILURE:
            failures.append((step, error or entry.user_message or "failed"))
        elif error:
            retries[step] = error
    return contract.failure_message(failures, retries, run_failure) or "run failed"


def _run_failure(context: RunFailureSensorContext) -> str | None:
    event = context.failure_event
    data = event.event_specific_data
    error = getattr(data, "error", None)
    return (error.message if error is not None else None) or event.message


@run_failure_sensor(
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description=(
        "Marks an import failed, with the failed step's own error, when a run of it fails "
        "(any run of the location that materializes its pipeline assets)."
    ),
)
def import_failure_sensor(context: RunFailureSensorContext, store: StoreResource) -> None:
    import_id = _import_id(context)
    if not import_id:
        return
    run_id = context.dagster_run.run_id
    run_state.settle(
        store.engine,
        import_id,
        run_id,
        "FAILURE",
        lambda: run_failure_message(context.instance, run_id, _run_failure(context)),
        replace_message=True,
        will_retry=run_state.retry_pending(context.dagster_run.tags),
        facts=_run_facts(context),
    )


def _settling_sensor(status: DagsterRunStatus, name: str, description: str) -> Any:
    """A sensor applying a finished run of this status to its import (no message needed)."""

    @run_status_sensor(
        run_status=status,
        name=name,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=5,
        description=description,
    )
    def _sensor(context: RunStatusSensorContext, store: StoreResource) -> None:
        import_id = _import_id(context)
        if import_id:
            run_id = context.dagster_run.run_id
            run_state.settle(
                store.engine,
                import_id,
                run_id,
                status.value,
                lambda: None,
                facts=_run_facts(context),
            )

    return _sensor


import_canceled_sensor = _settling_sensor(
    DagsterRunStatus.CANCELED,
    "import_canceled_sensor",
    "Marks an import canceled and drops any rows of it when a run of it is canceled.",
)
import_success_sensor = _settling_sensor(
    DagsterRunStatus.SUCCESS,
    "import_success_sensor",
    "Records a successful run of an import in import_runs and settles its status.",
)


RUN_STATUS_SENSORS = [import_failure_sensor, import_canceled_sensor, import_success_sensor]


def checks_request(run: DagsterRun) -> RunRequest | None:
    """The run of ``check_import`` that checks what a successful ingest run materialized, or
    None for any other run. Keyed by the ingest run, so each is checked once however often the
    sensor sees it; the partition travels as the run's tag (``jobs.build_check_job``).

    Nobody waits for it, so it is a background run (``contract.BACKGROUND_TAGS``): queued
    behind any import, one at a time, at a lower CPU priority."""
    import_id = run.tags.get(contract.PARTITION_TAG)
    if run.job_name not in contract.INGEST_JOB_NAMES or not import_id:
        return None
    tags = {
        contract.PARTITION_TAG: import_id,
        contract.CHECKED_RUN_TAG: run.run_id,
        **contract.BACKGROUND_TAGS,
    }
    return RunRequest(run_key=f"checks-of-{run.run_id}", tags=tags)


# How far before its cursor each tick looks again for ingest runs that ended (a run stamped a
# moment before a later one may be committed after it; a run already seen keeps its run key,
# so Dagster launches its checks once), how far back the first tick looks, and how many ended
# runs one tick takes.
CHECKS_LOOKBACK_SECONDS = 10.0
CHECKS_FIRST_LOOK_SECONDS = 600.0
CHECKS_BATCH_RUNS = 500
# How long the checks of an ended import wait while other imports are in progress or queued
# (``checks_requests``): at most this long after their import ended, they run anyway.
CHECKS_YIELD_SECONDS = 60.0


def checks_requests(
    instance: DagsterInstance, cursor: str | None, now: float
) -> tuple[list[RunRequest], str]:
    """Every ingest run that succeeded since ``cursor`` (the newest update time seen, in epoch
    seconds; without one, ``CHECKS_FIRST_LOOK_SECONDS`` before ``now``) with its
    ``check_import`` request (``checks_request``), and the cursor to keep.

    While another ingest run is in progress or queued, none is asked for (the cursor stays)
    until the oldest of them ended ``CHECKS_YIELD_SECONDS`` ago: a run of checks beside an
    import slowed it, even at a lower CPU priority (100-row imports sent back to back took
    0.76-1.08 s with the checks sensor stopped, 1.9-3.4 s with the checks run early, here),
    and a client waits for the import, not for its checks."""
    seen = float(cursor) if cursor else now - CHECKS_FIRST_LOOK_SECONDS
    records = instance.get_run_records(
        filters=RunsFilter(
            tags={contract.JOB_TAG: contract.JOB_INGEST},
            statuses=[DagsterRunStatus.SUCCESS],
            updated_after=datetime.fromtimestamp(seen - CHECKS_LOOKBACK_SECONDS, UTC),
        ),
        order_by="update_timestamp",
        ascending=True,
        limit=CHECKS_BATCH_RUNS,
    )
    requests = [r for record in records if (r := checks_request(record.dagster_run))]
    ended = [record.update_timestamp.timestamp() for record in records]
    if requests and now - min(ended) < CHECKS_YIELD_SECONDS and _ingest_under_way(instance):
        return [], repr(seen)
    return requests, repr(max([seen, *ended]))


def _ingest_under_way(instance: DagsterInstance) -> bool:
    """Whether an ingest run (an import) is in progress or waiting to start (queued or not yet
    started: Dagster's ``NOT_FINISHED_STATUSES``)."""
    under_way = RunsFilter(
        tags={contract.JOB_TAG: contract.JOB_INGEST}, statuses=NOT_FINISHED_STATUSES
    )
    return instance.get_runs_count(under_way) > 0


def build_import_checks_sensor(check_job: Any) -> SensorDefinition:
    """The sensor that launches ``check_job`` (``check_import``) for every successful run of
    ``ingest_import`` or ``ingest_import_chunked``, whoever launched it.

    A plain sensor over the instance's run records rather than a run-status sensor: Dagster's
    run-status sensor handles one run per tick once its function answers (a tick every 5-10 s
    here), so a burst of 30 small imports had its last checks run four minutes later. This
    one asks for every ended ingest run's checks in one tick. A run of Dagster's implicit asset
    job (an operator's materialization, a backfill) runs the checks of what it materializes
    itself, as Dagster does by default, so it is not followed.
    """

    @sensor(
        name="import_checks_sensor",
        job=check_job,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=5,
        description=(
            "Runs check_import (the asset checks of the import's five stages) after each "
            "successful ingest run, so the checks do not hold up the import's end."
        ),
    )
    def import_checks_sensor(context: SensorEvaluationContext) -> SensorResult:
        requests, cursor = checks_requests(context.instance, context.cursor, time.time())
        return SensorResult(run_requests=requests, cursor=cursor)

    return import_checks_sensor


def build_stalled_launch_sensor(settings: Settings) -> SensorDefinition:
    """The sensor that settles launches a killed process cut short (``launch_recovery``), after
    ``settings.launch_stall_seconds``."""
    stall_seconds = settings.launch_stall_seconds

    @sensor(
        name="stalled_launch_sensor",
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=max(5, min(30, int(stall_seconds // 3))),
        description=(
            "Settles launches cut short by a killed process: a run left NOT_STARTED for "
            f"{stall_seconds:g} s is queued (or deleted when a newer run of its import "
            "replaced it); a queued import with no run records the runs Dagster has with its "
            "tag, or fails with that reason so that a retry launches it."
        ),
    )
    def stalled_launch_sensor(context: SensorEvaluationContext, store: StoreResource) -> SkipReason:
        done = recover_stalled_launches(
            context.instance, store.engine, datetime.now(UTC), stall_seconds
        )
        if done:
            context.log.warning(done.describe())
        return SkipReason(done.describe())

    return stalled_launch_sensor
