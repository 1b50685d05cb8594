"""Dry-running an import: every check of an import, row level included, nothing persisted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from glyphd_api import submit
from glyphd_api.deps import ContextDep
from glyphd_api.routes.common import answer, errors
from glyphd_api.routes.upload_params import UPLOAD_BODY, FieldsDep
from glyphd_api.schemas import ValidationReport
from glyphd_api.uploads import Submission, receive

router = APIRouter(tags=["imports"])


@router.post(
    "/api/imports/validate",
    response_model=ValidationReport,
    summary="Dry-run an import: file and row checks, nothing persisted",
    responses=errors(400, 401, 403, 413, 415, 422),
    openapi_extra=UPLOAD_BODY,
)
async def validate_import(
    request: Request,
    fields: FieldsDep,
    ctx: ContextDep,
    max_listed: Annotated[int, Query(ge=0, le=1000, description="Row errors to list")] = 100,
) -> Any:
    """The same checks as an import, row level included (the pipeline's own functions), on a
    temporary copy: no landing, no database row, no run. A file an import would refuse answers
    ``valid: false`` with every problem."""

    def run(submission: Submission, chunks: Iterator[bytes]) -> ValidationReport:
        return submit.dry_run(ctx.settings, submission, chunks, max_listed)

    report = await receive(
        request,
        fields.submission,
        run,
        max_bytes=ctx.settings.max_upload_bytes,
        allow_run_config=True,  # validation launches nothing; run_config is ignored
    )
    return answer(report)
