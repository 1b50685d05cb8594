"""Row progress of a running stage, as structured events the API reads (``glyph_assets.contract``).

Each event is an ``AssetObservation`` of the stage's asset partition whose metadata the contract
builds; the API's job status decodes the same entries from Dagster's GraphQL event log. An
observation of a materializable asset is not a materialization: it triggers no automation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetObservation, OpExecutionContext

from glyph_assets.contract import PROGRESS_EVERY_S, ProgressEvent, progress_metadata


class StageProgress:
    """Reports one stage's rows, at most every ``PROGRESS_EVERY_S`` seconds, and always for the
    first and the last chunk (``done == total``)."""

    def __init__(
        self,
        context: AssetExecutionContext | OpExecutionContext,
        total: int | None = None,
        asset_key: AssetKey | None = None,
    ) -> None:
        self.context = context
        self.total = total
        self.asset_key = asset_key or context.asset_key
        self._last: float | None = None

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if self._last is not None and done != self.total and now - self._last < PROGRESS_EVERY_S:
            return
        self._last = now
        event = ProgressEvent(self.asset_key.to_user_string(), done, self.total)
        observe(self.context, f"progress {event.text}", progress_metadata(event), self.asset_key)


def observe(
    context: AssetExecutionContext | OpExecutionContext,
    description: str,
    metadata: Mapping[str, Any],
    asset_key: AssetKey | None = None,
) -> None:
    """An observation of the step's own asset partition (or of ``asset_key``, for a step of a
    fanned-out stage, which computes part of an asset): how a step reports to the API (whose
    metadata ``glyph_assets.contract`` defines) without materializing anything."""
    context.log_event(
        AssetObservation(
            asset_key=asset_key or context.asset_key,
            partition=context.partition_key,
            description=description,
            metadata=dict(metadata),
        )
    )
