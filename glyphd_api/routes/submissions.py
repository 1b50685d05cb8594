"""Submitting an import: glyph's own path (202 at once, or the summary with wait=true) and the
established synchronous paths (raw CSV, already-scored listings, a file under the pipeline
root), each answered when the import is done unless the client asks for 202.

Every path takes the same steps: an Idempotency-Key that already names an import answers with
it (``Idempotent-Replayed: true``); otherwise the bytes are landed, registered and their run
launched (``glyphd_api.submit``), and the answer waits as the client asked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request

from glyph_assets.store.status import TERMINAL_STATUSES
from glyphd_api import service, submit
from glyphd_api.deps import ContextDep, RunConfigAllowed
from glyphd_api.pipeline_files import open_chunks, resolve_pipeline_path
from glyphd_api.routes.common import answer, errors
from glyphd_api.routes.upload_params import (
    ESTABLISHED_ANSWERS,
    PERSIST_BODY,
    UPLOAD_BODY,
    UPLOAD_ERRORS,
    AnswerWhen,
    FieldsDep,
    IdempotencyKey,
    Synchronous,
    TimeoutParam,
    WaitParam,
)
from glyphd_api.schemas import FromPipelineRequest, ImportAccepted, ImportSummary
from glyphd_api.service import Context
from glyphd_api.uploads import Submission, receive, safe_filename

router = APIRouter(tags=["imports"])
REPLAYED = {"Idempotent-Replayed": "true"}
# Registers one submission's bytes and launches its run (in a worker thread).
Launch = Callable[[Submission, Iterator[bytes]], ImportAccepted]
# Gets a submission's bytes (the request body, a file on the server) to a launch.
Land = Callable[[Launch], Awaitable[ImportAccepted]]


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
        state = await submit.wait_until_final(ctx, accepted.import_id, timeout)
        if state.record["status"] in TERMINAL_STATUSES:
            summary = await anyio.to_thread.run_sync(service.build_summary, ctx, state)
            if established:
                return answer(service.import_result(summary), 200, headers)
            return answer(summary, 200, headers)
        accepted = accepted.model_copy(update={"status": state.record["status"]})
    return answer(accepted, 202, headers)


async def _submit(
    ctx: Context,
    land: Land,
    wait: bool,
    timeout: float,
    idempotency_key: str | None,
    established: bool = False,
) -> Any:
    """Replay the key's import, or ``land`` the bytes through a launch; then answer."""
    if idempotency_key:  # without a key there is nothing to replay (and no thread hop)
        replayed = await anyio.to_thread.run_sync(submit.replay, ctx, idempotency_key)
        if replayed is not None:
            return await _finish(ctx, replayed, wait, timeout, REPLAYED, established)

    def launch(submission: Submission, chunks: Iterator[bytes]) -> ImportAccepted:
        return submit.register_and_launch(ctx, submission, chunks, idempotency_key, wait)

    try:
        accepted = await land(launch)
    except submit.Replayed as exc:
        replayed = await anyio.to_thread.run_sync(submit.replay, ctx, idempotency_key, exc.record)
        assert replayed is not None
        return await _finish(ctx, replayed, wait, timeout, REPLAYED, established)
    return await _finish(ctx, accepted, wait, timeout, established=established)


def _from_body(
    request: Request, ctx: Context, submission: Submission, allowed: bool, **receiving: Any
) -> Land:
    """Land the request's body, in whatever form it came (``glyphd_api.uploads.receive``)."""

    async def land(launch: Launch) -> ImportAccepted:
        return await receive(
            request,
            submission,
            launch,
            max_bytes=ctx.settings.max_upload_bytes,
            allow_run_config=allowed,
            **receiving,
        )

    return land


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
    fields: FieldsDep,
    ctx: ContextDep,
    allowed: RunConfigAllowed,
    wait: WaitParam = False,
    timeout: TimeoutParam = 60.0,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """The upload is streamed to the landing zone, checked at file level (every problem is
    listed, nothing kept when refused), registered with a new import_id, its partition added and
    an ``ingest_import`` run launched."""
    land = _from_body(request, ctx, fields.submission, allowed)
    return await _submit(ctx, land, wait, timeout, idempotency_key)


async def _submit_established(
    ctx: Context, land: Land, answer_when: Synchronous, idempotency_key: str | None
) -> Any:
    """Submit on an established path: answered when done (``ImportResultDTO``) unless asked."""
    return await _submit(
        ctx, land, answer_when.wait, answer_when.timeout, idempotency_key, established=True
    )


def _established(
    path: str, summary: str, responses: dict[int | str, dict[str, Any]], body: Any = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The route of an established path: 200 with the import's result when it is done."""
    return router.post(
        path,
        status_code=200,
        response_model=None,
        summary=summary,
        responses={**ESTABLISHED_ANSWERS, **responses},
        openapi_extra=body,
    )


class EstablishedUpload:
    """What an established path that lands the request body takes: the body and the fields
    given beside it, and how the client asks to be answered."""

    def __init__(
        self,
        request: Request,
        fields: FieldsDep,
        ctx: ContextDep,
        answer_when: AnswerWhen,
        allowed: RunConfigAllowed,
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        self.request = request
        self.submission = fields.submission
        self.ctx = ctx
        self.answer_when = answer_when
        self.allowed = allowed
        self.idempotency_key = idempotency_key

    async def submit(self, submission: Submission, **receiving: Any) -> Any:
        """Land the body as ``submission`` and answer when the import is done."""
        land = _from_body(self.request, self.ctx, submission, self.allowed, **receiving)
        return await _submit_established(self.ctx, land, self.answer_when, self.idempotency_key)


EstablishedUploadDep = Annotated[EstablishedUpload, Depends()]


@_established(
    "/api/import/csv",
    "Submit a CSV (the established raw-CSV path): answers when the import is done",
    UPLOAD_ERRORS,
    UPLOAD_BODY,
)
async def create_import_csv(upload: EstablishedUploadDep) -> Any:
    """The same import as ``POST /api/imports`` (a Dagster run, in glyph's history), answered
    synchronously as established clients expect."""
    return await upload.submit(upload.submission)


@_established(
    "/api/persist/listings",
    "Persist already-scored listings (the established path): a bare array of "
    "GPUListingDTO, answered when the import is done",
    UPLOAD_ERRORS,
    PERSIST_BODY,
)
async def persist_listings(upload: EstablishedUploadDep) -> Any:
    """Each call is a new import (a new import_id; ``import_id`` and ``import_index`` in the
    body are ignored, as established). The rows keep their own model, specs and score (the
    score exactly as sent, in ``client_score``); missing specs come from the registry."""
    scored = replace(upload.submission, kind="scored")
    return await upload.submit(scored, check_json=submit.check_established_dto, json_only=True)


@_established(
    "/api/imports/from-pipeline",
    "Import a file already on the server, from under the pipeline root only "
    "(the established path): answers when the import is done",
    errors(400, 401, 403, 404, 409, 413, 422, 502, 503),
)
async def import_from_pipeline(
    body: FromPipelineRequest,
    ctx: ContextDep,
    answer_when: AnswerWhen,
    allowed: RunConfigAllowed,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    async def land(launch: Launch) -> ImportAccepted:
        path = resolve_pipeline_path(ctx.settings.from_pipeline_root, body.input_csv_path)
        named = body.model_dump(exclude={"input_csv_path", "source_label"})
        submission = Submission(
            source=body.source_label, filename=safe_filename(path.name), **named
        ).checked(allowed)
        return await anyio.to_thread.run_sync(launch, submission, open_chunks(path))

    return await _submit_established(ctx, land, answer_when, idempotency_key)
