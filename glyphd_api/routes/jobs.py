"""Runs of an import: launch the next attempt, read a run's status and progress from Dagster
(the source of truth for run state), cancel a run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from glyphd_api import service
from glyphd_api.deps import ContextDep, RunConfigAllowed
from glyphd_api.errors import ApiError
from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import JobStatus, RetryRequest, RetryResponse

# Every route here asks Dagster about a run: a refused token (401), an unknown run or import
# (404), Dagster failing (502) or unreachable, like the database (503).
router = APIRouter(responses=errors(401, 404, 502, 503))


@router.post(
    "/api/imports/{import_id}/retry",
    tags=["imports"],
    status_code=202,
    response_model=RetryResponse,
    summary="Launch the next attempt of a failed or canceled import",
    responses=errors(400, 403, 409, 413, 422),
)
def retry_import(
    import_id: str,
    allowed: RunConfigAllowed,
    ctx: ContextDep,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> Any:
    """Dagster re-executes from the failed step (re-reading the stored Parquet of the steps that
    succeeded) where it can, otherwise a new run of the partition is launched; either way it is
    recorded as the import's next attempt. A ``run_config`` given here replaces the parent's (a
    plain re-execution keeps it)."""
    body = body or RetryRequest()
    if body.run_config is not None and not allowed:
        raise ApiError(
            403, "run_config is not accepted by this server", code="run_config_not_allowed"
        )
    return answer(service.retry(ctx, import_id, body), 202)


@router.get(
    "/api/jobs/{run_id}/status",
    tags=["jobs"],
    response_model=JobStatus,
    summary="A run's status, progress (assets done of five, rows) and failure message",
)
def job_status(run_id: str, ctx: ContextDep) -> Any:
    """Read from Dagster, the source of truth; the import it belongs to is reconciled on the
    way, so an import whose run ended while the API was down is corrected here."""
    return answer(service.job_status(ctx, run_id))


@router.post(
    "/api/jobs/{run_id}/cancel",
    tags=["jobs"],
    response_model=JobStatus,
    summary="Terminate a run; its import becomes canceled and keeps no rows",
    responses={
        202: {"model": JobStatus, "description": "Termination requested, not yet final"},
        **errors(409),
    },
)
def cancel_job(
    run_id: str,
    ctx: ContextDep,
    wait: Annotated[
        float, Query(ge=0, le=120, description="Seconds to wait for CANCELED before answering")
    ] = 15.0,
) -> Any:
    status, final = service.cancel(ctx, run_id, wait)
    return answer(status, 200 if final else 202)
