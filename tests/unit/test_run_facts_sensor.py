"""The run-status sensors keep a finished run's parent, start and end (``sensors._run_facts``),
from the run's record, or, where Dagster has not yet written the end on it, from the end event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context, job, op

from glyph_assets import sensors


@op
def _step() -> int:
    return 1


@job
def _one_step() -> None:
    _step()


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def _context(instance: DagsterInstance) -> tuple[object, float, float]:
    """A success sensor's context for a finished run, with the run's start and its end event's
    time."""
    run_id = _one_step.execute_in_process(instance=instance).run_id
    run = instance.get_run_by_id(run_id)
    assert run is not None
    [ended] = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_SUCCESS).records
    record = instance.get_run_record_by_id(run_id)
    assert record is not None and record.start_time is not None
    context = build_run_status_sensor_context(
        sensor_name="import_success_sensor",
        dagster_event=ended.event_log_entry.get_dagster_event(),
        dagster_instance=instance,
        dagster_run=run,
    )
    return context, record.start_time, ended.event_log_entry.timestamp


def test_facts_of_a_finished_run_are_its_records(instance: DagsterInstance) -> None:
    context, start, end = _context(instance)
    facts = sensors._run_facts(context)  # type: ignore[arg-type]
    assert facts.parent_run_id is None
    assert facts.started_at is not None and facts.started_at.timestamp() == pytest.approx(
        start, abs=1e-6
    )
    assert facts.ended_at is not None and facts.ended_at.timestamp() == pytest.approx(end, abs=1e-6)


def test_an_end_not_yet_on_the_record_is_read_from_the_end_event(
    instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, _, end = _context(instance)
    record = instance.get_run_record_by_id
    monkeypatch.setattr(
        instance,
        "get_run_record_by_id",
        lambda run_id: record(run_id)._replace(end_time=None),  # type: ignore[union-attr]
    )
    facts = sensors._run_facts(context)  # type: ignore[arg-type]
    assert facts.ended_at is not None and facts.ended_at.timestamp() == pytest.approx(end, abs=1e-6)
