"""Imports: submit (file, JSON body, raw CSV, server file), validate, list, summarize, retry."""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path, PurePath
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from glyph_assets.imports import register_import
from glyph_assets.sieve.read import JsonDocument
from glyph_assets.sieve.scored import DTO_REQUIRED, dto_problems
from glyph_assets.store import repository
from glyphd_api import established, export, queries, service
from glyphd_api.deps import ContextDep, allow_run_config
from glyphd_api.errors import ApiError
from glyphd_api.routes.common import (
    Limit,
    Offset,
    answer,
    errors,
    sort_pattern,
    sorted_page,
)
from glyphd_api.schemas import (
    SCHEMA_VERSION,
    DetectedFormat,
    FromPipelineRequest,
    ImportAccepted,
    ImportListItem,
    ImportResult,
    ImportSummary,
    JsonImportRequest,
    ListingPage,
    Page,
    RetryRequest,
    RetryResponse,
    RowErrorOut,
    ScoreScaleName,
    ValidationReport,
)
from glyphd_api.service import Context
from glyphd_api.uploads import Submission, receive, safe_filename, spool_to_temp
from glyphd_api.validation import validate_file

router = APIRouter(tags=["imports"])

_FORM_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "source": {"type": "string", "maxLength": 200, "default": "api"},
        "description": {"type": "string"},
        "kind": {"type": "string", "enum": ["raw", "scored"]},
        "score_scale": {
            "type": "string",
            "enum": ["0-100", "0-1"],
            "description": "Scored rows: the scale of their score",
        },
        "campaign_id": {"type": "string"},
        "metadata": {"type": "string", "description": "A JSON object, kept with the import"},
        "run_config": {
            "type": "string",
            "description": "Dagster run config as JSON (only when the server allows it)",
        },
        "file": {
            "type": "string",
            "format": "binary",
            "description": "CSV, TSV or JSON; send it after the other fields",
        },
    },
}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "A multipart form with the file (fields before the file), a JSON body with "
            "`listings`, or the CSV/TSV itself as the body (fields as query parameters)."
        ),
        "content": {
            "multipart/form-data": {"schema": _FORM_SCHEMA},
            "application/json": {
                "schema": JsonImportRequest.model_json_schema(
                    ref_template="#/components/schemas/{model}"
                )
            },
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "text/tab-separated-values": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
UPLOAD_ERRORS = errors(400, 401, 403, 409, 413, 415, 422, 502, 503, 507)


class Fields:
    """Query parameters that describe an upload (form fields or JSON keys take precedence)."""

    def __init__(
        self,
        source: Annotated[str, Query(min_length=1, max_length=200)] = "api",
        description: Annotated[str | None, Query(max_length=10_000)] = None,
        kind: Annotated[str | None, Query(pattern="^(raw|scored)$")] = None,
        campaign_id: Annotated[str | None, Query(max_length=200)] = None,
        filename: Annotated[
            str | None, Query(max_length=500, description="Name of a raw-body upload")
        ] = None,
        score_scale: Annotated[
            ScoreScaleName | None,
            Query(
                description="Scored rows: the scale of their score (0-100 default; an "
                "undeclared import whose every score is within [0, 1.5] is read as 0-1, "
                "with a warning). The client's score is stored as sent either way"
            ),
        ] = None,
    ) -> None:
        self.submission = Submission(
            source=source,
            description=description,
            kind=kind,
            campaign_id=campaign_id,
            filename=filename,
            score_scale=score_scale,
        )


WaitParam = Annotated[bool, Query(description="Answer with the final summary (200) when done")]
SyncParam = Annotated[
    bool,
    Query(
        description="Established paths answer when the import is done (200, ImportResultDTO); "
        "wait=false (or the header Prefer: respond-async) answers 202 at once"
    ),
]
SyncTimeout = Annotated[
    float, Query(ge=0, le=3600, description="Seconds to wait before answering 202 instead")
]
PreferHeader = Annotated[
    str | None, Header(alias="Prefer", description="respond-async: answer 202 at once")
]


class Synchronous:
    """How an established path answers: when the import is done (its clients' expectation),
    unless ``wait=false`` or ``Prefer: respond-async`` ask for the 202 at once (RFC 7240)."""

    def __init__(
        self, wait: SyncParam = True, timeout: SyncTimeout = 600.0, prefer: PreferHeader = None
    ) -> None:
        self.wait = wait and not (prefer is not None and "respond-async" in prefer.lower())
        self.timeout = timeout


TimeoutParam = Annotated[
    float, Query(ge=0, le=3600, description="Seconds to wait with wait=true before answering 202")
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a submission safely: the same key answers with the same import",
    ),
]


def _accepted(
    ctx: Context,
    record: dict[str, Any],
    run_id: str | None,
    attempt: int | None,
    detected: DetectedFormat | None = None,
) -> ImportAccepted:
    return ImportAccepted(
        import_id=record["import_id"],
        run_id=run_id,
        attempt=attempt,
        status=record["status"],
        source=record["source"],
        kind=record.get("kind") or "raw",
        sha256=record["sha256"],
        size_bytes=record.get("size_bytes") or 0,
        detected=detected,
        links=ctx.links(record["import_id"], run_id),
    )


def _register_and_launch(
    ctx: Context, submission: Submission, chunks: Iterator[bytes], idempotency_key: str | None
) -> ImportAccepted:
    """Land + check + record (register_import), then add the partition and launch the run."""
    try:
        registered = register_import(
            chunks,
            filename=submission.filename,
            content_type=submission.content_type,
            source=submission.source,
            description=submission.description,
            kind=submission.kind,
            campaign_id=submission.campaign_id,
            metadata=submission.metadata,
            idempotency_key=idempotency_key,
            settings=ctx.settings,
            score_scale=submission.score_scale,
        )
    except IntegrityError as exc:
        # Another request with the same Idempotency-Key won the race: answer with its import.
        existing = (
            repository.find_import(ctx.engine, idempotency_key=idempotency_key)
            if idempotency_key
            else None
        )
        if existing is None:
            raise ApiError(
                409, "the import could not be recorded: it conflicts with another", code="conflict"
            ) from exc
        raise Replayed(existing) from exc
    run_id, attempt = service.launch_first_run(
        ctx, registered.import_id, submission.source, submission.run_config
    )
    inspection = registered.inspection
    detected = DetectedFormat(
        format=inspection.format,
        encoding=inspection.encoding,
        delimiter=inspection.delimiter,
        columns=inspection.columns,
        kind=inspection.kind,  # type: ignore[arg-type]
    )
    record = repository.get_import(ctx.engine, registered.import_id) or registered.record
    return _accepted(ctx, record, run_id, attempt, detected)


class Replayed(Exception):
    """The submission's Idempotency-Key belongs to an import recorded meanwhile."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record["import_id"])
        self.record = record


async def wait_until_final(ctx: Context, import_id: str, timeout: float) -> service.ImportState:
    """Poll (reconciling) until the import is final or the timeout passes. The wait itself is
    async, so waiting clients do not hold the worker threads that other requests need."""
    deadline = time.monotonic() + max(0.0, timeout)
    delay = 0.2
    while True:
        state = await anyio.to_thread.run_sync(service.load_state, ctx, import_id)
        left = deadline - time.monotonic()
        if state.record["status"] in service.TERMINAL or left <= 0:
            return state
        await anyio.sleep(min(delay, left))
        delay = min(delay * 1.5, 1.0)


async def _finish(
    ctx: Context,
    accepted: ImportAccepted,
    wait: bool,
    timeout: float,
    headers: dict[str, str] | None = None,
    established: bool = False,
) -> Any:
    """202 with the accepted import, or with wait=true the final summary (200) once it is final
    (on the established paths as the established ``ImportResultDTO``)."""
    if wait:
        state = await wait_until_final(ctx, accepted.import_id, timeout)
        if state.record["status"] in service.TERMINAL:
            summary = await anyio.to_thread.run_sync(service.build_summary, ctx, state)
            if established:
                return answer(service.import_result(summary), 200, headers)
            return answer(summary, 200, headers)
        accepted = accepted.model_copy(update={"status": state.record["status"]})
    return answer(accepted, 202, headers)


async def _replay(
    ctx: Context, key: str | None, record: dict[str, Any] | None = None
) -> ImportAccepted | None:
    if not key:
        return None
    if record is None:
        record = await anyio.to_thread.run_sync(
            lambda: repository.find_import(ctx.engine, idempotency_key=key)
        )
    if record is None:
        return None
    runs = await anyio.to_thread.run_sync(repository.runs_of, ctx.engine, record["import_id"])
    latest = runs[-1] if runs else None
    return _accepted(
        ctx, record, latest["run_id"] if latest else None, latest["attempt"] if latest else None
    )


async def _submit(
    request: Request,
    ctx: Context,
    fields: Fields,
    wait: bool,
    timeout: float,
    idempotency_key: str | None,
    established: bool = False,
    **receiving: Any,
) -> Any:
    replay = {"Idempotent-Replayed": "true"}
    replayed = await _replay(ctx, idempotency_key)
    if replayed is not None:
        return await _finish(ctx, replayed, wait, timeout, replay, established)
    try:
        accepted = await receive(
            request,
            fields.submission,
            lambda sub, chunks: _register_and_launch(ctx, sub, chunks, idempotency_key),
            max_bytes=ctx.settings.max_upload_bytes,
            allow_run_config=allow_run_config(request),
            **receiving,
        )
    except Replayed as exc:
        replayed = await _replay(ctx, idempotency_key, exc.record)
        assert replayed is not None
        return await _finish(ctx, replayed, wait, timeout, replay, established)
    return await _finish(ctx, accepted, wait, timeout, established=established)


def _established_dto(document: JsonDocument) -> None:
    """The established persist path takes a bare array of GPUListingDTO and refuses the whole
    body when an item breaks that contract (as its clients expect), before anything is kept."""
    if document.key is not None:
        raise ApiError(
            422,
            "the body must be a bare JSON array of listings (GPUListingDTO)",
            code="invalid_request",
        )
    problems = dto_problems(document.records)
    if problems:
        raise ApiError(
            422,
            "the listings do not match GPUListingDTO; nothing was kept",
            code="invalid_request",
            problems=problems,
        )


@router.post(
    "/api/imports",
    status_code=202,
    response_model=None,
    summary="Submit a file or JSON listings as a new import",
    responses={
        202: {"model": ImportAccepted, "description": "Registered; its run is launched"},
        200: {"model": ImportSummary, "description": "With wait=true: the final summary"},
        **UPLOAD_ERRORS,
    },
    openapi_extra=UPLOAD_BODY,
)
async def create_import(
    request: Request,
    fields: Annotated[Fields, Depends()],
    ctx: ContextDep,
    wait: WaitParam = False,
    timeout: TimeoutParam = 60.0,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """The upload is streamed to the landing zone, checked at file level (every problem is
    listed, nothing kept when refused), registered with a new import_id, its partition added and
    an ``ingest_import`` run launched."""
    return await _submit(request, ctx, fields, wait, timeout, idempotency_key)


@router.post(
    "/api/import/csv",
    status_code=200,
    response_model=None,
    summary="Submit a CSV (the established raw-CSV path): answers when the import is done",
    responses={
        200: {"model": ImportResult, "description": "The finished import (ImportResultDTO)"},
        202: {"model": ImportAccepted, "description": "wait=false, or not done in time"},
        **UPLOAD_ERRORS,
    },
    openapi_extra=UPLOAD_BODY,
)
async def create_import_csv(
    request: Request,
    fields: Annotated[Fields, Depends()],
    ctx: ContextDep,
    answer_when: Annotated[Synchronous, Depends()],
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """The same import as ``POST /api/imports`` (a Dagster run, in glyph's history), answered
    synchronously as established clients expect."""
    return await _submit(
        request,
        ctx,
        fields,
        answer_when.wait,
        answer_when.timeout,
        idempotency_key,
        established=True,
    )


@router.post(
    "/api/persist/listings",
    status_code=200,
    response_model=None,
    summary="Persist already-scored listings (the established path): a bare array of "
    "GPUListingDTO, answered when the import is done",
    responses={
        200: {"model": ImportResult, "description": "The finished import (ImportResultDTO)"},
        202: {"model": ImportAccepted, "description": "wait=false, or not done in time"},
        **UPLOAD_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": list(DTO_REQUIRED),
                            "properties": {
                                "canonical_model": {"type": "string"},
                                "vram_gb": {"type": "integer"},
                                "mig_support": {"type": "integer", "minimum": 0, "maximum": 7},
                                "nvlink": {"type": "boolean"},
                                "tdp_watts": {"type": "integer"},
                                "price": {"type": "number"},
                                "score": {"type": "number"},
                                "import_id": {"type": "string"},
                                "import_index": {"type": "integer"},
                            },
                        },
                    },
                    "example": [
                        {
                            "canonical_model": "H100_PCIE_80GB",
                            "vram_gb": 80,
                            "mig_support": 7,
                            "nvlink": False,
                            "tdp_watts": 350,
                            "price": 27450.0,
                            "score": 0.92,
                        }
                    ],
                }
            },
        }
    },
)
async def persist_listings(
    request: Request,
    fields: Annotated[Fields, Depends()],
    ctx: ContextDep,
    answer_when: Annotated[Synchronous, Depends()],
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Each call is a new import (a new import_id; ``import_id`` and ``import_index`` in the
    body are ignored, as established). The rows keep their own model, specs and score (the
    score exactly as sent, in ``client_score``); missing specs come from the registry."""
    fields.submission = replace(fields.submission, kind="scored")
    return await _submit(
        request,
        ctx,
        fields,
        answer_when.wait,
        answer_when.timeout,
        idempotency_key,
        established=True,
        check_json=_established_dto,
        json_only=True,
    )


def resolve_pipeline_path(root: Path, given: str) -> Path:
    """The file a pipeline names, if and only if it really lies under the pipeline root.

    ``..`` is refused outright (422); symlinks are resolved before the containment check (403).
    Nothing is opened here.
    """
    if "\x00" in given:
        raise ApiError(422, "input_csv_path contains a NUL byte", code="path_not_allowed")
    if ".." in PurePath(given.replace("\\", "/")).parts:
        raise ApiError(422, "input_csv_path may not contain '..'", code="path_not_allowed")
    try:
        base = root.resolve(strict=True)
    except (FileNotFoundError, RuntimeError) as exc:
        raise ApiError(
            403,
            "imports from the pipeline are not set up on this server "
            "(the pipeline root does not exist)",
            code="pipeline_root_missing",
        ) from exc
    candidate = Path(given)
    candidate = candidate if candidate.is_absolute() else base / candidate
    try:
        resolved = candidate.resolve(strict=False)
    except RuntimeError as exc:  # a symlink loop
        raise ApiError(422, "input_csv_path cannot be resolved", code="path_not_allowed") from exc
    if not resolved.is_relative_to(base):
        raise ApiError(403, "input_csv_path is outside the pipeline root", code="path_forbidden")
    if not resolved.exists():
        raise ApiError(404, "no such file under the pipeline root", code="file_not_found")
    if not resolved.is_file():
        raise ApiError(422, "input_csv_path is not a regular file", code="path_not_allowed")
    return resolved


def _open_chunks(path: Path) -> Iterator[bytes]:
    """Read the checked path without following a symlink swapped in since the check."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ApiError(422, "input_csv_path is not a regular file", code="path_not_allowed")
        while block := fh.read(1 << 20):
            yield block


@router.post(
    "/api/imports/from-pipeline",
    status_code=200,
    response_model=None,
    summary="Import a file already on the server, from under the pipeline root only "
    "(the established path): answers when the import is done",
    responses={
        200: {"model": ImportResult, "description": "The finished import (ImportResultDTO)"},
        202: {"model": ImportAccepted, "description": "wait=false, or not done in time"},
        **errors(400, 401, 403, 404, 409, 413, 422, 502, 503),
    },
)
async def import_from_pipeline(
    request: Request,
    body: FromPipelineRequest,
    ctx: ContextDep,
    answer_when: Annotated[Synchronous, Depends()],
    idempotency_key: IdempotencyKey = None,
) -> Any:
    wait, timeout = answer_when.wait, answer_when.timeout
    replay = {"Idempotent-Replayed": "true"}
    replayed = await _replay(ctx, idempotency_key)
    if replayed is not None:
        return await _finish(ctx, replayed, wait, timeout, replay, established=True)
    path = resolve_pipeline_path(ctx.settings.from_pipeline_root, body.input_csv_path)
    submission = Submission(
        source=body.source_label,
        description=body.description,
        kind=body.kind,
        campaign_id=body.campaign_id,
        metadata=body.metadata,
        run_config=body.run_config,
        filename=safe_filename(path.name),
        score_scale=body.score_scale,
    ).checked(allow_run_config(request))
    try:
        accepted = await anyio.to_thread.run_sync(
            _register_and_launch, ctx, submission, _open_chunks(path), idempotency_key
        )
    except Replayed as exc:
        replayed = await _replay(ctx, idempotency_key, exc.record)
        assert replayed is not None
        return await _finish(ctx, replayed, wait, timeout, replay, established=True)
    return await _finish(ctx, accepted, wait, timeout, established=True)


@router.post(
    "/api/imports/validate",
    response_model=ValidationReport,
    summary="Dry-run an import: file and row checks, nothing persisted",
    responses=errors(400, 401, 403, 413, 415, 422),
    openapi_extra=UPLOAD_BODY,
)
async def validate_import(
    request: Request,
    fields: Annotated[Fields, Depends()],
    ctx: ContextDep,
    max_listed: Annotated[int, Query(ge=0, le=1000, description="Row errors to list")] = 100,
) -> Any:
    """The same checks as an import, row level included (the pipeline's own functions), on a
    temporary copy: no landing, no database row, no run. A file an import would refuse answers
    ``valid: false`` with every problem."""
    settings = ctx.settings

    def run(sub: Submission, chunks: Iterator[bytes]) -> ValidationReport:
        suffix = Path(sub.filename or "upload.csv").suffix or ".csv"
        with tempfile.TemporaryDirectory(prefix="glyph-validate-") as tmp:
            path = spool_to_temp(chunks, tmp, suffix, settings.max_upload_bytes)
            return validate_file(
                Path(path),
                sub.filename,
                sub.kind,
                chunk_rows=settings.chunk_rows,
                max_field_chars=settings.max_field_chars,
                max_listed=max_listed,
                max_rows=settings.max_rows,
                score_scale=sub.score_scale,
            )

    report = await receive(
        request,
        fields.submission,
        run,
        max_bytes=settings.max_upload_bytes,
        allow_run_config=True,  # validation launches nothing; run_config is ignored
    )
    return answer(report)


@router.get(
    "/api/imports",
    response_model=Page[ImportListItem],
    summary="List imports, newest first",
    responses=errors(401, 422),
)
def list_imports(
    ctx: ContextDep,
    status: Annotated[
        list[str] | None,
        Query(
            description="One or more of queued, running, succeeded, partially_succeeded, "
            "failed, canceled"
        ),
    ] = None,
    source: Annotated[str | None, Query(max_length=200)] = None,
    created_after: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    created_before: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    sort: Annotated[
        str,
        Query(
            description="created_at, finished_at or total_rows; '-' for descending",
            pattern=sort_pattern(queries.IMPORT_SORTS),
        ),
    ] = "-created_at",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    bad = [s for s in status or [] if s not in service.TERMINAL | {"queued", "running"}]
    if bad:
        raise ApiError(422, f"unknown status {', '.join(bad)}", code="invalid_request")
    items, total = sorted_page(
        lambda: queries.list_imports(
            ctx.engine,
            statuses=status,
            source=source,
            created_after=created_after,
            created_before=created_before,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    )
    items = service.reconcile_page(ctx, items)
    page = Page[ImportListItem](
        items=[ImportListItem.model_validate(i) for i in items],
        total=total,
        limit=limit,
        offset=offset,
    )
    return answer(page)


@router.get(
    "/api/imports/{import_id}",
    response_model=ImportSummary,
    summary="An import's summary: status, runs, row counts, score range, top models, errors",
    responses=errors(401, 404),
)
def get_import(import_id: str, ctx: ContextDep) -> Any:
    state = service.load_state(ctx, import_id)
    return answer(service.build_summary(ctx, state))


def _known(ctx: Context, import_id: str) -> None:
    if repository.get_import(ctx.engine, import_id) is None:
        raise ApiError(404, f"no import {import_id}", code="import_not_found")


@router.get(
    "/api/imports/{import_id}/errors",
    response_model=Page[RowErrorOut],
    summary="An import's row errors",
    responses=errors(401, 404, 422),
)
def import_errors(
    import_id: str,
    ctx: ContextDep,
    stage: str | None = None,
    field: str | None = None,
    sort: Annotated[
        str,
        Query(
            description="import_index, stage or field; '-' descending",
            pattern=sort_pattern(queries.ERROR_SORTS),
        ),
    ] = "import_index",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    _known(ctx, import_id)
    items, total = sorted_page(
        lambda: queries.list_errors(
            ctx.engine, import_id, stage=stage, field=field, sort=sort, limit=limit, offset=offset
        )
    )
    return answer(
        Page[RowErrorOut](
            items=[RowErrorOut(**i) for i in items], total=total, limit=limit, offset=offset
        )
    )


class ListingQuery(BaseModel):
    """Filters shared by /api/listings and /api/imports/{id}/listings, as one query-parameter
    model: FastAPI validates it in one pydantic pass instead of twelve (the import page is the
    API's hottest read). A parameter it does not know is a 422 (``reject_unknown_query``)."""

    canonical_model: list[str] | None = Field(
        None, description="Exact canonical_model (repeat for several)"
    )
    model: list[str] | None = Field(None, description="The same as canonical_model (its alias)")
    min_score: float | None = Field(None, ge=0, le=100)
    max_score: float | None = Field(None, ge=0, le=100)
    min_price: float | None = Field(None, allow_inf_nan=False)
    max_price: float | None = Field(None, allow_inf_nan=False)
    is_gpu: bool | None = None
    vendor: str | None = None
    reject_reason: str | None = None
    sort: str = Field(
        "import_index",
        description="import_index, score, price, canonical_model, match_score or vram_gb; "
        "'-' for descending; comma-separated for several",
        pattern=sort_pattern(queries.LISTING_SORTS),
    )
    limit: Limit = 50
    offset: Offset = 0
    after_index: int | None = Field(
        None,
        ge=-1,
        le=2**31 - 1,  # import_index is a 32-bit INTEGER column
        description="Keyset paging of one import (sort=import_index): only listings after this "
        "import_index; the previous page's next_after_index",
    )

    def filters(
        self, import_id: str | None, models: list[str] | None = None
    ) -> queries.ListingFilters:
        low, high = self.min_price, self.max_price
        if low is not None and high is not None and low > high:
            raise ApiError(
                422, "min_price cannot be greater than max_price", code="invalid_request"
            )
        if models is None:
            models = [*(self.canonical_model or []), *(self.model or [])]
        return queries.ListingFilters(
            import_id=import_id,
            models=models or None,
            min_score=self.min_score,
            max_score=self.max_score,
            min_price=self.min_price,
            max_price=self.max_price,
            is_gpu=self.is_gpu,
            vendor=self.vendor,
            reject_reason=self.reject_reason,
        )

    def window(self) -> dict[str, Any]:
        """Order and page of the answer, as the query functions take them."""
        return {
            "sort": self.sort,
            "limit": self.limit,
            "offset": self.offset,
            "after_index": self.after_index,
        }


class ListingsAcrossImports(ListingQuery):
    """/api/listings: glyph's filters, the import, and the established glyphd filters (its
    fuzzy ``model``, ``quantized``, ``limit`` 100 by default)."""

    import_id: str | None = Field(None, max_length=36)
    model: list[str] | None = Field(
        None,
        description="The established fuzzy filter: the closest canonical model id among the "
        "listed ones (exact when an id is given); canonical_model is always exact",
    )
    quantized: bool | None = Field(None, description="MIG-capable listings (mig_support > 0)")
    min_price: float | None = Field(None, ge=0, allow_inf_nan=False)
    max_price: float | None = Field(None, ge=0, allow_inf_nan=False)
    limit: Limit = 100


def listings_page(ctx: Context, query: ListingsAcrossImports, request: Request) -> Response:
    """Listings across imports as the established bare array of ``GPUListingDTO`` objects
    (glyph's columns beside the established ones), paged by ``offset`` or by keyset: the total
    is ``X-Total-Count``, the next page a ``Link: <...>; rel="next"`` (and, for keyset paging,
    ``X-Next-After-Index``). An unknown import_id is an empty array, like any filter."""
    if query.after_index is not None and not query.import_id:
        raise ApiError(422, "after_index needs import_id", code="invalid_request")
    models = list(query.canonical_model or [])
    if query.model:
        known = queries.listed_models(ctx.engine)
        picked = [established.pick_model(m, known) for m in query.model]
        if not any(picked) and not models:
            return _array_answer([], 0, request, query, None)
        models += [m for m in picked if m]
    filters = query.filters(query.import_id, models)
    filters.quantized = query.quantized
    items, total = sorted_page(lambda: queries.list_listings(ctx.engine, filters, **query.window()))
    return _array_answer(items, total, request, query, _next_after(query, items))


def _next_after(query: ListingQuery, items: list[dict[str, Any]]) -> int | None:
    keyset = query.sort.strip() in ("import_index", "+import_index")
    full = keyset and len(items) == query.limit and bool(items)
    return items[-1]["import_index"] if full else None


def _array_answer(
    items: list[dict[str, Any]],
    total: int,
    request: Request,
    query: ListingQuery,
    next_after: int | None,
) -> Response:
    headers = {"X-Total-Count": str(total)}
    if next_after is not None and query.after_index is not None:
        nxt = request.url.include_query_params(after_index=next_after)
        headers["X-Next-After-Index"] = str(next_after)
        headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'
    elif query.offset + len(items) < total:
        if next_after is not None:
            headers["X-Next-After-Index"] = str(next_after)
        nxt = request.url.include_query_params(offset=query.offset + len(items))
        headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'
    body = orjson.dumps([established.listing_dto(row) for row in items])
    return Response(body, media_type="application/json", headers=headers)


def _listing_answer(query: ListingQuery, items: list[dict[str, Any]], total: int) -> Response:
    keyset = query.sort.strip() in ("import_index", "+import_index")
    full = keyset and len(items) == query.limit and bool(items)
    return Response(
        listing_page_json(
            items,
            total=total,
            limit=query.limit,
            offset=query.offset,
            next_after_index=items[-1]["import_index"] if full else None,
        ),
        media_type="application/json",
    )


def listing_page_json(items: list[dict[str, Any]], **window: Any) -> bytes:
    """The API's hottest answer, serialized by orjson without a validation pass: the rows come
    from the listings table whose column types ListingOut mirrors one for one (a unit test holds
    the two equal); validating 100 rows cost more than the query, and orjson writes them in a
    third of pydantic-core's time. NaN and infinities become null, as in every other answer."""
    return orjson.dumps({"schema_version": SCHEMA_VERSION, "items": items, **window})


@router.get(
    "/api/imports/{import_id}/listings",
    response_model=ListingPage,
    summary="An import's persisted listings",
    responses=errors(401, 404, 422),
)
async def import_listings(
    import_id: str,
    ctx: ContextDep,
    query: Annotated[ListingQuery, Query()],
) -> Any:
    # Async on purpose: the page is one short read, cheaper on the event loop than a hop to a
    # worker thread (sqlite3 in many threads showed a GIL convoy under load).
    found = sorted_page(
        lambda: queries.import_listing_page(ctx.engine, query.filters(import_id), **query.window())
    )
    if found is None:
        raise ApiError(404, f"no import {import_id}", code="import_not_found")
    return _listing_answer(query, *found)


@router.get(
    "/api/imports/{import_id}/listings.csv",
    response_class=StreamingResponse,
    summary="An import's listings as CSV, formula-safe for spreadsheets",
    responses={
        200: {
            "description": "Every listing of the import in import_index order, with a header. "
            "Text cells starting with = + - @, a tab or a carriage return are prefixed with ' "
            "so that spreadsheets show them as text.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **errors(401, 404),
    },
)
def import_listings_csv(import_id: str, ctx: ContextDep) -> Any:
    _known(ctx, import_id)
    return StreamingResponse(
        export.csv_rows(ctx.engine, import_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="glyph-{import_id}-listings.csv"'},
    )


@router.post(
    "/api/imports/{import_id}/retry",
    status_code=202,
    response_model=RetryResponse,
    summary="Launch the next attempt of a failed or canceled import",
    responses=errors(400, 401, 403, 404, 409, 413, 422, 502, 503),
)
def retry_import(
    import_id: str,
    request: Request,
    ctx: ContextDep,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> Any:
    """Dagster re-executes from the failed step (re-reading the stored Parquet of the steps that
    succeeded) where it can, otherwise a new run of the partition is launched; either way it is
    recorded as the import's next attempt. A ``run_config`` given here replaces the parent's (a
    plain re-execution keeps it)."""
    body = body or RetryRequest()
    if body.run_config is not None and not allow_run_config(request):
        raise ApiError(
            403, "run_config is not accepted by this server", code="run_config_not_allowed"
        )
    return answer(service.retry(ctx, import_id, body), 202)
