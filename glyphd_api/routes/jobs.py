"""Jobs are Dagster runs: their status and progress, read from Dagster, and cancellation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from glyphd_api import service
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import JobStatus

router = APIRouter(tags=["jobs"])


@router.get(
    "/api/jobs/{run_id}/status",
    response_model=JobStatus,
    summary="A run's status, progress (assets done of five, rows) and failure message",
    responses=errors(401, 404, 502, 503),
)
def job_status(run_id: str, ctx: ContextDep) -> Any:
    """Read from Dagster, the source of truth; the import it belongs to is reconciled on the
    way, so an import whose run ended while the API was down is corrected here."""
    return answer(service.job_status(ctx, run_id))


@router.post(
    "/api/jobs/{run_id}/cancel",
    response_model=JobStatus,
    summary="Terminate a run; its import becomes canceled and keeps no rows",
    responses={
        202: {"model": JobStatus, "description": "Termination requested, not yet final"},
        **errors(401, 404, 409, 502, 503),
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
