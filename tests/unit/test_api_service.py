"""The rules that turn Dagster's answers into glyph's: reconciliation, progress, log parsing."""

from __future__ import annotations

import pytest

from glyph_assets import contract
from glyph_assets.settings import Settings
from glyphd_api.dagster_client import (
    RunEvents,
    RunInfo,
    StageRows,
    StepStat,
    _inheritable,
    progress_event,
)
from glyphd_api.service import consistent, needs_reconcile, progress_of

STAGES = list(contract.PIPELINE_STAGES[:-1])


def _graphql_entries(metadata: dict[str, str | int]) -> list[dict[str, str]]:
    """The metadata as Dagster's GraphQL returns it: text entries and ints as ``intRepr``."""
    return [
        {"label": k, "text": v} if isinstance(v, str) else {"label": k, "intRepr": str(v)}
        for k, v in metadata.items()
    ]


@pytest.mark.parametrize(
    "event",
    [
        contract.ProgressEvent("raw_listings", 50000, None),
        contract.ProgressEvent("scored_listings", 173, 173),
        contract.ProgressEvent("persisted_listings", 6_000_000_000, 6_000_000_000),
    ],
)
def test_progress_events_round_trip(event: contract.ProgressEvent) -> None:
    """What the assets write (``contract.progress_metadata``) the gateway reads back."""
    entries = _graphql_entries(contract.progress_metadata(event))
    assert progress_event(entries) == event


@pytest.mark.parametrize(
    "entries",
    [None, [], [{"label": "dagster/row_count", "intRepr": "5"}], [{"label": "text", "text": "x"}]],
)
def test_other_observations_are_not_progress(entries: list[dict[str, str]] | None) -> None:
    assert progress_event(entries) is None


@pytest.mark.parametrize(
    ("import_status", "run_status", "expected"),
    [
        ("succeeded", "SUCCESS", True),
        ("partially_succeeded", "SUCCESS", True),
        ("failed", "SUCCESS", False),  # a late failure sensor of an older attempt
        ("failed", "FAILURE", True),
        ("canceled", "CANCELED", True),
        ("succeeded", "CANCELED", False),
        ("running", "STARTED", True),
        ("queued", "STARTED", False),
    ],
)
def test_consistency(import_status: str, run_status: str, expected: bool) -> None:
    assert consistent(import_status, run_status) is expected


def test_reconcile_only_when_not_final_or_disagreeing() -> None:
    assert not needs_reconcile({"status": "queued"}, None)  # no run to ask about
    assert needs_reconcile({"status": "queued"}, {"status": "QUEUED"})
    assert needs_reconcile({"status": "succeeded"}, {"status": "STARTED"})
    assert not needs_reconcile({"status": "succeeded"}, {"status": "SUCCESS"})
    assert needs_reconcile({"status": "failed"}, {"status": "SUCCESS"})


def run(status: str, steps: dict[str, str], to_execute: list[str] | None = None) -> RunInfo:
    return RunInfo(
        run_id="r",
        status=status,
        job_name=contract.INGEST_JOB_NAME,
        tags={contract.IMPORT_TAG: "i"},
        step_keys_to_execute=to_execute,
        step_stats=[StepStat(k, v, None, None) for k, v in steps.items()],
    )


def test_progress_of_a_running_first_attempt() -> None:
    info = run(
        "STARTED",
        {
            "raw_listings": "SUCCESS",
            "normalized_listings": "SUCCESS",
            "enriched_listings": "IN_PROGRESS",
        },
    )
    events = RunEvents(
        progress={
            "raw_listings": StageRows(173, None),
            "normalized_listings": StageRows(173, 173),
            "enriched_listings": StageRows(100, 173),
        },
        last_stage="enriched_listings",
    )
    progress = progress_of(info, events)
    assert (progress.assets_done, progress.assets_total) == (2, 5)
    assert progress.current_stage == "enriched_listings"
    assert (progress.rows_processed, progress.rows_total) == (100, 173)
    assert [s.status for s in progress.stages] == [
        "SUCCESS",
        "SUCCESS",
        "IN_PROGRESS",
        None,
        None,
    ]


def test_progress_of_a_reexecution_counts_reused_steps() -> None:
    info = run("SUCCESS", {"persisted_listings": "SUCCESS"}, to_execute=["persisted_listings"])
    progress = progress_of(info, RunEvents())
    assert progress.assets_done == 5
    assert [s.status for s in progress.stages] == ["REUSED"] * 4 + ["SUCCESS"]
    assert progress.rows_processed is None


def test_failure_message_prefers_the_step_error() -> None:
    events = RunEvents(
        step_failures=[("persisted_listings", "RuntimeError: fault switch")],
        run_failure="Execution of run failed.",
    )
    assert events.failure_message == "step persisted_listings: RuntimeError: fault switch"
    assert RunEvents(run_failure="boom").failure_message == "boom"


def test_reexecution_inherits_our_tags_and_the_partition_only() -> None:
    assert _inheritable("glyph/import_id") and _inheritable("dagster/partition")
    assert not _inheritable("dagster/parent_run_id") and not _inheritable(".dagster/x")


def test_failure_after_retries_names_the_cause() -> None:
    events = RunEvents(
        step_failures=[("persisted_listings", "Exceeded max_retries of 3")],
        retry_errors={"persisted_listings": "RuntimeError: fault switch set"},
    )
    assert events.failure_message == (
        "step persisted_listings: Exceeded max_retries of 3 "
        "(last error: RuntimeError: fault switch set)"
    )


def test_a_superseded_attempt_does_not_touch_its_import(glyph_env: Settings) -> None:
    """The guard of run_state.settle: an older attempt's late end must not overwrite or delete
    what the retry that followed it produced."""
    from glyph_assets.run_state import superseded
    from glyph_assets.store import repository
    from glyph_assets.store.db import migrate
    from tests.support.warehouse import record_import

    engine = migrate(glyph_env.sqlalchemy_url)
    import_id = "00000000-0000-4000-8000-000000000042"
    record_import(engine, import_id)
    repository.add_run(engine, import_id, "first")
    assert not superseded(engine, import_id, "first")
    repository.add_run(engine, import_id, "second")
    assert superseded(engine, import_id, "first")
    assert not superseded(engine, import_id, "second")
    assert not superseded(engine, import_id, "launched-from-the-ui")
