"""Which runs the checks sensor follows with a run of ``check_import``, and what it asks for."""

from __future__ import annotations

import pytest
from dagster import DagsterRun

from glyph_assets.contract import (
    BACKGROUND_TAGS,
    CHECKED_RUN_TAG,
    LAUNCH_EXPRESS,
    LAUNCH_TAG,
    PARTITION_TAG,
    PRIORITY_BACKGROUND,
    PRIORITY_TAG,
)
from glyph_assets.sensors import checks_request

IMPORT_ID = "3f1c2b7e-0000-4000-8000-000000000001"


@pytest.mark.parametrize("job", ["ingest_import", "ingest_import_chunked"])
def test_a_successful_ingest_run_is_followed_by_its_checks(job: str) -> None:
    run = DagsterRun(job_name=job, run_id="r-1", tags={PARTITION_TAG: IMPORT_ID})
    request = checks_request(run)
    assert request is not None
    assert request.tags == {PARTITION_TAG: IMPORT_ID, CHECKED_RUN_TAG: "r-1", **BACKGROUND_TAGS}
    assert request.partition_key is None  # the partition travels as the tag (build_check_job)
    # keyed by the ingest run: a second look at the same run asks for the same run of checks
    assert (
        request.run_key
        == checks_request(run).run_key
        != checks_request(
            DagsterRun(job_name=job, run_id="r-2", tags={PARTITION_TAG: IMPORT_ID})
        ).run_key
    )


def test_the_checks_are_a_background_run_even_after_an_express_import() -> None:
    express = {PARTITION_TAG: IMPORT_ID, LAUNCH_TAG: LAUNCH_EXPRESS, "glyph/source": "api"}
    request = checks_request(DagsterRun(job_name="ingest_import", run_id="r-1", tags=express))
    assert request is not None
    assert request.tags == {PARTITION_TAG: IMPORT_ID, CHECKED_RUN_TAG: "r-1", **BACKGROUND_TAGS}
    assert BACKGROUND_TAGS == {PRIORITY_TAG: PRIORITY_BACKGROUND, "dagster/priority": "-1"}


@pytest.mark.parametrize(
    ("job", "tags"),
    [
        ("check_import", {PARTITION_TAG: IMPORT_ID}),  # checks are not checked again
        ("__ASSET_JOB", {PARTITION_TAG: IMPORT_ID}),  # a UI materialization runs its own checks
        ("refresh_market", {}),
        ("ingest_import", {}),  # no partition: nothing to check
    ],
)
def test_other_runs_are_not_followed(job: str, tags: dict[str, str]) -> None:
    assert checks_request(DagsterRun(job_name=job, run_id="r-1", tags=tags)) is None


def test_one_tick_asks_for_the_checks_of_every_ingest_run_that_ended() -> None:
    """Every successful ingest run since the cursor, in one tick (a run-status sensor handles
    one run per tick); other jobs, unfinished runs and runs before the cursor are left out."""
    import time

    from dagster import DagsterInstance, DagsterRunStatus

    from glyph_assets.contract import JOB_INGEST, JOB_TAG
    from glyph_assets.sensors import (
        CHECKS_LOOKBACK_SECONDS,
        CHECKS_YIELD_SECONDS,
        checks_requests,
    )

    def add(instance: DagsterInstance, run_id: str, job: str, status: DagsterRunStatus) -> None:
        tags = {PARTITION_TAG: IMPORT_ID, JOB_TAG: JOB_INGEST if job.startswith("ingest") else "x"}
        instance.add_run(DagsterRun(job_name=job, run_id=run_id, tags=tags, status=status))

    with DagsterInstance.ephemeral() as instance:
        add(instance, "old", "ingest_import", DagsterRunStatus.SUCCESS)
        first, cursor = checks_requests(instance, None, time.time())
        assert [r.tags[CHECKED_RUN_TAG] for r in first] == ["old"]
        for n in range(12):
            add(instance, f"ok-{n}", "ingest_import", DagsterRunStatus.SUCCESS)
        add(instance, "chunked", "ingest_import_chunked", DagsterRunStatus.SUCCESS)
        add(instance, "running", "ingest_import", DagsterRunStatus.STARTED)
        add(instance, "failed", "ingest_import", DagsterRunStatus.FAILURE)
        add(instance, "market", "refresh_market", DagsterRunStatus.SUCCESS)
        # an import still running holds the checks back, up to CHECKS_YIELD_SECONDS after
        # the oldest of those that ended
        assert checks_requests(instance, cursor, time.time()) == ([], cursor)
        late = time.time() + CHECKS_YIELD_SECONDS + 1
        requests, later = checks_requests(instance, cursor, late)
        checked = {r.tags[CHECKED_RUN_TAG] for r in requests}
        # within the look-back the earlier run is asked for again, under the same run key
        assert checked == {"old", "chunked", *(f"ok-{n}" for n in range(12))}
        assert float(later) >= float(cursor)
        # a cursor past every run's update (and its look-back) asks for nothing
        past = repr(float(later) + 2 * CHECKS_LOOKBACK_SECONDS)
        assert checks_requests(instance, past, time.time()) == ([], past)


@pytest.mark.parametrize(
    "status", ["NOT_STARTED", "STARTING", "STARTED", "CANCELING", "SUCCESS", "FAILURE"]
)
def test_the_checks_wait_while_an_import_is_under_way(status: str) -> None:
    """An ended import's checks are asked for at once when no other import is queued or in
    progress, else held (cursor kept) until that ends or the yield time has passed."""
    import time

    from dagster import DagsterInstance, DagsterRunStatus

    from glyph_assets.contract import JOB_INGEST, JOB_TAG
    from glyph_assets.sensors import CHECKS_YIELD_SECONDS, checks_requests

    tags = {PARTITION_TAG: IMPORT_ID, JOB_TAG: JOB_INGEST}
    other = DagsterRunStatus(status)
    with DagsterInstance.ephemeral() as instance:
        instance.add_run(
            DagsterRun(
                job_name="ingest_import", run_id="ended", tags=tags, status=DagsterRunStatus.SUCCESS
            )
        )
        # another job's runs in progress do not hold the checks back
        instance.add_run(
            DagsterRun(job_name="refresh_market", run_id="m", status=DagsterRunStatus.STARTED)
        )
        instance.add_run(
            DagsterRun(job_name="ingest_import", run_id="other", tags=tags, status=other)
        )
        now = time.time()
        requests, cursor = checks_requests(instance, None, now)
        held = other not in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)
        succeeded = {"ended", "other"} if other == DagsterRunStatus.SUCCESS else {"ended"}
        assert {r.tags[CHECKED_RUN_TAG] for r in requests} == (set() if held else succeeded)
        if held:
            assert float(cursor) < now - 100  # kept where it was: the next tick looks again
            later, _ = checks_requests(instance, cursor, now + CHECKS_YIELD_SECONDS + 1)
            assert {r.tags[CHECKED_RUN_TAG] for r in later} == {"ended"}
