"""The environment of a local stack, shared by the benchmarks and the tests that start one.

A stack under a folder keeps all its state there (Dagster home, data) and listens on free
loopback ports, so it never meets the developer's own stack; the GLYPH_* variables that would
point it at the developer's database or token are not inherited.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from glyph_assets.settings import Settings, get_settings, reset_settings_cache
from glyph_assets.store.db import dispose_engines
from glyph_assets.tooling.supervisor import free_port

# GLYPH_* variables a stack under test must not inherit from the developer's shell.
INHERITED_GLYPH = ("GLYPH_DATABASE_URL", "GLYPH_DAGSTER_POSTGRES_URL", "GLYPH_API_TOKEN")


def loopback_stack_env(root: Path) -> dict[str, str]:
    """A stack's own Dagster home and data under ``root``, on free loopback ports."""
    return {
        "DAGSTER_HOME": str(root / "dagster_home"),
        "GLYPH_DATA_DIR": str(root / "data"),
        "GLYPH_API_HOST": "127.0.0.1",
        "GLYPH_DAGSTER_HOST": "127.0.0.1",
        "GLYPH_API_PORT": str(free_port()),
        "GLYPH_DAGSTER_PORT": str(free_port()),
        "GLYPH_CODE_SERVER_PORT": str(free_port()),
    }


@contextmanager
def glyph_environment(env: dict[str, str], cleared: Iterable[str] = ()) -> Iterator[Settings]:
    """This process with ``env`` set and ``cleared`` unset, its settings read afresh from them.

    Afterwards the engines opened meanwhile are disposed (they point at this environment's
    database) and the environment and the settings cache are restored as they were."""
    cleared = tuple(cleared)
    saved = {name: os.environ.get(name) for name in [*env, *cleared]}
    os.environ.update(env)
    for name in cleared:
        os.environ.pop(name, None)
    reset_settings_cache()
    dispose_engines()
    try:
        yield get_settings()
    finally:
        dispose_engines()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings_cache()
