"""The API in this process (FastAPI's TestClient) with Dagster out of reach: its port is one
nobody listens on, so an accepted file stops once it is landed and recorded, as when Dagster is
down, and no test run is ever launched.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from glyph_assets.settings import Settings
from glyph_assets.tooling.supervisor import free_port
from glyphd_api.app import create_app


def api_client(settings: Settings, **changes: object) -> TestClient:
    """A TestClient (enter it to start the app) of the API on ``settings`` with ``changes``."""
    return TestClient(
        create_app(settings.model_copy(update={"dagster_port": free_port(), **changes}))
    )
