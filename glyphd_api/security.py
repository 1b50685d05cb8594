"""Access and size guards that run before routing, so a refused request costs no body read.

- With ``GLYPH_API_TOKEN`` set, every write (any method but GET, HEAD, OPTIONS) under ``/api/``
  needs ``Authorization: Bearer <token>``; reads need it too when ``GLYPH_API_TOKEN_READS`` is
  true. ``/api/health`` and the OpenAPI document stay open.
- Bodies of everything but the upload routes are small JSON documents: more than
  ``SMALL_BODY_BYTES`` is refused with 413, whether announced by Content-Length or streamed.
  The upload routes enforce ``GLYPH_MAX_UPLOAD_BYTES`` themselves while streaming.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glyph_assets.settings import Settings
from glyph_assets.sieve.read import FileRejected, parse_json
from glyphd_api.errors import error_body

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/api/health"})
UPLOAD_PATHS = frozenset(
    {
        "/api/imports",
        "/api/import/csv",
        "/api/imports/validate",
        "/api/persist/listings",
        "/api/ingest/upload-artifact",
    }
)
SMALL_BODY_BYTES = 1024 * 1024
SCHEME = "bearerAuth"
# The cookie in which the console keeps the token a person typed (see console_reads_allowed).
TOKEN_COOKIE = "glyph_token"


def token_required(settings: Settings, method: str, path: str) -> bool:
    """Does this request need the bearer token under the server's settings?"""
    if not settings.api_token or not path.startswith("/api/") or path in OPEN_PATHS:
        return False
    return method.upper() not in READ_METHODS or settings.api_token_reads


def token_matches(settings: Settings, authorization: str | None) -> bool:
    scheme, _, value = (authorization or "").partition(" ")
    token = settings.api_token or ""
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def console_reads_allowed(settings: Settings, authorization: str | None, cookie: str) -> bool:
    """May this request see a console page? The pages are reads: open unless the server sets
    ``GLYPH_API_TOKEN_READS``, then they need the token as the API's reads do, from the
    ``Authorization`` header or from the cookie the console's token field sets (a browser
    cannot put a header on a link it follows). The console's writes are API calls its script
    makes with the header, so a cookie alone never authorizes a write."""
    if not settings.api_token or not settings.api_token_reads:
        return True
    return token_matches(settings, authorization) or token_matches(
        settings, f"Bearer {unquote(cookie)}"
    )


class AccessGuard:
    """Pure ASGI middleware (no buffering): the token check and the small-body limit."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if token_required(self.settings, method, path) and not token_matches(
            self.settings, headers.get("authorization")
        ):
            await _reply(
                send,
                401,
                error_body("unauthorized", "a valid bearer token is required"),
                {"www-authenticate": "Bearer"},
            )
            return
        if path in UPLOAD_PATHS and method == "POST":
            await self.app(scope, receive, send)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > SMALL_BODY_BYTES:
            await _too_large(send)
            return
        # Small bodies are read here, whole and bounded, then handed on unchanged.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replaying(None, message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > SMALL_BODY_BYTES:
                await _too_large(send)
                return
            if not message.get("more_body", False):
                break
        problem = _json_too_deep(headers.get("content-type", ""), bytes(body))
        if problem:
            await _reply(send, 422, error_body("invalid_json", problem), {})
            return
        await self.app(scope, _replaying(bytes(body), None, receive), send)


def _json_too_deep(content_type: str, body: bytes) -> str | None:
    """A small JSON body nested past MAX_JSON_DEPTH is refused here, before FastAPI's parser
    (which recurses once per level) could run out of stack; uploads are checked by the one JSON
    reader instead. Anything else about the body is left to the route's own validation."""
    if "json" not in content_type.lower() or not body:
        return None
    try:
        parse_json(body)
    except FileRejected as exc:
        if any("nested deeper" in p for p in exc.problems):
            return exc.problems[0]
    return None


def _replaying(body: bytes | None, first: Message | None, receive: Receive) -> Receive:
    """A receive that gives the buffered body (or message) once, then the real channel."""
    pending: list[Message] = [
        first if first is not None else {"type": "http.request", "body": body, "more_body": False}
    ]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def _too_large(send: Send) -> None:
    body = error_body(
        "payload_too_large",
        f"the request body is larger than {SMALL_BODY_BYTES} bytes",
        details={"limit_bytes": SMALL_BODY_BYTES},
    )
    await _reply(send, 413, body, {"connection": "close"})


async def _reply(send: Send, status: int, body: dict[str, Any], extra: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _one_error_shape(schema: dict[str, Any]) -> None:
    """FastAPI documents a request-validation 422 as its own ``HTTPValidationError``; glyph
    answers every 422 in its one error shape (``ErrorResponse``, whose ``detail`` carries the
    validation list as FastAPI would), so the document says that shape for every 422."""
    ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if answer is None:
                continue
            content = answer.setdefault("content", {}).setdefault("application/json", {})
            if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                content["schema"] = ref
                answer["description"] = "The request is not valid (every problem listed)"


def document_security(app: FastAPI, settings: Settings) -> None:
    """The OpenAPI document says which operations need the token under this server's settings."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        _one_error_shape(schema)
        if settings.api_token:
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {})[SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "description": "GLYPH_API_TOKEN",
            }
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    if token_required(settings, method, path):
                        operation["security"] = [{SCHEME: []}]
                        operation.setdefault("responses", {}).setdefault(
                            "401",
                            {
                                "description": "No or a wrong bearer token",
                                "content": {
                                    "application/json": {
                                        "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                                    }
                                },
                            },
                        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
