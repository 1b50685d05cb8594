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

from glyph_assets.landing import Manifest, discard, land_stream
from glyph_assets.settings import Settings, get_settings
from glyph_assets.sieve.inspect import FileInspection, inspect_file
from glyph_assets.sieve.read import FileRejected
from glyph_assets.store import repository
from glyph_assets.store.db import migrate


@dataclass
class RegisteredImport:
    import_id: str
    manifest: Manifest
    inspection: FileInspection
    record: dict[str, Any]


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
) -> RegisteredImport:
    """Land, inspect and record one submission; raises FileRejected (nothing kept) when unusable."""
    settings = settings or get_settings()
    manifest = land_stream(
        chunks,
        settings.landing_dir,
        filename=filename,
        content_type=content_type,
        source=source,
        kind=kind,
        max_bytes=settings.max_upload_bytes,
    )
    try:
        inspection = inspect_file(manifest.path, filename, kind)
    except (FileRejected, UnicodeError, OSError) as exc:
        discard(settings.landing_dir, manifest.import_id)
        if isinstance(exc, FileRejected):
            raise
        raise FileRejected([f"the file cannot be read: {exc}"]) from exc
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
    )
    _rewrite_manifest_kind(settings, manifest, inspection.kind)
    return RegisteredImport(
        import_id=manifest.import_id,
        manifest=manifest,
        inspection=inspection,
        record=repository.get_import(engine, record.import_id) or {},
    )


def _rewrite_manifest_kind(settings: Settings, manifest: Manifest, kind: str) -> None:
    """The manifest records the detected kind so the run reads the file the same way."""
    import json
    from dataclasses import asdict

    from glyph_assets.landing import MANIFEST_NAME, import_dir

    manifest.kind = kind
    path = import_dir(settings.landing_dir, manifest.import_id) / MANIFEST_NAME
    path.write_text(json.dumps(asdict(manifest), indent=2))
