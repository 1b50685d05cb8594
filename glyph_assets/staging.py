"""Staging retention: how long an import's intermediate Parquet parts are kept after success.

Each stage of an import stores its rows under ``<staging>/<asset>/<import_id>/`` (see
``io_managers.py``). A retry from failure (Dagster's re-execution ``FROM_FAILURE``) re-reads the
parts of the stages that had succeeded, so they must stay while an import may still be retried;
once its rows are persisted they only cost disk (about 1.5x the upload, per stage).

The rule: the parts of an import are kept after its success until the next successful run of
its partition replaces them, or ``GLYPH_STAGING_RETENTION_DAYS`` days, whichever comes first;
``glyph prune`` removes the expired ones. Only imports whose latest run succeeded are pruned (a
failed, queued or running import keeps everything a retry needs), and only staging is touched:
the landing zone, where the original upload is kept, is never pruned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from upath import UPath

from glyph_assets.contract import PARTITION_TAG
from glyph_assets.landing import import_dir
from glyph_assets.storage import remove_tree, storage_path, tree_size


def staged_parts(staging_root: Path | UPath | str, import_id: str) -> list[UPath]:
    """The import's part directories, one per stored asset and one for the chunks of a
    fanned-out import (``_chunks``); none when nothing is staged. The root is a local
    directory or an fsspec URL (``glyph_assets.storage``)."""
    root = storage_path(staging_root)
    import_dir(root, import_id)  # refuses anything but an import id
    if not root.is_dir():
        return []
    return sorted(
        (
            asset / import_id
            for asset in root.iterdir()
            if asset.is_dir() and (asset / import_id).is_dir()
        ),
        key=str,
    )


@dataclass
class PruneResult:
    """What ``prune_staging`` removed (or would remove, on a dry run) and what it kept."""

    pruned: list[str] = field(default_factory=list)
    kept_for_retry: list[str] = field(default_factory=list)
    directories: int = 0
    bytes: int = 0


def prune_staging(
    staging_root: Path | UPath | str,
    expired: Iterable[str],
    latest_run_succeeded: Callable[[str], bool],
    dry_run: bool = False,
) -> PruneResult:
    """Remove the staging parts of each ``expired`` import (persisted, past the retention) whose
    latest run succeeded; an import whose latest run did not is kept for its retry."""
    result = PruneResult()
    for import_id in expired:
        parts = staged_parts(staging_root, import_id)
        if not parts:
            continue
        if not latest_run_succeeded(import_id):
            result.kept_for_retry.append(import_id)
            continue
        for path in parts:
            result.bytes += tree_size(path)
            result.directories += 1
            if not dry_run:
                remove_tree(path)
        result.pruned.append(import_id)
    return result


def latest_run_succeeded(instance: DagsterInstance) -> Callable[[str], bool]:
    """Does the newest Dagster run of an import's partition (a retry included) have status
    SUCCESS? An import the instance has no run of is not known to have succeeded. The run of
    ``check_import`` that follows a successful ingest run carries the partition too, and it
    reads the parts: while it is queued or running, or after it failed (a re-execution of it
    reads them again), the parts are kept."""

    def check(import_id: str) -> bool:
        runs = instance.get_runs(filters=RunsFilter(tags={PARTITION_TAG: import_id}), limit=1)
        return bool(runs) and runs[0].status == DagsterRunStatus.SUCCESS

    return check


__all__ = ["PruneResult", "latest_run_succeeded", "prune_staging", "staged_parts"]
