"""One JSON error shape for every failure the API reports, whoever raised it.

Routes and services raise ``ApiError`` for the answers they decide, and let the domain's own
exceptions (an upload too large, a file refused, a full disk, the database down) travel: each
of those is translated here, once, by an app-level handler.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from glyph_assets.landing import StorageFull, UploadTooLarge
from glyph_assets.sieve.read import FileRejected, TooManyRows
from glyph_assets.store.errors import DatabaseUnavailable
from glyphd_api.schemas import SCHEMA_VERSION

log = logging.getLogger("glyphd_api")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    500: "internal_error",
    502: "dagster_error",
    503: "unavailable",
    504: "timeout",
    507: "insufficient_storage",
}


class ApiError(Exception):
    """An error the API answers with on purpose: a status, a stable code and every problem."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        problems: list[str] | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.problems = problems or []
        self.details = details
        self.headers = headers


def error_body(
    code: str,
    message: str,
    problems: list[str] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "error": {
            "code": code,
            "message": message,
            "problems": problems or [],
            "details": details,
        },
        # Established glyphd clients read FastAPI's ``detail``: the message and its problems.
        "detail": "; ".join([message, *(problems or [])]),
    }


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _response(
        exc.status, error_body(exc.code, exc.message, exc.problems, exc.details), exc.headers
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return _response(
        exc.status_code,
        error_body(_CODES.get(exc.status_code, "error"), message),
        getattr(exc, "headers", None),
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body",)) or "body"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    problems = [f"{_location(e.get('loc', ()))}: {e.get('msg')}" for e in errors]
    # A sort outside the documented choices keeps its own stable code.
    sort_only = errors and all(tuple(e.get("loc", ()))[-1:] == ("sort",) for e in errors)
    code = "invalid_sort" if sort_only else "invalid_request"
    body = error_body(code, "the request is not valid", problems)
    # FastAPI's own list, as established glyphd clients read a validation failure.
    body["detail"] = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
        for e in errors
    ]
    return _response(422, body)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug of ours: the client gets a reference to quote, never our internals (paths, SQL)."""
    reference = uuid.uuid4().hex[:12]
    log.error(
        "unhandled error %s on %s %s",
        reference,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return _response(
        500,
        error_body(
            "internal_error",
            f"internal error (reference {reference}); the server log has the details",
            details={"reference": reference},
        ),
    )


def database_unavailable(exc: Exception) -> ApiError:
    """The database cannot be reached: the driver's own message only (the statement and its
    parameters stay in the log)."""
    reason = getattr(exc, "orig", None) or exc
    return ApiError(
        503, f"the database is unavailable: {reason}"[:300], code="database_unavailable"
    )


def upload_too_large(exc: UploadTooLarge) -> ApiError:
    return ApiError(413, str(exc), code="payload_too_large", details={"limit_bytes": exc.limit})


def file_refused(exc: FileRejected) -> ApiError:
    """A file refused as a whole, every problem listed: 413 when it has more rows than this
    server takes, else 422."""
    if isinstance(exc, TooManyRows):
        status, code, what = (
            413,
            "too_many_rows",
            "the file has more data rows than this server accepts",
        )
        details: dict[str, Any] | None = {"limit_rows": exc.limit}
    else:
        status, code, what, details = 422, "file_rejected", "the file cannot be ingested", None
    return ApiError(
        status, f"{what}; nothing was kept", code=code, problems=exc.problems, details=details
    )


def storage_full(_exc: StorageFull) -> ApiError:
    return ApiError(
        507,
        "the server has no space left to keep the upload; nothing was kept or registered",
        code="insufficient_storage",
    )


# Each domain exception the API lets travel, and the answer it makes (Starlette looks a
# handler up along the exception's MRO: TooManyRows is a FileRejected).
TRANSLATIONS: dict[type[Exception], Callable[[Any], ApiError]] = {
    UploadTooLarge: upload_too_large,
    FileRejected: file_refused,
    StorageFull: storage_full,
    DatabaseUnavailable: database_unavailable,
}
# The failures that answer an upload before its body was read to the end: the rest of the body
# is drained first, so that the client can read the answer.
UPLOAD_REFUSALS: tuple[type[Exception], ...] = (ApiError, UploadTooLarge, FileRejected, StorageFull)


def _translated(
    convert: Callable[[Any], ApiError],
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return await _api_error(request, convert(exc))

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Route every error path (ours, the domain's, Starlette's, validation, crashes) to
    ``error_body``."""
    app.add_exception_handler(ApiError, _api_error)
    for exc_type, convert in TRANSLATIONS.items():
        app.add_exception_handler(exc_type, _translated(convert))
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
