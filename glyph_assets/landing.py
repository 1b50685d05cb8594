"""The landing zone: every import's original bytes, kept unchanged, with a manifest.

Landing paths are generated from the import_id; a client's filename is recorded in the manifest
and never used as a path. The zone is a local directory or an fsspec URL (``GLYPH_LANDING_URL``,
see ``glyph_assets.storage``), so a step on another machine reads the same bytes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from upath import UPath

from glyph_assets.storage import (
    is_plain,
    location_text,
    make_dirs,
    remove_tree,
    storage_path,
    write_text_atomic,
)

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

    def __init__(self, path: Path | UPath) -> None:
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
    # Line breaks (\n, \r\n or a lone \r each count once): an upper bound of a text file's
    # data rows, which chooses the run's job (``contract.ingest_job_for``).
    line_breaks: int = 0
    # Scored uploads: the scale the client declared for its scores (None: detect, see sieve).
    score_scale: str | None = None

    @property
    def path(self) -> UPath:
        """The landed file: a local path or a URL (``storage.local_file`` reads either)."""
        return storage_path(self.stored_as)


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


def import_dir(landing_root: Path | UPath | str, import_id: str) -> UPath:
    if not re.fullmatch(r"[0-9a-f-]{36}", import_id):
        raise ValueError(f"not an import id: {import_id!r}")
    return storage_path(landing_root) / import_id


def count_line_breaks(chunk: bytes, after_cr: bool = False) -> int:
    """Line breaks in ``chunk``: ``\n``, ``\r\n`` and a lone ``\r`` count once each (``after_cr``:
    the chunk before ended in ``\r``, so a ``\n`` opening this one belongs to that break).
    Counting ``\r`` and ``\n`` apart counted a Windows file's rows twice."""
    breaks = chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
    return breaks - 1 if after_cr and chunk.startswith(b"\n") else breaks


def _write_original(
    target: UPath, chunks: Iterable[bytes], max_bytes: int | None
) -> tuple[str, int, int]:
    """Stream the upload to ``target`` (a new file), hashing as it goes: its sha256 digest,
    size and line breaks. A local file is synced and made read-only; a URL is written through
    its filesystem (which makes an object durable when it is closed)."""
    digest = hashlib.sha256()
    size = 0
    line_breaks = 0
    after_cr = False  # the previous chunk ended in \r: a \n opening this one ends that line
    with target.open("xb" if is_plain(target) else "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise UploadTooLarge(max_bytes)
            digest.update(chunk)
            line_breaks += count_line_breaks(chunk, after_cr)
            after_cr = chunk.endswith(b"\r")
            out.write(chunk)
        if is_plain(target):
            out.flush()
            os.fsync(out.fileno())
    if is_plain(target):
        os.chmod(target, 0o444)
    return digest.hexdigest(), size, line_breaks


def land_stream(
    chunks: Iterable[bytes],
    landing_root: Path | UPath | str,
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
    try:
        if is_plain(target_dir):
            target_dir.mkdir(parents=True, exist_ok=False)
        elif target_dir.exists():  # an object store has no directory to refuse to create
            raise FileExistsError(f"{target_dir} exists already")
        else:
            make_dirs(target_dir)
        sha256, size, line_breaks = _write_original(target, chunks, max_bytes)
        manifest = Manifest(
            import_id=import_id,
            original_filename=filename,
            stored_as=location_text(target),
            sha256=sha256,
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
        remove_tree(target_dir)
        if disk_full(exc):
            raise StorageFull(landing_root) from exc
        raise
    return manifest


def write_manifest(target_dir: Path | UPath, manifest: Manifest) -> None:
    """Write the manifest whole or not at all (a temporary file renamed over it)."""
    write_text_atomic(
        storage_path(target_dir) / MANIFEST_NAME, json.dumps(asdict(manifest), indent=2)
    )


def read_manifest(landing_root: Path | UPath | str, import_id: str) -> Manifest:
    data = json.loads((import_dir(landing_root, import_id) / MANIFEST_NAME).read_text())
    known = {f.name for f in fields(Manifest)}
    return Manifest(**{k: v for k, v in data.items() if k in known})


def discard(landing_root: Path | UPath | str, import_id: str) -> None:
    """Remove a landing that was refused at file level (nothing of it is kept)."""
    remove_tree(import_dir(landing_root, import_id))
