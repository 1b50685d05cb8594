"""glyph's REST ingestion API: uploads become Dagster runs, runs map to imports.

Started by the stack as ``uvicorn glyphd_api.app:create_app --factory``. The API holds no
pipeline logic: it lands and registers submissions (``glyph_assets.imports.register_import``),
drives Dagster over GraphQL (``dagster_client``) and reads the database (``queries``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy.exc import OperationalError

from glyph_assets.settings import Settings, get_settings
from glyphd_api.deps import require_token, run_config_allowed
from glyphd_api.errors import ApiError, install_error_handlers
from glyphd_api.routes import health, imports, jobs, listings, models
from glyphd_api.schemas import SCHEMA_VERSION

SCHEMA_HEADER = "X-Glyph-Schema-Version"
DESCRIPTION = """
Submit GPU market listings (CSV, TSV or JSON) as **imports**. Each import is landed unchanged,
checked, registered under a new `import_id` (a Dagster dynamic partition of the same name) and
ingested by a Dagster run of `ingest_import`. Dagster is the source of truth for run state.

Every response carries `schema_version` (and the `X-Glyph-Schema-Version` header); every error
has the shape `{"schema_version", "error": {"code", "message", "problems", "details"}}`.
Lists are pages: `{"items", "total", "limit", "offset"}`.
"""


def _version() -> str:
    try:
        return metadata.version("glyph")
    except metadata.PackageNotFoundError:
        return "0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: the GLYPH_* environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        settings.landing_dir.mkdir(parents=True, exist_ok=True)
        yield

    app = FastAPI(
        title="glyph ingestion API",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.allow_run_config = run_config_allowed(settings)
    install_error_handlers(app)

    async def database_down(_request: Request, exc: Exception) -> Response:
        handler = app.exception_handlers[ApiError]
        error = ApiError(
            503, f"the database is unavailable: {exc}"[:500], code="database_unavailable"
        )
        return await handler(_request, error)  # type: ignore[misc,return-value]

    app.add_exception_handler(OperationalError, database_down)

    @app.middleware("http")
    async def schema_header(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers[SCHEMA_HEADER] = SCHEMA_VERSION
        return response

    app.include_router(health.router)
    protected = [Depends(require_token)]
    for router in (imports.router, jobs.router, listings.router, models.router):
        app.include_router(router, dependencies=protected)
    return app
