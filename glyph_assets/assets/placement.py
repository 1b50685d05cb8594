"""Where a step runs, recorded by the step itself so the import summary can show it.

On the celery executor a step runs on whichever worker takes it; in the run's own process it
runs beside the run. The step writes an ``AssetObservation`` whose metadata
``contract.worker_metadata`` builds; the API reads it back from Dagster's event log.
"""

from __future__ import annotations

import os
import socket

from dagster import AssetExecutionContext, AssetKey, OpExecutionContext

from glyph_assets.assets.progress import observe
from glyph_assets.contract import worker_metadata


def current_worker() -> str:
    """The Celery node name (``w1@host``) inside a Celery task, else ``host:pid``."""
    from celery import current_task  # imported here: the multiprocess executor never needs it

    request = getattr(current_task, "request", None) if current_task else None
    hostname = getattr(request, "hostname", None)
    return (
        hostname
        if isinstance(hostname, str) and hostname
        else f"{socket.gethostname()}:{os.getpid()}"
    )


def record_worker(
    context: AssetExecutionContext | OpExecutionContext, asset_key: AssetKey | None = None
) -> None:
    """An observation of the step's asset partition (or ``asset_key``'s, for a chunk step of a
    fanned-out stage) naming the worker running the step."""
    worker = current_worker()
    observe(context, f"running on {worker}", worker_metadata(worker), asset_key)


__all__ = ["current_worker", "record_worker"]
