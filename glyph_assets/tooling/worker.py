"""``glyph worker``: a Celery worker that runs glyph's steps for the ``celery`` executor.

The worker's Celery app is dagster-celery's, built from the very configuration the executor
sends with (``glyph_assets.celery_config``): same broker, result backend and queue, plus the
settings that make a killed worker's steps go back to the queue. A step names the job it
belongs to by module (``glyph_assets.definitions``), and the run names the Dagster instance
(on PostgreSQL), so a worker needs neither a working directory nor a DAGSTER_HOME of its own:
only the package and the same ``GLYPH_*`` settings as the stack.
"""

from __future__ import annotations

import socket

from celery import Celery
from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from glyph_assets.celery_config import celery_executor_config
from glyph_assets.settings import Settings


def worker_app(settings: Settings) -> Celery:
    """dagster-celery's app with its step task, configured as the executor that sends to it."""
    app = make_app(CeleryExecutor.for_cli(**celery_executor_config(settings)).app_args())
    create_task(app)
    return app


def default_worker_name(settings: Settings) -> str:
    """``<queue>-<host>``: unique per machine and stack; Celery adds ``@<host>`` itself."""
    return f"{settings.celery_queue}-{socket.gethostname()}"


def worker_argv(settings: Settings, name: str, concurrency: int) -> list[str]:
    """Celery's worker arguments: glyph's queue only, one step per process at a time."""
    return [
        "worker",
        "--queues",
        settings.celery_queue,
        "--hostname",
        f"{name}@%h",
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "--loglevel",
        "INFO",
        # No chatter between workers at start (mingle) or while running (gossip): glyph needs
        # neither, and each costs the broker a message per worker per event.
        "--without-mingle",
        "--without-gossip",
    ]


def run_worker(settings: Settings, name: str, concurrency: int) -> None:
    """Run a worker in the foreground until SIGTERM (warm: running steps finish) or SIGKILL
    (its unacknowledged steps are redelivered to another worker)."""
    worker_app(settings).worker_main(worker_argv(settings, name, concurrency))


__all__ = ["default_worker_name", "run_worker", "worker_app", "worker_argv"]
