"""The established glyphd endpoints that have no glyph counterpart of the same name: the title
classifier, the market report and the artifact validator (validate-only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from glyph_assets.sieve.classify import classify_title
from glyphd_api.artifacts import ArtifactValidation, check_artifact
from glyphd_api.deps import ContextDep
from glyphd_api.errors import ApiError
from glyphd_api.report import MarketReport, build_report
from glyphd_api.routes.common import answer, errors
from glyphd_api.uploads import Submission, receive

router = APIRouter(tags=["established"])


class GpuTitle(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "NVIDIA A100 80GB"}]})
    title: StrictStr = Field(max_length=4096, description="A listing title (a string)")


class GpuPrediction(BaseModel):
    ml_is_gpu: bool
    ml_score: float = Field(ge=0.0, le=1.0, description="Confidence that the title is a GPU")
    canonical_model: str | None = Field(default=None, description="glyph's model for the title")
    reason: str | None = Field(default=None, description="reject_reason when not a GPU")


@router.post(
    "/api/ml/is-gpu",
    response_model=GpuPrediction,
    summary="Is this title a GPU? The pipeline's own decision (the established endpoint)",
    responses=errors(400, 401, 422, database=False),
)
def is_gpu(body: GpuTitle) -> Any:
    """The same rules an import applies to the title (``sieve.classify``), so the answer and
    the import agree; ``ml_score`` is the rules' documented confidence, always a float."""
    decision = classify_title(body.title)
    return answer(
        GpuPrediction(
            ml_is_gpu=decision.is_gpu,
            ml_score=float(decision.confidence),
            canonical_model=decision.canonical_model,
            reason=decision.reason,
        )
    )


@router.get(
    "/api/report",
    response_model=MarketReport,
    summary="The market report: summary statistics, top models by score, scoring weights",
    responses={
        200: {"content": {"text/markdown": {"schema": {"type": "string"}}}},
        **errors(401, 422),
    },
)
def report(
    request: Request,
    ctx: ContextDep,
    format: Annotated[
        str | None, Query(pattern="^(json|markdown)$", description="json (default) or markdown")
    ] = None,
) -> Any:
    """JSON (the established ``ReportDTO``) unless ``format=markdown`` or an ``Accept`` header
    that prefers ``text/markdown``, which answer the Markdown itself."""
    built = build_report(ctx)
    accept = request.headers.get("accept", "")
    if format == "markdown" or (format is None and accept.startswith("text/markdown")):
        return Response(built.markdown, media_type="text/markdown; charset=utf-8")
    return answer(built)


@router.post(
    "/api/ingest/upload-artifact",
    response_model=ArtifactValidation,
    summary="Validate a file without importing it (the established artifact validator)",
    responses=errors(400, 401, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "save_to_disk": {"type": "string", "enum": ["true", "false"]},
                            "file": {"type": "string", "format": "binary"},
                        },
                    }
                }
            },
        }
    },
)
async def upload_artifact(request: Request, ctx: ContextDep) -> Any:
    """Every check an import would make, nothing registered or run. With ``save_to_disk``
    (a form field before the file) the upload is kept under the data directory's
    ``validation/`` folder with a generated name, never at a path the client chooses."""

    def run(submission: Submission, chunks: Iterator[bytes]) -> ArtifactValidation:
        return check_artifact(ctx.settings, submission, chunks)

    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise ApiError(
            415, "send the file as multipart/form-data ('file')", code="unsupported_media_type"
        )
    result = await receive(
        request,
        Submission(),
        run,
        max_bytes=ctx.settings.max_upload_bytes,
        allow_run_config=True,  # nothing is run
    )
    return answer(result)
