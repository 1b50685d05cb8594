"""The inbox sensor: files dropped in a folder become imports exactly as an upload would.

A file is taken once it has stopped growing: its (size, mtime) must be the same on two
evaluations in a row (the last sighting is kept in the cursor). It is then registered through
``register_import`` (landing zone + imports row, source ``inbox``), its partition is added and a
run of ``ingest_import`` is requested in the same SensorResult, and the file is moved out of the
way so it is never ingested twice:

- ``processed/<name>``: registered (or skipped as a duplicate, with ``<name>.skipped.txt``);
- ``rejected/<name>`` with ``<name>.reason.txt`` listing every problem found in the file.

A file whose sha256 was already imported is skipped unless ``GLYPH_INBOX_REIMPORT=true``.
Hidden files and names ending in .part/.tmp/.partial/.crdownload/.swp are ignored, so a writer can
copy to such a name and rename when done.

Run ids exist only after the daemon launches the requested runs, so each import is kept in the
cursor as "awaiting" and its run is recorded in ``import_runs`` on a later evaluation, found by
its ``glyph/import_id`` tag (retries and re-executions are recorded by the run status sensors).

One evaluation takes at most 20 files or 30 s of work (Dagster cancels a tick after 60 s); the
rest waits for the next evaluation, 5 s later. Outcomes go to the sensor's log and to the
``recent`` list of its cursor (both shown on the sensor's page in the UI).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import (
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._utils.warnings import BetaWarning

from glyph_assets.contract import IMPORT_TAG, SOURCE_TAG, ingest_job_for
from glyph_assets.conventions import OWNERS, layer_tags
from glyph_assets.imports import file_chunks, register_import
from glyph_assets.landing import UploadTooLarge
from glyph_assets.partitions import imports_partitions
from glyph_assets.settings import Settings
from glyph_assets.sieve.read import FileRejected
from glyph_assets.store import repository
from glyph_assets.store.db import migrate

if TYPE_CHECKING:  # Dagster does not export the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

SOURCE = "inbox"
PROCESSED = "processed"
REJECTED = "rejected"
REIMPORT_ENV = "GLYPH_INBOX_REIMPORT"
IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".swp")
MAX_FILES_PER_TICK = 20
# a sensor tick must answer within Dagster's 60 s gRPC timeout: stop taking files after this
TICK_BUDGET_SECONDS = 30.0
AWAIT_RUN_SECONDS = 3600.0
RECENT_EVENTS = 25


@dataclass
class InboxCursor:
    """What the sensor remembers between evaluations (serialized as JSON)."""

    # name -> [size, mtime_ns] as last seen, for files not yet taken
    seen: dict[str, list[int]] = field(default_factory=dict)
    # import_id -> epoch seconds when its run was requested, until its run id is recorded
    awaiting: dict[str, float] = field(default_factory=dict)
    # the newest outcomes, newest last: {"file", "outcome", "at", ...}
    recent: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, raw: str | None) -> InboxCursor:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            return cls()
        return cls(
            seen={k: list(v) for k, v in (data.get("seen") or {}).items()},
            awaiting=dict(data.get("awaiting") or {}),
            recent=list(data.get("recent") or []),
        )

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def note(self, event: dict[str, Any]) -> None:
        self.recent.append({**event, "at": datetime.now(UTC).isoformat(timespec="seconds")})
        del self.recent[:-RECENT_EVENTS]


@dataclass
class InboxOutcome:
    """The result of one evaluation, before it becomes a SensorResult."""

    run_requests: list[RunRequest] = field(default_factory=list)
    import_ids: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def reimport_enabled() -> bool:
    from glyph_assets.settings import Settings

    return Settings().inbox_reimport  # read at each tick: the operator may flip it live


def candidate_files(inbox: Path) -> list[Path]:
    """Top-level regular files, oldest first; folders (processed/, rejected/) are not scanned."""
    if not inbox.is_dir():
        return []
    files = [
        p
        for p in inbox.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and not p.name.lower().endswith(IGNORED_SUFFIXES)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for block in file_chunks(path):
        digest.update(block)
    return digest.hexdigest()


def _unique_target(folder: Path, name: str) -> Path:
    """processed/<name>, or processed/<stem>-<n><suffix> when that name was used before."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    counter = 1
    while target.exists() or target.with_name(target.name + ".reason.txt").exists():
        target = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    return target


def _move(path: Path, folder: Path) -> Path:
    target = _unique_target(folder, path.name)
    shutil.move(str(path), str(target))
    return target


def _write_note(target: Path, suffix: str, lines: list[str]) -> Path:
    note = target.with_name(target.name + suffix)
    note.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return note


def take_file(
    path: Path, settings: Settings, outcome: InboxOutcome, fanout_min_rows: int = 0
) -> None:
    """Register one stable file (or skip / reject it) and move it out of the inbox; its run is
    ``ingest_import_chunked`` from ``fanout_min_rows`` rows (0: never), else ``ingest_import``."""
    inbox = settings.inbox
    digest = sha256_of(path)
    engine = migrate(settings.sqlalchemy_url)
    if not reimport_enabled():
        earlier = repository.find_import(engine, sha256=digest)
        if earlier is not None:
            target = _move(path, inbox / PROCESSED)
            _write_note(
                target,
                ".skipped.txt",
                [
                    f"skipped: {path.name} has the same content (sha256 {digest}) as import "
                    f"{earlier['import_id']} ({earlier.get('filename')}, "
                    f"status {earlier.get('status')}, received {earlier.get('created_at')}).",
                    f"Set {REIMPORT_ENV}=true and drop the file again to import it anyway.",
                ],
            )
            outcome.events.append(
                {
                    "file": path.name,
                    "outcome": "skipped",
                    "duplicate_of": earlier["import_id"],
                    "sha256": digest,
                    "moved_to": str(target),
                }
            )
            return
    try:
        registered = register_import(
            file_chunks(path),
            filename=path.name,
            source=SOURCE,
            description=f"inbox file {path.name}",
            settings=settings,
        )
    except (FileRejected, UploadTooLarge) as exc:
        problems = exc.problems if isinstance(exc, FileRejected) else [str(exc)]
        target = _move(path, inbox / REJECTED)
        _write_note(
            target,
            ".reason.txt",
            [f"rejected: {path.name} (sha256 {digest})", *[f"- {p}" for p in problems]],
        )
        outcome.events.append(
            {
                "file": path.name,
                "outcome": "rejected",
                "problems": problems,
                "moved_to": str(target),
            }
        )
        return
    import_id = registered.import_id
    target = _move(path, inbox / PROCESSED)
    outcome.import_ids.append(import_id)
    outcome.run_requests.append(
        RunRequest(
            run_key=import_id,
            job_name=ingest_job_for(registered.estimated_rows, fanout_min_rows),
            partition_key=import_id,
            tags={IMPORT_TAG: import_id, SOURCE_TAG: SOURCE},
        )
    )
    outcome.events.append(
        {
            "file": path.name,
            "outcome": "registered",
            "import_id": import_id,
            "sha256": digest,
            "moved_to": str(target),
        }
    )


def record_launched_runs(
    context: SensorEvaluationContext, cursor: InboxCursor, settings: Settings
) -> None:
    """Store the run ids of imports requested on earlier evaluations (looked up by tag)."""
    if not cursor.awaiting:
        return
    engine = migrate(settings.sqlalchemy_url)
    now = time.time()
    for import_id, requested_at in list(cursor.awaiting.items()):
        runs = context.instance.get_runs(filters=RunsFilter(tags={IMPORT_TAG: import_id}))
        for run in sorted(runs, key=lambda r: r.run_id):
            repository.add_run(engine, import_id, run.run_id, status=run.status.value)
        if runs or now - requested_at > AWAIT_RUN_SECONDS:
            del cursor.awaiting[import_id]


def evaluate_inbox(
    context: SensorEvaluationContext, settings: Settings, fanout_min_rows: int = 0
) -> SensorResult:
    """One evaluation: record launched runs, then take every file that stopped growing (a
    large one's run fans out from ``fanout_min_rows`` rows, see ``take_file``)."""
    with contextlib.suppress(OSError):  # show operators where to drop files
        settings.inbox.mkdir(parents=True, exist_ok=True)
    cursor = InboxCursor.load(context.cursor)
    try:
        record_launched_runs(context, cursor, settings)
    except Exception as exc:  # noqa: BLE001 - bookkeeping must not stop ingestion
        context.log.warning(f"could not record launched runs yet: {exc}")
    outcome = InboxOutcome()
    still_growing: dict[str, list[int]] = {}
    taken = 0
    started = time.monotonic()
    for path in candidate_files(settings.inbox):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        now = [stat.st_size, stat.st_mtime_ns]
        busy = taken >= MAX_FILES_PER_TICK or time.monotonic() - started > TICK_BUDGET_SECONDS
        if cursor.seen.get(path.name) != now or busy:
            still_growing[path.name] = now
            continue
        taken += 1
        try:
            take_file(path, settings, outcome, fanout_min_rows)
        except Exception as exc:  # noqa: BLE001 - one bad file must not block the others
            context.log.error(f"inbox: {path.name} failed and stays in the inbox: {exc!r}")
            still_growing[path.name] = now
    cursor.seen = still_growing
    for event in outcome.events:
        cursor.note(event)
        message = f"inbox: {event['file']} {event['outcome']}" + "".join(
            f" {k}={v}" for k, v in event.items() if k not in ("file", "outcome", "moved_to")
        )
        (context.log.warning if event["outcome"] != "registered" else context.log.info)(message)
    requested_at = time.time()
    for import_id in outcome.import_ids:
        cursor.awaiting[import_id] = requested_at
    if not outcome.run_requests:
        waiting = f"{len(still_growing)} file(s) waiting to stop growing" if still_growing else ""
        handled = f"{len(outcome.events)} file(s) skipped or rejected" if outcome.events else ""
        reason = "; ".join(p for p in (handled, waiting) if p) or "no new file in the inbox"
        return SensorResult(skip_reason=reason, cursor=cursor.dump())
    return SensorResult(
        run_requests=outcome.run_requests,
        dynamic_partitions_requests=[imports_partitions.build_add_request(outcome.import_ids)],
        cursor=cursor.dump(),
    )


def build_inbox_sensor(
    job: UnresolvedAssetJobDefinition,
    settings: Settings,
    chunked_job: JobDefinition | None = None,
) -> SensorDefinition:
    """The inbox sensor of ``settings``' inbox folder, requesting runs of ``job`` (built by
    ``definitions.py`` from the one read of the settings), or of ``chunked_job`` for a file of
    at least ``GLYPH_FANOUT_MIN_ROWS`` rows when it is given."""
    fanout_min_rows = settings.fanout_threshold if chunked_job is not None else 0

    def _inbox_sensor(context: SensorEvaluationContext) -> SensorResult:
        return evaluate_inbox(context, settings, fanout_min_rows)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # ``owners`` on a sensor is a beta parameter
        return sensor(
            name="inbox_sensor",
            jobs=[job, chunked_job] if chunked_job is not None else [job],
            minimum_interval_seconds=5,
            default_status=DefaultSensorStatus.RUNNING,
            owners=OWNERS,
            tags={**layer_tags("ingestion"), SOURCE_TAG: SOURCE},
            description=(
                "Watches the inbox folder (GLYPH_INBOX_DIR, default <data>/inbox): each file "
                "that stopped growing becomes an import (source=inbox) and an ingest_import run, "
                "then moves to processed/ or rejected/ with a .reason.txt; duplicates by sha256 "
                "are skipped (GLYPH_INBOX_REIMPORT=true imports them again)."
            ),
        )(_inbox_sensor)


__all__ = ["InboxCursor", "build_inbox_sensor", "evaluate_inbox", "reimport_enabled"]
