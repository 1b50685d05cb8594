"""Sensors that keep glyph's imports table in step with Dagster's run state."""

from __future__ import annotations

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)
from sqlalchemy import Engine

from glyph_assets.jobs import ingest_import_job
from glyph_assets.settings import get_settings
from glyph_assets.store import repository
from glyph_assets.store.db import migrate

IMPORT_TAG = "glyph/import_id"


def _import_id(context: RunStatusSensorContext) -> str | None:
    run = context.dagster_run
    return run.tags.get(IMPORT_TAG) or run.tags.get("dagster/partition")


def _superseded(engine: Engine, import_id: str, run_id: str) -> bool:
    """A retry recorded after this run owns the import now: this run's end must not touch it
    (a late tick for a canceled first attempt would otherwise delete the retry's rows)."""
    attempts = {r["run_id"]: r["attempt"] for r in repository.runs_of(engine, import_id)}
    return run_id in attempts and attempts[run_id] < max(attempts.values())


@run_failure_sensor(
    monitored_jobs=[ingest_import_job],
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="Marks an import failed, with the run's error message, when its run fails.",
)
def import_failure_sensor(context: RunFailureSensorContext) -> None:
    import_id = _import_id(context)
    if not import_id:
        return
    engine = migrate(get_settings().sqlalchemy_url)
    message = context.failure_event.message or "run failed"
    repository.set_run_status(engine, context.dagster_run.run_id, "FAILURE")
    if _superseded(engine, import_id, context.dagster_run.run_id):
        return
    repository.set_import_status(engine, import_id, "failed", error_message=message[:4000])


@run_status_sensor(
    run_status=DagsterRunStatus.CANCELED,
    monitored_jobs=[ingest_import_job],
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="Marks an import canceled and drops any rows of it when its run is canceled.",
)
def import_canceled_sensor(context: RunStatusSensorContext) -> None:
    import_id = _import_id(context)
    if not import_id:
        return
    engine = migrate(get_settings().sqlalchemy_url)
    repository.set_run_status(engine, context.dagster_run.run_id, "CANCELED")
    if _superseded(engine, import_id, context.dagster_run.run_id):
        return
    repository.delete_import_rows(engine, import_id)
    repository.set_import_status(engine, import_id, "canceled")


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_import_job],
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="Records a successful run of an import in import_runs.",
)
def import_success_sensor(context: RunStatusSensorContext) -> None:
    import_id = _import_id(context)
    if not import_id:
        return
    engine = migrate(get_settings().sqlalchemy_url)
    repository.add_run(engine, import_id, context.dagster_run.run_id)
    repository.set_run_status(engine, context.dagster_run.run_id, "SUCCESS")


RUN_STATUS_SENSORS = [import_failure_sensor, import_canceled_sensor, import_success_sensor]
