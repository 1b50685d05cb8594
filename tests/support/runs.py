"""Dagster runs as unit tests create them on a test instance: with the job origin that Dagster's
own submissions set, which its run queue requires."""

from __future__ import annotations

from collections.abc import Mapping

from dagster import DagsterInstance
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

# Where a run says its job lives (Dagster requires one to queue a run).
ORIGIN = RemoteJobOrigin(
    RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("glyph"), "__repository__"),
    "ingest_import",
)


def ingest_run(
    instance: DagsterInstance,
    tags: Mapping[str, str] | None = None,
    status: DagsterRunStatus = DagsterRunStatus.NOT_STARTED,
) -> DagsterRun:
    """A run of ``ingest_import`` stored on ``instance`` as a submission creates it."""
    return create_run_for_test(
        instance,
        job_name="ingest_import",
        tags=dict(tags or {}),
        status=status,
        remote_job_origin=ORIGIN,
    )


__all__ = ["ORIGIN", "ingest_run"]
