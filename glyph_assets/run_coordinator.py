"""Dagster's run queue, with a fast lane for small imports while the queue has room.

Why: an established glyphd client waits for its import inside the request (a 3-row persist), and
through ``QueuedRunCoordinator`` every run waits for the daemon's next dequeue tick, then for the
daemon to launch it: on this project's machine 0.6-1.2 s of a small import's few seconds. Dagster's
other coordinator (``SyncInMemoryRunCoordinator``) launches every run at once from the submitting
process, but gives up the queue's limit on concurrent runs, which a burst of large uploads needs.

``ExpressRunCoordinator`` is the queue, except for a run that the API tagged ``glyph/launch:
express`` (a landed file of at most ``GLYPH_EXPRESS_MAX_BYTES``): such a run is launched at once,
by the process that submitted it (the webserver, through the same run launcher the daemon uses),
when fewer than ``max_concurrent_runs`` runs are in progress and none is waiting in the queue.
Otherwise it is queued like any run, so the limit holds (two submissions racing for the last
slot may overshoot it by the few express runs in flight) and a small run never overtakes a
queued one, except a background run (the checks after an import, which nobody waits for and
the queue takes last: ``contract.BACKGROUND_TAGS``). Runs from the Dagster UI, backfills,
sensors and retries carry no such tag and are queued as before.
"""

from __future__ import annotations

import logging

from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import (
    IN_PROGRESS_RUN_STATUSES,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
)

from glyph_assets.contract import LAUNCH_EXPRESS, LAUNCH_TAG, PRIORITY_BACKGROUND, PRIORITY_TAG

log = logging.getLogger(__name__)


class ExpressRunCoordinator(QueuedRunCoordinator):
    """``QueuedRunCoordinator`` whose express-tagged runs skip the queue while it has room."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if (
            run.tags.get(LAUNCH_TAG) == LAUNCH_EXPRESS
            and run.status == DagsterRunStatus.NOT_STARTED
            and self.has_room()
        ):
            self._instance.launch_run(run.run_id, context.workspace)
            launched = self._instance.get_run_by_id(run.run_id)
            assert launched is not None, f"run {run.run_id} vanished while launching"
            return launched
        return super().submit_run(context)

    def has_room(self) -> bool:
        """No run waits in the queue (a background run aside) and fewer than
        ``max_concurrent_runs`` are in progress."""
        limit = self.get_run_queue_config().max_concurrent_runs
        if limit == 0:  # the queue is paused: nothing launches, express or not
            return False
        if self._waiting() > 0:
            return False
        if limit < 0:  # -1: no limit
            return True
        running = self._instance.get_runs_count(RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES))
        return running < limit

    def _waiting(self) -> int:
        """Queued runs that an express run must not overtake: all but background ones (the
        checks after an import), which the queue takes last anyway (``dagster/priority``)."""
        queued = self._instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
        if not queued:
            return 0
        background = self._instance.get_runs_count(
            RunsFilter(statuses=[DagsterRunStatus.QUEUED], tags={PRIORITY_TAG: PRIORITY_BACKGROUND})
        )
        return queued - background


__all__ = ["ExpressRunCoordinator"]
