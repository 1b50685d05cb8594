"""Row progress of a running stage, as structured events the API reads (``glyph_assets.contract``).

Each event is an ``AssetObservation`` of the stage's asset partition whose metadata the contract
builds; the API's job status decodes the same entries from Dagster's GraphQL event log. An
observation of a materializable asset is not a materialization: it triggers no automation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetObservation

from glyph_assets.contract import PROGRESS_EVERY_S, ProgressEvent, progress_metadata


class StageProgress:
    """Reports one stage's rows, at most every ``PROGRESS_EVERY_S`` seconds, and always for the
    first and the last chunk (``done == total``)."""

    def __init__(self, context: AssetExecutionContext, total: int | None = None) -> None:
        self.context = context
        self.total = total
        self._last: float | None = None

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if self._last is not None and done != self.total and now - self._last < PROGRESS_EVERY_S:
            return
        self._last = now
        event = ProgressEvent(self.context.asset_key.to_user_string(), done, self.total)
        observe(self.context, f"progress {event.text}", progress_metadata(event))


def observe(context: AssetExecutionContext, description: str, metadata: Mapping[str, Any]) -> None:
    """An observation of the step's own asset partition: how a step reports to the API (whose
    metadata ``glyph_assets.contract`` defines) without materializing anything."""
    context.log_event(
        AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key,
            description=description,
            metadata=dict(metadata),
        )
    )
