"""The established glyphd endpoints that have no glyph counterpart of the same name: the title
classifier, the market report and the artifact validator (validate-only)."""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from glyph_assets.landing import UploadTooLarge
from glyph_assets.sieve.classify import classify_title
from glyph_assets.sieve.score import ScoreConfig
from glyphd_api import queries
from glyphd_api.deps import ContextDep
from glyphd_api.errors import ApiError
from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import ESTABLISHED_SCHEMA_VERSION
from glyphd_api.service import Context
from glyphd_api.uploads import Submission, receive, spool_to_temp
from glyphd_api.validation import validate_file

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


class MarketReport(BaseModel):
    """The established ``ReportDTO``: the report as Markdown and its parts as data."""

    markdown: str
    summary_stats: dict[str, str]
    top_ranked: list[str]
    scoring_weights: dict[str, float]


def build_report(ctx: Context, top: int = 10) -> MarketReport:
    stats = queries.warehouse_stats(ctx.engine)
    ranked = queries.top_ranked_models(ctx.engine, top)
    weights = {
        name.removeprefix("score_") + "_weight": value
        for name, value in ScoreConfig().weights().items()
    }
    summary = {key: _text(value) for key, value in stats.items()}
    lines = ["# GPU market report", "", "## Summary", ""]
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in summary.items()]
    lines += ["", f"## Top {top} models by best score", ""]
    if ranked:
        lines += ["| model | best score | listings | median price |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {r['canonical_model']} | {r['best_score']:.1f} | {r['listings']} | "
            f"{_text(r['median_price'])} |"
            for r in ranked
        ]
    else:
        lines.append("No scored listings yet.")
    lines += ["", "## Scoring weights", ""]
    lines += [f"- {name}: {value:g}" for name, value in weights.items()]
    return MarketReport(
        markdown="\n".join(lines) + "\n",
        summary_stats=summary,
        top_ranked=[r["canonical_model"] for r in ranked],
        scoring_weights=weights,
    )


def _text(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


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


class ArtifactValidation(BaseModel):
    """The established ``ArtifactValidationResultDTO``."""

    valid: bool
    type: str
    rows: int | None = None
    schema_version: str = ESTABLISHED_SCHEMA_VERSION
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    filename: str | None = None
    file_size: int | None = None
    saved_to_disk: bool = False
    saved_path: str | None = None


ARTIFACT_SUFFIXES = (".csv", ".json", ".yaml", ".yml")
KIND_TYPES = {"raw": "gpu_listing", "scored": "scored_gpu_listing"}
MAX_LISTED = 100


def _yaml_report(path: Path) -> ArtifactValidation:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        return ArtifactValidation(valid=False, type="unknown", errors=[f"Malformed YAML: {exc}"])
    if isinstance(data, list):
        return ArtifactValidation(
            valid=True, type="array", rows=len(data), warnings=["YAML is not ingested by glyph"]
        )
    if isinstance(data, dict):
        return ArtifactValidation(
            valid=True, type="object", rows=1, warnings=["YAML is not ingested by glyph"]
        )
    return ArtifactValidation(valid=False, type="unknown", errors=["YAML must be a list or a map"])


def artifact_report(path: Path, filename: str, settings: Any) -> ArtifactValidation:
    """glyph's own validation (every check of an import, nothing persisted) in the established
    shape: file-level problems and row errors are ``errors`` ("Row N: ...", N the row's
    import_index, its 1-based place among the data rows), warnings are ``warnings``."""
    if filename.lower().endswith((".yaml", ".yml")):
        return _yaml_report(path)
    checked = validate_file(
        path,
        filename,
        None,
        chunk_rows=settings.chunk_rows,
        max_field_chars=settings.max_field_chars,
        max_listed=MAX_LISTED,
        max_rows=settings.max_rows,
    )
    kind = checked.detected.kind if checked.detected else None
    errors_found = list(checked.problems)
    errors_found += [f"Row {e.import_index}: {e.reason}" for e in checked.errors]
    warnings = [f"Row {w.import_index}: {w.warning}" for w in checked.warnings]
    warnings += checked.import_warnings
    if checked.valid and checked.error_rows:
        warnings.append(f"Only {checked.valid_rows}/{checked.total_rows} rows passed validation")
    return ArtifactValidation(
        valid=checked.valid and checked.valid_rows > 0,
        type=KIND_TYPES.get(kind or "", "unknown"),
        rows=checked.total_rows if checked.valid else None,
        warnings=warnings,
        errors=errors_found,
    )


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
    settings = ctx.settings

    def run(sub: Submission, chunks: Iterator[bytes]) -> ArtifactValidation:
        name = sub.filename
        if not name:
            raise ApiError(422, "Filename is required", code="invalid_request")
        if not name.lower().endswith(ARTIFACT_SUFFIXES):
            raise ApiError(
                422,
                "Unsupported file type. Supported extensions: " + ", ".join(ARTIFACT_SUFFIXES),
                code="unsupported_file_type",
            )
        with tempfile.TemporaryDirectory(prefix="glyph-artifact-") as tmp:
            try:
                spooled = spool_to_temp(chunks, tmp, Path(name).suffix, settings.max_upload_bytes)
            except UploadTooLarge as exc:
                # The established validator's 413 names no limit (a Content-Length over it is
                # refused before, by the app-wide answer that does).
                raise ApiError(413, str(exc), code="payload_too_large") from exc
            path = Path(spooled)
            result = artifact_report(path, name, settings)
            result.filename, result.file_size = name, path.stat().st_size
            if sub.save_to_disk:
                folder = settings.data_dir / "validation"
                folder.mkdir(parents=True, exist_ok=True)
                safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-120:]
                target = folder / f"{secrets.token_hex(4)}_{safe}"
                target.write_bytes(path.read_bytes())
                result.saved_to_disk, result.saved_path = True, str(target)
            return result

    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise ApiError(
            415, "send the file as multipart/form-data ('file')", code="unsupported_media_type"
        )
    result = await receive(
        request,
        Submission(),
        run,
        max_bytes=settings.max_upload_bytes,
        allow_run_config=True,  # nothing is run
    )
    return answer(result)


__all__ = ["artifact_report", "build_report", "router"]
