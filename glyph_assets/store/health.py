"""Is the database reachable, and at which schema revision? (The API's health check asks.)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from glyph_assets.store.db import get_engine


@dataclass(frozen=True)
class DatabasePing:
    """What one round trip to the database found: reachable or not, and why not."""

    ok: bool
    revision: str | None = None  # Alembic's current revision; None when not migrated yet
    dialect: str | None = None  # sqlite, postgresql, ...
    error: str | None = None  # "<ExceptionType>: <message>" when not reachable


def ping(url: str) -> DatabasePing:
    """``SELECT 1`` on the database at ``url``, then its schema revision. Never raises: any
    failure is the answer (an unhealthy database), with its reason."""
    try:
        engine = get_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            try:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except Exception:  # noqa: BLE001 - not migrated yet is still "reachable"
                revision = None
        return DatabasePing(ok=True, revision=revision, dialect=engine.dialect.name)
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy, with the reason
        return DatabasePing(ok=False, error=f"{type(exc).__name__}: {exc}")


__all__ = ["DatabasePing", "ping"]
