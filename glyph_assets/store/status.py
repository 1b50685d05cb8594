"""An import's status: the one list of its values and of the groups every reader asks about.

The ``imports.status`` column, the API's ``status`` fields and filters, the metrics' labels, the
CLI and the benchmarks all speak these six values. The groups are named here so that "is it
over?" or "are its rows in the database?" is answered the same way everywhere.

A job's state (``JobState`` in the API, with ``canceling``) describes a Dagster run, not an
import, and is not one of these.
"""

from __future__ import annotations

from enum import StrEnum


class ImportStatus(StrEnum):
    """The life of an import: queued, running, then one of the four final statuses.

    A ``StrEnum``: each member equals its value (``ImportStatus.FAILED == "failed"``), so the
    database column, JSON bodies and plain strings compare directly.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @classmethod
    def of_finished_rows(cls, error_rows: int) -> ImportStatus:
        """A run that wrote all its rows: partially succeeded when some rows were rejected."""
        return cls.PARTIALLY_SUCCEEDED if error_rows else cls.SUCCEEDED


# Every value, in the order of an import's life (the API documents them in this order).
IMPORT_STATUSES: tuple[ImportStatus, ...] = tuple(ImportStatus)
# Not queued or running: nothing more happens to the import unless it is retried.
TERMINAL_STATUSES = frozenset(
    {
        ImportStatus.SUCCEEDED,
        ImportStatus.PARTIALLY_SUCCEEDED,
        ImportStatus.FAILED,
        ImportStatus.CANCELED,
    }
)
# The run finished and its rows are in the database, together with their counts.
PERSISTED_STATUSES = frozenset({ImportStatus.SUCCEEDED, ImportStatus.PARTIALLY_SUCCEEDED})
# A run is waiting or working on the import.
ACTIVE_STATUSES = frozenset({ImportStatus.QUEUED, ImportStatus.RUNNING})
# Ended without its rows: a retry may launch the next attempt.
RETRYABLE_STATUSES = frozenset({ImportStatus.FAILED, ImportStatus.CANCELED})

__all__ = [
    "ACTIVE_STATUSES",
    "IMPORT_STATUSES",
    "PERSISTED_STATUSES",
    "RETRYABLE_STATUSES",
    "TERMINAL_STATUSES",
    "ImportStatus",
]
