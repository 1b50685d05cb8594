"""Which runs the checks sensor follows with a run of ``check_import``, and what it asks for."""

from __future__ import annotations

import pytest
from dagster import DagsterRun

from glyph_assets.contract import CHECKED_RUN_TAG, LAUNCH_EXPRESS, LAUNCH_TAG, PARTITION_TAG
from glyph_assets.sensors import checks_request

IMPORT_ID = "3f1c2b7e-0000-4000-8000-000000000001"


@pytest.mark.parametrize("job", ["ingest_import", "ingest_import_chunked"])
def test_a_successful_ingest_run_is_followed_by_its_checks(job: str) -> None:
    run = DagsterRun(job_name=job, run_id="r-1", tags={PARTITION_TAG: IMPORT_ID})
    request = checks_request(run)
    assert request is not None
    assert request.tags == {PARTITION_TAG: IMPORT_ID, CHECKED_RUN_TAG: "r-1"}
    assert request.partition_key is None  # the partition travels as the tag (build_check_job)
    # keyed by the ingest run: a second look at the same run asks for the same run of checks
    assert (
        request.run_key
        == checks_request(run).run_key
        != checks_request(
            DagsterRun(job_name=job, run_id="r-2", tags={PARTITION_TAG: IMPORT_ID})
        ).run_key
    )


def test_the_checks_of_an_express_import_are_launched_express() -> None:
    express = {PARTITION_TAG: IMPORT_ID, LAUNCH_TAG: LAUNCH_EXPRESS, "glyph/source": "api"}
    request = checks_request(DagsterRun(job_name="ingest_import", run_id="r-1", tags=express))
    assert request is not None
    assert request.tags == {
        PARTITION_TAG: IMPORT_ID,
        CHECKED_RUN_TAG: "r-1",
        LAUNCH_TAG: LAUNCH_EXPRESS,
    }


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
