"""The real stack (code server, Dagster webserver + daemon, uvicorn) for integration tests.

Started once per session on free loopback ports, with a temporary DAGSTER_HOME and GLYPH_DATA_DIR
(so its SQLite database is temporary too), and stopped at the end. Run config passthrough is on
(GLYPH_ALLOW_RUN_CONFIG=1) so tests can set the assets' delay and fault switches.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import pg
from tests.support.stack import RunningStack, new_stack_env, started_stack


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    root = tmp_path_factory.mktemp("stack")
    env = new_stack_env(root)
    # GLYPH_TEST_BACKEND=postgres: both stores on fresh PostgreSQL databases, dropped after.
    with pg.backend_env() as backend, started_stack(root, {**env, **backend}) as running:
        yield running
