"""glyph's REST ingestion API: uploads become Dagster runs, runs map to imports.

Started by the stack as ``uvicorn glyphd_api.app:create_app --factory``. The API holds no
pipeline logic: it lands and registers submissions (``glyph_assets.imports.register_import``),
drives Dagster over GraphQL (``dagster_client``) and reads the database through the store
(``glyph_assets.store``).
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

import anyio.to_thread
from fastapi import Depends, FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glyph_assets.logs import configure_logging
from glyph_assets.settings import Settings, get_settings
from glyph_assets.store.db import migrate
from glyph_assets.store.errors import StoreError
from glyphd_api.console.routes import install_console
from glyphd_api.deps import run_config_allowed
from glyphd_api.errors import error_body, install_error_handlers
from glyphd_api.metrics import RequestMetrics
from glyphd_api.routes import (
    changes,
    established,
    health,
    import_rows,
    imports,
    jobs,
    listings,
    market,
    metrics,
    models,
    prices,
    schema,
    submissions,
    validate,
)
from glyphd_api.routes.common import reject_unknown_query
from glyphd_api.routes.schema import SUPPORTED_VERSIONS
from glyphd_api.schemas import SCHEMA_VERSION
from glyphd_api.security import AccessGuard, document_security

SCHEMA_HEADER = "X-Glyph-Schema-Version"
log = logging.getLogger(__name__)
DESCRIPTION = """
Submit GPU market listings (CSV, TSV or JSON) as **imports**. Each import is landed unchanged,
checked, registered under a new `import_id` (a Dagster dynamic partition of the same name) and
ingested by a Dagster run of `ingest_import`. Dagster is the source of truth for run state.

Every response carries `schema_version` (and the `X-Glyph-Schema-Version` header); every error
has the shape `{"schema_version", "error": {"code", "message", "problems", "details"}}`.
Lists are pages: `{"items", "total", "limit", "offset"}`.

When the server sets `GLYPH_API_TOKEN`, every write needs `Authorization: Bearer <token>`
(reads too with `GLYPH_API_TOKEN_READS=true`); `/api/health` stays open. Limits (upload bytes,
rows, field length, run time) are in the README's "Limits and guarantees".
"""


def _version() -> str:
    try:
        return metadata.version("glyph")
    except metadata.PackageNotFoundError:
        return "0"


class SchemaHeader:
    """Pure ASGI middleware stamping ``X-Glyph-Schema-Version`` on every response (Starlette's
    ``@app.middleware("http")`` would wrap each request in a task and a stream)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        for key, value in scope["headers"]:
            if key == b"x-glyph-schema-version":
                asked = value.decode("latin-1").strip()
                if asked not in SUPPORTED_VERSIONS:
                    await _refuse_version(send, asked)
                    return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[SCHEMA_HEADER] = SCHEMA_VERSION
            await send(message)

        await self.app(scope, receive, stamped)


async def _refuse_version(send: Send, asked: str) -> None:
    body = error_body(
        "unsupported_schema_version",
        f"schema version {asked!r} is not spoken here; supported: {', '.join(SUPPORTED_VERSIONS)}",
        details={"supported_versions": list(SUPPORTED_VERSIONS)},
    )
    await send(
        {
            "type": "http.response.start",
            "status": 406,
            "headers": [
                (b"content-type", b"application/json"),
                (SCHEMA_HEADER.lower().encode(), SCHEMA_VERSION.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: the GLYPH_* environment)."""
    settings = settings or get_settings()
    if settings.log_format == "json":
        configure_logging("json")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        settings.landing_dir.mkdir(parents=True, exist_ok=True)
        try:  # migrate before the first request; a database still down is retried per request
            await anyio.to_thread.run_sync(migrate, settings.sqlalchemy_url)
        except StoreError as exc:
            log.warning("database not ready at start-up: %s", getattr(exc, "orig", None) or exc)
        # Everything imported so far lives as long as the process: out of the collector's sight,
        # a full collection no longer walks it (a pause felt in the API's slowest answers).
        gc.freeze()
        yield

    app = FastAPI(
        title="glyph ingestion API",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.settings = settings
    app.state.database_url = settings.sqlalchemy_url  # resolved once, not per request
    app.state.allow_run_config = run_config_allowed(settings)
    install_error_handlers(app)

    # The order is the OpenAPI document's, and decides which route answers 405 for a path that
    # several share (a submission path before the import it could be read as).
    routers = (
        health,
        submissions,
        validate,
        imports,
        import_rows,
        jobs,
        listings,
        metrics,
        models,
        prices,
        schema,
        established,
        changes,
        market,
    )
    for module in routers:
        app.include_router(module.router)
    install_console(app)  # the pages at the root, after every /api route
    # Outermost: a refused token or an oversized small body never reaches routing.
    app.add_middleware(AccessGuard, settings=settings)
    app.add_middleware(SchemaHeader)  # the guard's refusals carry it too
    app.add_middleware(RequestMetrics)  # outermost of all: refusals are timed as well
    document_security(app, settings)
    return app
