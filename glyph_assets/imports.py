"""register_import(): the one way a submission becomes an import, whoever submits it.

The API, the inbox sensor and the CLI all call this: land the bytes, check the file, record the
import. Adding the Dagster partition and launching the run is the caller's job, because the API
does it over GraphQL and the sensor through a SensorResult.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glyph_assets.landing import Manifest, StorageFull, discard, disk_full, land_stream
from glyph_assets.memory import give_back_freed_memory
from glyph_assets.settings import Settings, get_settings
from glyph_assets.sieve.columns import SCORE_SCALES
from glyph_assets.sieve.inspect import FileInspection, inspect_file
from glyph_assets.sieve.read import FileRejected, TooManyRows, count_csv_rows, detect_format
from glyph_assets.storage import local_file
from glyph_assets.store import repository
from glyph_assets.store.db import migrate


@dataclass
class RegisteredImport:
    import_id: str
    manifest: Manifest
    inspection: FileInspection
    record: dict[str, Any]

    @property
    def estimated_rows(self) -> int:
        """Data rows as known at landing: counted by the inspection, else the file's line
        breaks (an upper bound), which is what picks the run's job (``contract.ingest_job_for``)."""
        return (
            self.inspection.rows if self.inspection.rows is not None else self.manifest.line_breaks
        )


def file_chunks(path: Path, block: int = 1 << 20) -> Iterable[bytes]:
    with open(path, "rb") as fh:
        while data := fh.read(block):
            yield data


def register_import(
    chunks: Iterable[bytes],
    *,
    filename: str | None,
    content_type: str | None = None,
    source: str = "api",
    description: str | None = None,
    kind: str | None = None,
    campaign_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    settings: Settings | None = None,
    score_scale: str | None = None,
    records: list[Any] | None = None,
) -> RegisteredImport:
    """Land, inspect and record one submission; raises FileRejected (nothing kept) when unusable.

    ``score_scale`` is the scale a client declared for an already-scored upload's scores.
    ``records``: the listing records of a JSON submission as the caller already parsed them from
    these bytes (``inspect_file`` then does not parse the landed file again)."""
    settings = settings or get_settings()
    if score_scale is not None and score_scale not in SCORE_SCALES:
        raise FileRejected([f"score_scale must be one of {', '.join(SCORE_SCALES)}"])
    manifest = land_stream(
        chunks,
        settings.landing_dir,
        filename=filename,
        content_type=content_type,
        source=source,
        kind=kind,
        max_bytes=settings.max_upload_bytes,
        score_scale=score_scale,
    )
    try:
        with local_file(manifest.path) as landed:
            inspection = inspect_file(landed, filename, kind, records=records)
            give_back_freed_memory()  # the inspection read the whole file through Arrow
            check_row_limit(
                landed,
                manifest.original_filename,
                inspection,
                settings.max_rows,
                manifest.line_breaks,
            )
    except (FileRejected, UnicodeError, OSError) as exc:
        discard(settings.landing_dir, manifest.import_id)
        if isinstance(exc, FileRejected):
            raise
        raise FileRejected([f"the file cannot be read: {exc}"]) from exc
    try:  # the kind the run will read the file as, recorded before the import exists
        _rewrite_manifest_kind(settings, manifest, inspection.kind)
    except BaseException as exc:
        discard(settings.landing_dir, manifest.import_id)
        if disk_full(exc):
            raise StorageFull(settings.landing_dir) from exc
        raise
    try:
        engine = migrate(settings.sqlalchemy_url)
        record = repository.create_import(
            engine,
            import_id=manifest.import_id,
            source=source,
            description=description,
            filename=filename,
            content_type=content_type,
            sha256=manifest.sha256,
            size_bytes=manifest.size_bytes,
            kind=inspection.kind,
            campaign_id=campaign_id,
            metadata_json=metadata,
            idempotency_key=idempotency_key,
            score_scale=score_scale,
        )
    except BaseException as exc:
        # No import row (a duplicate Idempotency-Key, the database down): keep no landing either.
        discard(settings.landing_dir, manifest.import_id)
        if disk_full(exc):
            raise StorageFull(settings.landing_dir) from exc
        raise
    return RegisteredImport(
        import_id=manifest.import_id,
        manifest=manifest,
        inspection=inspection,
        record=repository.get_import(engine, record.import_id) or {},
    )


def check_row_limit(
    path: Path,
    filename: str | None,
    inspection: FileInspection,
    max_rows: int | None,
    line_breaks: int | None = None,
) -> None:
    """Refuse a file with more than ``max_rows`` data rows (TooManyRows, a FileRejected): the
    one limit of an upload, a registered file and a dry run alike.

    JSON and small files were counted by the inspection. A CSV has at most as many data rows as
    line breaks (when known, as a landed file's manifest records), so only a file with more line
    breaks than the limit is counted row by row.
    """
    if not max_rows:
        return
    rows = inspection.rows
    if rows is None:
        if inspection.format == "json" or (line_breaks is not None and line_breaks <= max_rows):
            return
        fmt = detect_format(path, filename)
        rows = count_csv_rows(path, fmt, stop_after=max_rows)
    if rows > max_rows:
        raise TooManyRows(max_rows, rows)


def _rewrite_manifest_kind(settings: Settings, manifest: Manifest, kind: str) -> None:
    """The manifest records the detected kind so the run reads the file the same way."""
    from glyph_assets.landing import import_dir, write_manifest

    manifest.kind = kind
    write_manifest(import_dir(settings.landing_dir, manifest.import_id), manifest)
