"""Per-request dependencies: settings, the database engine, the Dagster gateway, the token."""

from __future__ import annotations

import hmac

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from glyph_assets.settings import Settings
from glyph_assets.store.db import migrate
from glyphd_api.errors import ApiError
from glyphd_api.service import Context


def run_config_allowed(settings: Settings) -> bool:
    """Fault switches and delays reach Dagster through run config only where this is set."""
    return settings.allow_run_config


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def get_context(request: Request) -> Context:
    """A fresh context per request: its Dagster client is never shared between threads."""
    settings = settings_of(request)
    try:
        engine = migrate(settings.sqlalchemy_url)
    except SQLAlchemyError as exc:
        raise ApiError(
            503, f"the database is unavailable: {exc}"[:500], code="database_unavailable"
        ) from exc
    return Context(settings=settings, engine=engine)


def require_token(request: Request) -> None:
    """With GLYPH_API_TOKEN set, every route but /api/health needs ``Authorization: Bearer``."""
    token = settings_of(request).api_token
    if not token:
        return
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), token):
        raise ApiError(
            401,
            "a valid bearer token is required",
            code="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )


def allow_run_config(request: Request) -> bool:
    return bool(request.app.state.allow_run_config)
