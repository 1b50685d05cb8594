"""The one rule every run of an import follows, whoever launched it (glyph_assets.run_state)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from glyph_assets import contract, run_state
from glyph_assets.settings import Settings
from glyph_assets.store import repository
from tests.support.warehouse import warehouse_with_import

IMPORT_ID = "00000000-0000-4000-8000-000000000013"


@pytest.fixture
def engine(glyph_env: Settings) -> Iterator[Engine]:
    yield warehouse_with_import(glyph_env.sqlalchemy_url, IMPORT_ID)


def _rows(errors: int = 0) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "import_index": [1, 2, 3],
            "title": ["RTX 4090", "RTX 3090", "a mouse"],
            "is_gpu": [True, True, False],
            "reject_reason": [None, None, "not_gpu"],
            "error_stage": [None, None, None],
            "error_field": [None, None, None],
            "error_reason": [None, None, None],
        }
    )
    if errors:
        frame.loc[: errors - 1, ["error_stage", "error_reason"]] = ["normalize", "no price"]
    return frame


def _import(engine: Engine) -> dict[str, Any]:
    record = repository.get_import(engine, IMPORT_ID)
    assert record is not None
    return record


def _never() -> str:
    raise AssertionError("the failure message was not needed")


def test_failure_message_names_the_step_and_its_own_error() -> None:
    generic = 'Execution of run for "__ASSET_JOB" failed. Steps failed: ["normalized_listings"].'
    message = contract.failure_message(
        [("normalized_listings", "RuntimeError: fault switch set\n")], {}, generic
    )
    assert message == "step normalized_listings: RuntimeError: fault switch set"
    assert contract.failure_message([], {}, generic) == generic
    assert contract.failure_message([]) is None
    limit = "Exceeded maximum runtime of 3 seconds."
    assert contract.failure_message([("raw_listings", "interrupted")], {}, limit) == limit
    long = contract.failure_message([("raw_listings", "x" * 10_000)])
    assert long is not None and len(long) == contract.MAX_ERROR_CHARS


def test_root_cause_prefers_the_users_exception() -> None:
    wrapper = 'Error occurred while executing op "raw_listings":'
    assert contract.root_cause(wrapper, "ValueError: bad row\n") == "ValueError: bad row"
    assert contract.root_cause(wrapper, None) == wrapper
    assert contract.root_cause(None, "  ") is None


@pytest.mark.parametrize(
    ("job", "assets", "steps", "expected"),
    [
        ("__ASSET_JOB", ["raw_listings", "persisted_listings"], None, True),
        ("__ASSET_JOB", ["market_snapshot"], None, False),
        ("__ASSET_JOB", None, ["scored_listings", "persisted_listings"], True),
        ("ingest_import", None, None, True),
        # retries from a failed step: the checks after persisting, a chunk of the fan-out
        ("ingest_import", None, ["persisted_listings_checks"], True),
        # an import's checks, after its run or re-executed: not an attempt of the import
        ("check_import", [], None, False),
        ("check_import", None, ["persisted_listings_checks"], False),
        ("ingest_import_chunked", None, ["listing_chunks.transform_chunk[2]"], True),
        ("__ASSET_JOB", None, ["persisted_listings_checks"], True),
        ("__ASSET_JOB", None, ["listing_chunks.assemble_chunks", "persisted_listings"], True),
        ("__ASSET_JOB", None, ["market_snapshot", "model_market_stats_checks"], False),
        ("__ASSET_JOB", [], ["persisted_listings"], False),
        ("refresh_market", None, None, False),
    ],
)
def test_which_runs_materialize_the_pipeline(
    job: str, assets: list[str] | None, steps: list[str] | None, expected: bool
) -> None:
    assert run_state.materializes_pipeline(job, assets, steps) is expected


def test_import_of_a_run_from_our_tag_or_its_partition() -> None:
    assert contract.import_of({"glyph/import_id": "a", "dagster/partition": "b"}) == "a"
    assert contract.import_of({"dagster/partition": "b", "dagster/backfill": "x"}) == "b"
    assert contract.import_of({"dagster/backfill": "x"}) is None


def test_a_run_launched_elsewhere_claims_the_next_attempt(engine: Engine) -> None:
    repository.add_run(engine, IMPORT_ID, "api-run")
    repository.set_import_status(engine, IMPORT_ID, "failed", error_message="boom")
    assert run_state.claim(engine, IMPORT_ID, "ui-run") == 2
    assert run_state.claim(engine, IMPORT_ID, "ui-run") == 2  # every stage claims; once
    assert [(r["run_id"], r["attempt"]) for r in repository.runs_of(engine, IMPORT_ID)] == [
        ("api-run", 1),
        ("ui-run", 2),
    ]
    assert _import(engine)["status"] == "running"
    assert run_state.claim(engine, "no-such-import", "ui-run") is None


def test_an_older_attempt_starting_late_leaves_the_import_alone(engine: Engine) -> None:
    repository.add_run(engine, IMPORT_ID, "first")
    repository.add_run(engine, IMPORT_ID, "second")
    repository.set_import_status(engine, IMPORT_ID, "succeeded")
    assert run_state.claim(engine, IMPORT_ID, "first") == 1
    assert _import(engine)["status"] == "succeeded"


def test_success_settles_with_the_row_counts(engine: Engine) -> None:
    repository.replace_import_rows(engine, IMPORT_ID, [_rows(errors=1)])
    run_state.claim(engine, IMPORT_ID, "backfill-run")
    record = run_state.settle(engine, IMPORT_ID, "backfill-run", "SUCCESS", _never)
    assert record is not None and record["status"] == "partially_succeeded"
    assert (record["persisted_rows"], record["error_rows"], record["not_gpu_rows"]) == (2, 1, 1)
    assert record["total_rows"] == 3 and record["error_message"] is None
    assert repository.runs_of(engine, IMPORT_ID)[0]["status"] == "SUCCESS"


def test_failure_settles_with_the_message_and_records_an_unseen_run(engine: Engine) -> None:
    record = run_state.settle(
        engine, IMPORT_ID, "never-started", "FAILURE", lambda: "step raw_listings: boom"
    )
    assert record is not None
    assert (record["status"], record["error_message"]) == ("failed", "step raw_listings: boom")
    assert [
        (r["run_id"], r["attempt"], r["status"]) for r in repository.runs_of(engine, IMPORT_ID)
    ] == [("never-started", 1, "FAILURE")]
    # The API noticing the same end later keeps the message; the sensor, knowing it, replaces.
    run_state.settle(engine, IMPORT_ID, "never-started", "FAILURE", _never)
    run_state.settle(engine, IMPORT_ID, "never-started", "FAILURE", lambda: "new", True)
    assert _import(engine)["error_message"] == "new"


def test_a_failure_dagster_retries_waits_for_the_retry(engine: Engine) -> None:
    """A dead worker's run is re-executed by Dagster (run_retries): the import goes back to the
    queue with the reason, and the retry is its next attempt and decides its end."""
    run_state.claim(engine, IMPORT_ID, "killed")
    run_state.settle(
        engine, IMPORT_ID, "killed", "FAILURE", lambda: "worker died", True, will_retry=True
    )
    record = _import(engine)
    assert record["status"] == "queued"
    assert record["error_message"] == "retried automatically after: worker died"
    assert run_state.claim(engine, IMPORT_ID, "retry") == 2
    run_state.settle(engine, IMPORT_ID, "retry", "SUCCESS", _never)
    record = _import(engine)
    assert (record["status"], record["error_message"]) == ("succeeded", None)
    assert [r["attempt"] for r in repository.runs_of(engine, IMPORT_ID)] == [1, 2]


def test_retry_pending_follows_the_tag_and_gives_up_when_overdue() -> None:
    tags = {contract.WILL_RETRY_TAG: "true"}
    assert run_state.retry_pending(tags)
    assert run_state.retry_pending(tags, ended=1000.0, now=1010.0)
    assert not run_state.retry_pending(tags, ended=1000.0, now=1000.0 + 301)
    assert not run_state.retry_pending({contract.WILL_RETRY_TAG: "false"})
    assert not run_state.retry_pending({})


def test_a_failure_not_yet_tagged_is_left_undecided_for_a_while() -> None:
    assert run_state.retry_undecided({}, ended=1000.0, now=1005.0, retries_enabled=True)
    assert not run_state.retry_undecided({}, ended=1000.0, now=1031.0, retries_enabled=True)
    assert not run_state.retry_undecided({}, ended=1000.0, now=1005.0, retries_enabled=False)
    tagged = {contract.WILL_RETRY_TAG: "false"}
    assert not run_state.retry_undecided(tagged, ended=1000.0, now=1005.0, retries_enabled=True)


def test_cancel_drops_the_rows_unless_a_newer_attempt_owns_the_import(engine: Engine) -> None:
    run_state.claim(engine, IMPORT_ID, "first")
    run_state.claim(engine, IMPORT_ID, "retry")
    repository.replace_import_rows(engine, IMPORT_ID, [_rows()])
    repository.set_import_status(engine, IMPORT_ID, "succeeded")
    run_state.settle(engine, IMPORT_ID, "first", "CANCELED", _never)  # a late tick of attempt 1
    assert _import(engine)["status"] == "succeeded"
    assert repository.count_rows(engine, IMPORT_ID)["persisted_rows"] == 3
    assert repository.runs_of(engine, IMPORT_ID)[0]["status"] == "CANCELED"

    run_state.settle(engine, IMPORT_ID, "retry", "CANCELED", _never)
    assert _import(engine)["status"] == "canceled"
    assert repository.count_rows(engine, IMPORT_ID) == {"persisted_rows": 0, "error_rows": 0}


def test_add_run_is_idempotent_per_run(engine: Engine) -> None:
    assert repository.add_run(engine, IMPORT_ID, "a") == 1
    assert repository.add_run(engine, IMPORT_ID, "b") == 2
    assert repository.add_run(engine, IMPORT_ID, "a") == 1


def _facts(engine: Engine) -> list[tuple[str, str | None, datetime | None, datetime | None]]:
    """Each run's kept facts, times in UTC (SQLite gives them back without a zone)."""

    def utc(value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)

    return [
        (r["run_id"], r["parent_run_id"], utc(r["started_at"]), utc(r["ended_at"]))
        for r in repository.runs_of(engine, IMPORT_ID)
    ]


def test_a_runs_parent_and_times_are_kept_once_known(engine: Engine) -> None:
    """The summary of a final import is served from ``import_runs`` without asking Dagster: a
    run's parent and times are kept there, by the step that claims it and by whoever settles
    it, and a later write that does not know them leaves them as they are."""
    start, end = 1_765_000_000.0, 1_765_000_042.5
    at = datetime.fromtimestamp(start, tz=UTC), datetime.fromtimestamp(end, tz=UTC)
    run_state.claim(engine, IMPORT_ID, "first")
    run_state.settle(
        engine,
        IMPORT_ID,
        "first",
        "FAILURE",
        lambda: "boom",
        facts=run_state.RunFacts.of(None, start, end),
    )
    run_state.claim(engine, IMPORT_ID, "retry", parent_run_id="first")
    assert _facts(engine) == [("first", None, *at), ("retry", "first", None, None)]

    run_state.settle(engine, IMPORT_ID, "retry", "SUCCESS", _never)  # knows nothing more
    assert _facts(engine)[1] == ("retry", "first", None, None)
    facts = run_state.RunFacts.of("first", start + 60, end + 60)
    run_state.settle(engine, IMPORT_ID, "retry", "SUCCESS", _never, facts=facts)
    assert _facts(engine)[1] == ("retry", "first", facts.started_at, facts.ended_at)
    assert repository.runs_of(engine, IMPORT_ID)[1]["status"] == "SUCCESS"


def test_a_run_recorded_before_its_parent_was_known_gets_it_when_claimed(engine: Engine) -> None:
    """Only the missing fact is written: a status recorded meanwhile (a cancel) stays."""
    repository.add_run(engine, IMPORT_ID, "first")
    repository.add_run(engine, IMPORT_ID, "retry")  # launched; its parent not said
    repository.set_run_status(engine, "retry", "CANCELED")
    assert run_state.claim(engine, IMPORT_ID, "retry", parent_run_id="first") == 2
    assert [f[:2] for f in _facts(engine)] == [("first", None), ("retry", "first")]
    assert repository.runs_of(engine, IMPORT_ID)[1]["status"] == "CANCELED"
    repository.keep_run_facts(engine, "retry", run_state.RunFacts("another"))
    assert _facts(engine)[1][1] == "first"  # kept, not replaced


def test_run_facts_from_dagster_epoch_seconds() -> None:
    facts = run_state.RunFacts.of("p", 0.0, None)  # Dagster's "not yet" is 0 or None
    assert (facts.started_at, facts.ended_at) == (None, None)
    assert facts.values() == {"parent_run_id": "p"}
    assert facts.missing_from({"parent_run_id": None}) and not facts.missing_from(
        {"parent_run_id": "p"}
    )


def test_a_run_recorded_again_fills_in_only_the_facts_it_lacked(engine: Engine) -> None:
    """Two writers recording one run at once: the loser's facts are not lost, and what the
    winner kept is not replaced."""
    assert repository.add_run(engine, IMPORT_ID, "first") == 1
    assert repository.add_run(engine, IMPORT_ID, "retry", facts=run_state.RunFacts("first")) == 2
    later = run_state.RunFacts.of("another", 1_765_000_000.0, None)
    assert repository.add_run(engine, IMPORT_ID, "retry", status="STARTED", facts=later) == 2
    [_, retry] = _facts(engine)
    assert retry == ("retry", "first", later.started_at, None)
    assert repository.runs_of(engine, IMPORT_ID)[1]["status"] == "QUEUED"
