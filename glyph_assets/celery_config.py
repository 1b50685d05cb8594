"""How glyph's steps travel over Celery: one configuration for the executor that sends them
and for the workers that take them (``glyph worker``), so the two can never disagree.

The executor's config keys are dagster-celery's (``broker``, ``backend``, ``config_source``);
dagster-celery has no queue key of its own, so the queue is Celery's ``task_default_queue``.
"""

from __future__ import annotations

from typing import Any

from glyph_assets.settings import Settings

# A worker killed mid-step (SIGKILL, out of memory, a machine gone) must give its step back:
# with Celery's defaults the message is acknowledged on receipt, the step is lost and the run
# waits for it for ever. Acknowledging late and rejecting on worker loss makes the broker
# redeliver the step to another worker, which runs it again from the start (so every step is
# idempotent). Only the workers' configuration matters here; one prefetched task per process
# keeps a busy worker from holding steps an idle one could run.
WORKER_SETTINGS: dict[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
}


def celery_executor_config(settings: Settings) -> dict[str, Any]:
    """dagster-celery's executor config (also what a worker's Celery app is built from)."""
    return {
        "broker": settings.celery_broker_url,
        "backend": settings.celery_backend_url,
        "config_source": {"task_default_queue": settings.celery_queue, **WORKER_SETTINGS},
    }


__all__ = ["WORKER_SETTINGS", "celery_executor_config"]
