"""Where the local stack keeps its state: DAGSTER_HOME, and the supervisor's state file in it.

The file is the one contract between two processes that must not import each other: the
supervisor (``glyph_assets.tooling.supervisor``) writes it, the API's health route reads it to
report the supervised children. Both sides take its location and its reading from here, and this
module uses the standard library only, so neither the API nor the code location depends on the
tooling to read it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from glyph_assets.settings import PROJECT_ROOT


def dagster_home() -> Path:
    """DAGSTER_HOME, or the project's ``.dagster`` when it is not set."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster").resolve()


def state_path(home: Path | None = None) -> Path:
    """The supervisor's state file of ``home`` (default: DAGSTER_HOME)."""
    return (home or dagster_home()) / "stack" / "supervisor.json"


def read_state(home: Path | None = None) -> dict[str, Any] | None:
    """The supervisor's state file, or None when no supervisor of this home is alive."""
    path = state_path(home)
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if _is_supervisor(int(state.get("pid", 0))) else None


def _is_supervisor(pid: int) -> bool:
    """Alive and a glyph process (a pid reused by anything else does not count)."""
    if pid <= 0 or not alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"glyph" in fh.read()
    except OSError:
        return True


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
