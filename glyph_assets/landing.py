"""The landing zone: every import's original bytes, kept unchanged, with a manifest.

Landing paths are generated from the import_id; a client's filename is recorded in the manifest
and never used as a path.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

ORIGINAL_STEM = "original"
MANIFEST_NAME = "manifest.json"
_SAFE_SUFFIXES = {".csv", ".tsv", ".tab", ".txt", ".json"}


class UploadTooLarge(ValueError):
    """The upload exceeded the configured size limit; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"upload is larger than the limit of {limit} bytes")
        self.limit = limit


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class StorageFull(OSError):
    """The landing zone's disk (or quota) is full: nothing of the upload was kept."""

    def __init__(self, path: Path) -> None:
        super().__init__(errno.ENOSPC, "no space left to land the upload", str(path))


# How the databases say it: SQLite's SQLITE_FULL, PostgreSQL's disk_full (SQLSTATE 53100).
NO_SPACE_MESSAGES = ("database or disk is full", "No space left on device")


def disk_full(exc: BaseException | None) -> bool:
    """Is ``exc`` (or what caused it) the disk or quota being full, of a file or a database?"""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            return True
        if getattr(exc, "sqlstate", None) == "53100":
            return True
        if any(m in str(exc) for m in NO_SPACE_MESSAGES):
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
        seen += 1
    return False


@dataclass
class Manifest:
    import_id: str
    original_filename: str | None
    stored_as: str
    sha256: str
    size_bytes: int
    content_type: str | None
    source: str
    kind: str | None
    received_at: str
    # Line breaks (\n and \r counted apart): an upper bound of a text file's data rows.
    line_breaks: int = 0
    # Scored uploads: the scale the client declared for its scores (None: detect, see sieve).
    score_scale: str | None = None

    @property
    def path(self) -> Path:
        return Path(self.stored_as)


def new_import_id() -> str:
    return str(uuid.uuid4())


def safe_suffix(filename: str | None, content_type: str | None = None) -> str:
    suffix = Path(filename or "").suffix.lower()
    if suffix in _SAFE_SUFFIXES:
        return suffix
    if content_type and "json" in content_type:
        return ".json"
    if content_type and "tab-separated" in content_type:
        return ".tsv"
    return ".csv"


def import_dir(landing_root: Path, import_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-f-]{36}", import_id):
        raise ValueError(f"not an import id: {import_id!r}")
    return landing_root / import_id


def land_stream(
    chunks: Iterable[bytes],
    landing_root: Path,
    *,
    filename: str | None,
    content_type: str | None,
    source: str,
    kind: str | None = None,
    import_id: str | None = None,
    max_bytes: int | None = None,
    score_scale: str | None = None,
) -> Manifest:
    """Stream bytes into landing/<import_id>/original.<ext>, hashing as they arrive."""
    import_id = import_id or new_import_id()
    target_dir = import_dir(landing_root, import_id)
    target = target_dir / f"{ORIGINAL_STEM}{safe_suffix(filename, content_type)}"
    digest = hashlib.sha256()
    size = 0
    line_breaks = 0
    try:
        target_dir.mkdir(parents=True, exist_ok=False)
        with open(target, "xb") as out:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise UploadTooLarge(max_bytes)
                digest.update(chunk)
                line_breaks += chunk.count(b"\n") + chunk.count(b"\r")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(target, 0o444)
        manifest = Manifest(
            import_id=import_id,
            original_filename=filename,
            stored_as=str(target.resolve()),
            sha256=digest.hexdigest(),
            size_bytes=size,
            content_type=content_type,
            source=source,
            kind=kind,
            received_at=datetime.now(UTC).isoformat(),
            line_breaks=line_breaks,
            score_scale=score_scale,
        )
        write_manifest(target_dir, manifest)
    except BaseException as exc:
        # Nothing half-written stays: not the bytes, not a manifest without them.
        shutil.rmtree(target_dir, ignore_errors=True)
        if disk_full(exc):
            raise StorageFull(landing_root) from exc
        raise
    return manifest


def write_manifest(target_dir: Path, manifest: Manifest) -> None:
    """Write the manifest whole or not at all (a temporary file renamed over it)."""
    path = target_dir / MANIFEST_NAME
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(asdict(manifest), indent=2))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_manifest(landing_root: Path, import_id: str) -> Manifest:
    data = json.loads((import_dir(landing_root, import_id) / MANIFEST_NAME).read_text())
    known = {f.name for f in fields(Manifest)}
    return Manifest(**{k: v for k, v in data.items() if k in known})


def discard(landing_root: Path, import_id: str) -> None:
    """Remove a landing that was refused at file level (nothing of it is kept)."""
    shutil.rmtree(import_dir(landing_root, import_id), ignore_errors=True)
