"""Per-request dependencies: settings, the database engine, the Dagster gateway.

The bearer token is checked before routing, in ``glyphd_api.security.AccessGuard``.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request

from glyph_assets.settings import Settings
from glyph_assets.store.db import Engine, migrate, migrated_engine
from glyph_assets.store.errors import StoreError
from glyphd_api.errors import database_unavailable
from glyphd_api.service import Context


def run_config_allowed(settings: Settings) -> bool:
    """Fault switches and delays reach Dagster through run config only where this is set."""
    return settings.allow_run_config


async def settings_of(request: Request) -> Settings:
    return request.app.state.settings


async def get_context(request: Request) -> Context:
    """A fresh context per request: its Dagster client is never shared between threads.

    Async so that it costs no thread hop: the engine of an already migrated database is a dict
    lookup; only the first request of a process (or one after the database was unreachable)
    migrates, in a worker thread.
    """
    settings: Settings = request.app.state.settings
    url: str = request.app.state.database_url
    engine = migrated_engine(url)
    if engine is None:
        engine = await anyio.to_thread.run_sync(_migrate, url)
    return Context(settings=settings, engine=engine)


def _migrate(url: str) -> Engine:
    try:
        return migrate(url)
    except StoreError as exc:
        raise database_unavailable(exc) from exc


async def allow_run_config(request: Request) -> bool:
    """Async: a dependency that only reads the app's state costs no thread hop."""
    return bool(request.app.state.allow_run_config)


# The one spelling of "this request's context" in a route's signature.
ContextDep = Annotated[Context, Depends(get_context)]
# Whether this server lets a client send Dagster run config (fault switches, delays).
RunConfigAllowed = Annotated[bool, Depends(allow_run_config)]
