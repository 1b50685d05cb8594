"""Health: is the database reachable, is Dagster's GraphQL reachable, and which versions."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import text

from glyph_assets.settings import Settings
from glyph_assets.store.db import get_engine
from glyphd_api.dagster_client import DagsterError, DagsterGateway, DagsterUnavailable
from glyphd_api.deps import settings_of
from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import SCHEMA_VERSION, ComponentHealth, Health

router = APIRouter(tags=["health"])


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _database(settings: Settings) -> ComponentHealth:
    try:
        engine = get_engine(settings.sqlalchemy_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            try:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except Exception:  # noqa: BLE001 - not migrated yet is still "reachable"
                revision = None
        return ComponentHealth(ok=True, version=revision, detail=engine.dialect.name)
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy, with the reason
        return ComponentHealth(ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])


def _dagster(settings: Settings) -> ComponentHealth:
    gateway = DagsterGateway(settings, timeout=5)
    try:
        return ComponentHealth(ok=True, version=gateway.version(), url=gateway.base_url)
    except (DagsterUnavailable, DagsterError) as exc:
        return ComponentHealth(ok=False, detail=str(exc)[:300], url=gateway.base_url)


@router.get(
    "/api/health",
    response_model=Health,
    summary="Database and Dagster reachability, with versions (503 when degraded)",
    responses={
        503: {"model": Health, "description": "A dependency is unreachable"},
        **errors(500, database=False),
    },
)
def health(settings: Annotated[Settings, Depends(settings_of)]) -> Any:
    database = _database(settings)
    dagster = _dagster(settings)
    ok = database.ok and dagster.ok
    body = Health(
        status="ok" if ok else "degraded",
        database=database,
        dagster=dagster,
        versions={
            "glyph": _version("glyph"),
            "api_schema": SCHEMA_VERSION,
            "dagster_graphql": _version("dagster-graphql"),
            "fastapi": _version("fastapi"),
            "python": platform.python_version(),
        },
    )
    return answer(body, 200 if ok else 503)
