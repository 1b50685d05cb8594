"""The pure parts of the fan-out of a large import: how its raw parts become chunks, which job
an import is launched as, and how a fanned-out run's steps read as the five stages."""

from __future__ import annotations

from glyph_assets.assets.fanout import plan
from glyph_assets.contract import (
    FANOUT_JOB_NAME,
    INGEST_JOB_NAME,
    ingest_job_for,
    stage_statuses,
    stages_of_step,
)
from glyph_assets.settings import Settings


def test_parts_group_into_chunks_of_at_least_the_chunk_rows_in_order() -> None:
    parts = [(f"p{i}", 300) for i in range(7)]
    chunks = plan(parts, 700)
    assert [c.raw_parts for c in chunks] == [
        ("p0", "p1", "p2"),
        ("p3", "p4", "p5"),
        ("p6",),
    ]
    assert [c.rows for c in chunks] == [900, 900, 300]
    assert [c.index for c in chunks] == [0, 1, 2]
    assert [c.raw_parts for c in plan(parts, 300)] == [(p,) for p, _ in parts]  # a part each
    assert plan(parts, 10**6)[0].rows == 2_100  # one chunk: everything
    assert [(c.raw_parts, c.rows) for c in plan([], 700)] == [((), 0)]  # an empty import


def test_the_job_is_chosen_by_rows_threshold_and_run_config() -> None:
    assert ingest_job_for(200_000, 100_000) == FANOUT_JOB_NAME
    assert ingest_job_for(100_000, 100_000) == FANOUT_JOB_NAME
    assert ingest_job_for(99_999, 100_000) == INGEST_JOB_NAME
    assert ingest_job_for(10**7, 0) == INGEST_JOB_NAME  # 0: never
    config = {"ops": {"normalized_listings": {"config": {"delay_seconds": 1}}}}
    assert ingest_job_for(200_000, 100_000, config) == INGEST_JOB_NAME


def test_the_threshold_defaults_by_executor() -> None:
    assert Settings(executor="multiprocess").fanout_threshold == 0
    assert Settings(fanout_min_rows=5).fanout_threshold == 5
    celery = Settings(executor="celery", dagster_postgres_url="postgresql://x/y")
    assert celery.fanout_threshold == 100_000


def test_a_fanned_out_runs_steps_read_as_the_five_stages() -> None:
    one_step = {"raw_listings": "SUCCESS", "normalized_listings": "IN_PROGRESS"}
    assert stage_statuses(one_step)["normalized_listings"] == "IN_PROGRESS"
    assert stage_statuses(one_step)["enriched_listings"] is None

    fanned = {
        "raw_listings": "SUCCESS",
        "raw_listings_checks": "SUCCESS",
        "listing_chunks.plan_chunks": "SUCCESS",
        "listing_chunks.transform_chunk[c0000]": "SUCCESS",
        "listing_chunks.transform_chunk[c0001]": "IN_PROGRESS",
    }
    statuses = stage_statuses(fanned)
    assert statuses["raw_listings"] == "SUCCESS"
    assert statuses["normalized_listings"] == statuses["enriched_listings"] == "IN_PROGRESS"
    assert statuses["scored_listings"] is None
    failed = {**fanned, "listing_chunks.transform_chunk[c0001]": "FAILURE"}
    assert stage_statuses(failed)["enriched_listings"] == "FAILURE"
    done = {**fanned, "listing_chunks.transform_chunk[c0001]": "SUCCESS"}
    done["listing_chunks.assemble_chunks"] = "SUCCESS"
    assert stage_statuses(done)["normalized_listings"] == "SUCCESS"

    assert stages_of_step("listing_chunks.transform_chunk[c0003]") == (
        "normalized_listings",
        "enriched_listings",
    )
    assert stages_of_step("scored_listings") == ("scored_listings",)
    assert stages_of_step("scored_listings_checks") == ()
