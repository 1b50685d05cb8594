"""Logging of glyph's own processes (the supervisor, the API): one format chosen by settings."""

from __future__ import annotations

import logging
import sys

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr (the stack redirects it to DAGSTER_HOME/stack/<name>.log)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(PLAIN))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness probe
