"""Recovery of launches that a dying process cut short, so no accepted import waits forever.

Why: an import is recorded, then its run is created and handed to the run queue (or, express,
launched at once); each step is a separate write by the API or the webserver. A process killed
between two of them leaves what nothing else in Dagster or glyph ever picks up again:

- a run created but never queued or launched stays ``NOT_STARTED``: Dagster's queue daemon only
  dequeues ``QUEUED`` runs and run monitoring only watches runs that started launching;
- an import recorded whose API died before the run was created (or before its id was recorded)
  stays ``queued`` with no run: its client may never repeat the request.

``recover_stalled_launches`` (run by ``stalled_launch_sensor`` in the daemon) settles both once
they have stalled for ``GLYPH_LAUNCH_STALL_SECONDS``, longer than the API waits on a launch:

- a stalled ``NOT_STARTED`` run of an import that is its import's newest is queued, as its
  submission would have done; one that a newer run of the import replaced (the client launched
  again) is deleted, so it can never run twice (as is one without the job origin the queue
  needs, which Dagster's own submissions always set);
- an import without a recorded run adopts the runs Dagster has with its tag; with none it is
  failed with that reason, and a retry launches it. glyph does not guess a new launch, because
  the request's run configuration was never kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dagster import DagsterEvent, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from sqlalchemy.engine import Engine

from glyph_assets.contract import IMPORT_TAG, import_of
from glyph_assets.store import repository
from glyph_assets.store.status import ImportStatus

NEVER_LAUNCHED = (
    "its run was never launched: the process submitting it stopped before Dagster had the run; "
    "retry the import to launch it"
)


# What a pass may do, as the sensor's log names it.
QUEUED = "queued stalled runs"
DELETED = "deleted replaced runs"
ADOPTED = "recorded runs of imports"
FAILED = "failed never-launched imports"


@dataclass
class Recovery:
    """What one pass did: (action, run or import id) in the order it was done."""

    actions: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.actions)

    def ids(self, action: str) -> list[str]:
        return [done for kind, done in self.actions if kind == action]

    def describe(self) -> str:
        kinds = dict.fromkeys(kind for kind, _ in self.actions)
        return "; ".join(f"{kind} {', '.join(self.ids(kind))}" for kind in kinds) or (
            "no stalled launch"
        )


def recover_stalled_launches(
    instance: DagsterInstance, engine: Engine, now: datetime, stall_seconds: float
) -> Recovery:
    """Settle the runs and imports whose launch stalled before ``now - stall_seconds``."""
    before = now - timedelta(seconds=stall_seconds)
    done = Recovery()
    stalled = instance.get_runs(
        RunsFilter(statuses=[DagsterRunStatus.NOT_STARTED], created_before=before)
    )
    for run in stalled:
        import_id = import_of(run.tags)
        if not import_id:
            continue  # not an import's run: not glyph's to settle
        if run.remote_job_origin is None or _replaced(instance, run, import_id):
            instance.delete_run(run.run_id)  # replaced, or nothing the queue could launch
            done.actions.append((DELETED, run.run_id))
        else:
            _enqueue(instance, run)
            done.actions.append((QUEUED, run.run_id))
    for record in repository.imports_without_runs(engine, ImportStatus.QUEUED, before):
        import_id = record["import_id"]
        runs = instance.get_runs(RunsFilter(tags={IMPORT_TAG: import_id}))
        if runs:
            for run in reversed(runs):  # oldest first: attempts numbered in launch order
                repository.add_run(engine, import_id, run.run_id, status=run.status.value)
            done.actions.append((ADOPTED, import_id))
        else:
            repository.finish_import(
                engine, import_id, ImportStatus.FAILED, error_message=NEVER_LAUNCHED
            )
            done.actions.append((FAILED, import_id))
    return done


def _replaced(instance: DagsterInstance, run: DagsterRun, import_id: str) -> bool:
    """Was a newer run of the same import created after this one?"""
    newest = instance.get_runs(RunsFilter(tags={IMPORT_TAG: import_id}), limit=1)
    return bool(newest) and newest[0].run_id != run.run_id


def _enqueue(instance: DagsterInstance, run: DagsterRun) -> None:
    """What ``QueuedRunCoordinator.submit_run`` does with a new run: the daemon launches it."""
    instance.report_dagster_event(DagsterEvent.job_enqueue(run), run_id=run.run_id)


__all__ = [
    "ADOPTED",
    "DELETED",
    "FAILED",
    "NEVER_LAUNCHED",
    "QUEUED",
    "Recovery",
    "recover_stalled_launches",
]
