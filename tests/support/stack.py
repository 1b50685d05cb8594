"""A real stack (code server, Dagster webserver + daemon, uvicorn) started for tests.

Each stack runs on free loopback ports, with its own DAGSTER_HOME and GLYPH_DATA_DIR (so its SQLite
database is its own too), and is stopped when its context ends. Run config passthrough is on
(GLYPH_ALLOW_RUN_CONFIG=1) so tests can set the assets' delay and fault switches.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from glyph_assets.settings import Settings, get_settings, reset_settings_cache
from glyph_assets.store.db import dispose_engines, migrate
from glyph_assets.tooling import supervisor
from glyph_assets.tooling.environ import INHERITED_GLYPH, loopback_stack_env
from glyph_assets.tooling.supervisor import free_port  # noqa: F401 (the tests import it from here)


@dataclass
class RunningStack:
    settings: Settings
    home: Path
    procs: dict[str, subprocess.Popen]

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def dagster_url(self) -> str:
        return f"http://{self.settings.dagster_host}:{self.settings.dagster_port}"

    @property
    def engine(self) -> Engine:
        return migrate(self.settings.sqlalchemy_url)

    def logs(self, tail: int = 4000) -> str:
        out = []
        for log in sorted((self.home / "stack").glob("*.log")):
            out.append(f"--- {log.name}\n{log.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)


def new_stack_env(root: Path, **overrides: str) -> dict[str, str]:
    """The environment of a stack under ``root``: its own data dir, free loopback ports, run
    config passthrough on; ``overrides`` become GLYPH_* values (``max_rows="5"``)."""
    return {
        **loopback_stack_env(root),
        "GLYPH_PIPELINE_ROOT": str(root / "pipeline"),
        "GLYPH_ALLOW_RUN_CONFIG": "1",
        **{f"GLYPH_{k.upper()}": v for k, v in overrides.items()},
    }


@contextlib.contextmanager
def started_stack(root: Path, env: dict[str, str]) -> Iterator[RunningStack]:
    """Start a whole stack (code server, webserver, daemon, API) with ``env``, stop it after.

    The environment is only the children's: it is restored as soon as they are spawned, so the
    rest of the session (unit tests included) never sees these values.
    """
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True)
    (root / "pipeline").mkdir()
    patch = pytest.MonkeyPatch()
    try:
        for name in INHERITED_GLYPH:
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        reset_settings_cache()
        dispose_engines()
        settings = get_settings()
        try:
            procs = supervisor.start(settings, home, timeout=120)
        except Exception as exc:  # the stack's own logs say why it did not come up
            running = RunningStack(settings=settings, home=home, procs={})
            raise RuntimeError(f"the stack did not start: {exc}\n{running.logs()}") from exc
    finally:
        patch.undo()
        reset_settings_cache()
    try:
        yield RunningStack(settings=settings, home=home, procs=procs)
    finally:
        supervisor.stop_processes(procs)
        dispose_engines()
