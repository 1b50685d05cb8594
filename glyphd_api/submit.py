"""What the API does with a submission: register and launch it, replay it, wait for it, or
dry-run it.

The routes receive the bytes (``glyphd_api.uploads``) and shape the answer; the decisions are
here: an Idempotency-Key that names an import answers with that import, a lost race on the key
answers with the winner's, a file the checks refuse keeps nothing (its exception travels to the
app's handler), and a registered import has its first run launched at once.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio

from glyph_assets.imports import register_import
from glyph_assets.settings import Settings
from glyph_assets.sieve.read import JsonDocument
from glyph_assets.sieve.scored import dto_problems
from glyph_assets.store import repository
from glyph_assets.store.errors import Conflict
from glyph_assets.store.status import TERMINAL_STATUSES
from glyphd_api import service
from glyphd_api.errors import ApiError
from glyphd_api.schemas import DetectedFormat, ImportAccepted, ValidationReport
from glyphd_api.service import Context
from glyphd_api.uploads import Submission, spool_to_temp
from glyphd_api.validation import validate_file


class Replayed(Exception):
    """The submission's Idempotency-Key belongs to an import recorded meanwhile."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record["import_id"])
        self.record = record


def accepted(
    ctx: Context,
    record: dict[str, Any],
    run_id: str | None,
    attempt: int | None,
    detected: DetectedFormat | None = None,
) -> ImportAccepted:
    return ImportAccepted(
        import_id=record["import_id"],
        run_id=run_id,
        attempt=attempt,
        status=record["status"],
        source=record["source"],
        kind=record.get("kind") or "raw",
        sha256=record["sha256"],
        size_bytes=record.get("size_bytes") or 0,
        detected=detected,
        links=ctx.links(record["import_id"], run_id),
    )


def register_and_launch(
    ctx: Context,
    submission: Submission,
    chunks: Iterator[bytes],
    idempotency_key: str | None,
    waited_on: bool = False,
) -> ImportAccepted:
    """Land + check + record (register_import), then add the partition and launch the run
    (``waited_on``: the client waits for the import in this request)."""
    try:
        registered = register_import(
            chunks,
            **submission.recorded(),
            idempotency_key=idempotency_key,
            records=submission.records,
            settings=ctx.settings,
        )
    except Conflict as exc:
        # Another request with the same Idempotency-Key won the race: answer with its import.
        existing = (
            repository.find_import(ctx.engine, idempotency_key=idempotency_key)
            if idempotency_key
            else None
        )
        if existing is None:
            raise ApiError(
                409, "the import could not be recorded: it conflicts with another", code="conflict"
            ) from exc
        raise Replayed(existing) from exc
    run_id, attempt = service.launch_first_run(
        ctx,
        registered.import_id,
        submission.source,
        submission.run_config,
        size_bytes=registered.record.get("size_bytes"),
        rows=registered.estimated_rows,
        waited_on=waited_on,
    )
    detected = DetectedFormat.of(registered.inspection)
    record = repository.get_import(ctx.engine, registered.import_id) or registered.record
    return accepted(ctx, record, run_id, attempt, detected)


def replay(
    ctx: Context, key: str | None, record: dict[str, Any] | None = None
) -> ImportAccepted | None:
    """The import an Idempotency-Key already names (``record`` when known), with its newest run;
    None when the key is new."""
    if not key:
        return None
    if record is None:
        record = repository.find_import(ctx.engine, idempotency_key=key)
    if record is None:
        return None
    runs = repository.runs_of(ctx.engine, record["import_id"])
    latest = runs[-1] if runs else None
    return accepted(
        ctx, record, latest["run_id"] if latest else None, latest["attempt"] if latest else None
    )


# How often a waiting request re-reads its import: every 50 ms for the first 2 s (a small
# import's run is done in about a second, and the client waits for the next poll after it ends:
# with a backoff from the start that was 0.1-0.2 s of a 3-row persist here), then backing off
# 1.3x to 250 ms while the wait is young, then to 1 s, so that a long import costs Dagster one
# status read a second. Once the import's rows are written and only its run's last steps remain
# (``ImportState.wrapping_up``), every 50 ms again for 3 s, then backing off as before: the end
# is then about a second away for 100,000 rows (which were answered up to 250 ms after their run
# ended), and a larger import's checks do not get a read every 50 ms from every waiting client.
FIRST_POLL_SECONDS = 0.05
STEADY_POLL_WAIT_SECONDS = 2.0
POLL_BACKOFF = 1.3
YOUNG_WAIT_SECONDS = 20.0
YOUNG_POLL_SECONDS = 0.25
WRAP_UP_CLOSE_SECONDS = 3.0


def poll_delay(previous: float, waited: float, wrapping_up_for: float | None = None) -> float:
    """The pause before the next poll of an import that has been waited on for ``waited`` s
    (``wrapping_up_for``: how long its rows have been known written, its run still active)."""
    if waited < STEADY_POLL_WAIT_SECONDS or (
        wrapping_up_for is not None and wrapping_up_for < WRAP_UP_CLOSE_SECONDS
    ):
        return FIRST_POLL_SECONDS
    ceiling = YOUNG_POLL_SECONDS if waited < YOUNG_WAIT_SECONDS else 1.0
    return min(previous * POLL_BACKOFF, ceiling)


async def pause_for_change(
    ctx: Context, import_id: str, seconds: float, stored: str | None
) -> None:
    """The pause before the next poll, cut short when the import's stored status changes.

    A poll asks Dagster about the run; meanwhile the status in glyph's database is looked at
    every ``FIRST_POLL_SECONDS`` (no call to Dagster). ``persisted_listings`` writes the final
    status a moment before its run ends, so a request in a backed-off pause (up to 0.25 s)
    polls at once instead of noticing the end up to a pause late (0.1-0.2 s of a
    100,000-row persist's answer here)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        await anyio.sleep(min(FIRST_POLL_SECONDS, left))
        if left <= FIRST_POLL_SECONDS:
            return
        now = await anyio.to_thread.run_sync(stored_status, ctx, import_id)
        if now != stored:
            return


def stored_status(ctx: Context, import_id: str) -> str | None:
    """The import's status as glyph's database holds it (its record alone: no runs, no
    reconciling with Dagster)."""
    return service.known_import(ctx, import_id)["status"]


async def wait_until_final(ctx: Context, import_id: str, timeout: float) -> service.ImportState:
    """Poll (reconciling) until the import is final or the timeout passes. The wait itself is
    async, so waiting clients do not hold the worker threads that other requests need."""
    started = time.monotonic()
    deadline = started + max(0.0, timeout)
    delay = FIRST_POLL_SECONDS
    wrapping_up_since: float | None = None
    while True:
        state = await anyio.to_thread.run_sync(service.load_state, ctx, import_id)
        now = time.monotonic()
        left = deadline - now
        if state.record["status"] in TERMINAL_STATUSES or left <= 0:
            return state
        if state.wrapping_up and wrapping_up_since is None:
            wrapping_up_since = now
        # Decided from the poll just made: the pause after the one that first finds the rows
        # written is already short (decided before it, it was up to 0.25 s of a 100,000-row
        # persist's answer here, after its run had ended).
        wrapping_up_for = None if wrapping_up_since is None else now - wrapping_up_since
        delay = poll_delay(delay, now - started, wrapping_up_for)
        await pause_for_change(ctx, import_id, min(delay, left), state.stored_status)


def check_established_dto(document: JsonDocument) -> None:
    """The established persist path takes a bare array of GPUListingDTO and refuses the whole
    body when an item breaks that contract (as its clients expect), before anything is kept."""
    if document.key is not None:
        raise ApiError(
            422,
            "the body must be a bare JSON array of listings (GPUListingDTO)",
            code="invalid_request",
        )
    problems = dto_problems(document.records)
    if problems:
        raise ApiError(
            422,
            "the listings do not match GPUListingDTO; nothing was kept",
            code="invalid_request",
            problems=problems,
        )


def dry_run(
    settings: Settings, submission: Submission, chunks: Iterator[bytes], max_listed: int
) -> ValidationReport:
    """The same checks as an import, row level included, on a temporary copy: no landing, no
    database row, no run."""
    suffix = Path(submission.filename or "upload.csv").suffix or ".csv"
    with tempfile.TemporaryDirectory(prefix="glyph-validate-") as tmp:
        path = spool_to_temp(chunks, tmp, suffix, settings.max_upload_bytes)
        return validate_file(
            Path(path),
            submission.filename,
            submission.kind,
            chunk_rows=settings.chunk_rows,
            max_field_chars=settings.max_field_chars,
            max_listed=max_listed,
            max_rows=settings.max_rows,
            score_scale=submission.score_scale,
        )
