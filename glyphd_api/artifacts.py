"""The established artifact validator: every check of an import on an uploaded file, nothing
registered or run, answered as its ``ArtifactValidationResultDTO``; optionally the upload is kept
under the data directory, never at a path the client chooses."""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from glyph_assets.landing import UploadTooLarge
from glyph_assets.settings import Settings
from glyphd_api.errors import ApiError
from glyphd_api.schemas import ESTABLISHED_SCHEMA_VERSION
from glyphd_api.uploads import Submission, spool_to_temp
from glyphd_api.validation import validate_file


class ArtifactValidation(BaseModel):
    """The established ``ArtifactValidationResultDTO``."""

    valid: bool
    type: str
    rows: int | None = None
    schema_version: str = ESTABLISHED_SCHEMA_VERSION
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    filename: str | None = None
    file_size: int | None = None
    saved_to_disk: bool = False
    saved_path: str | None = None


ARTIFACT_SUFFIXES = (".csv", ".json", ".yaml", ".yml")
KIND_TYPES = {"raw": "gpu_listing", "scored": "scored_gpu_listing"}
MAX_LISTED = 100


def _yaml_report(path: Path) -> ArtifactValidation:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        return ArtifactValidation(valid=False, type="unknown", errors=[f"Malformed YAML: {exc}"])
    if isinstance(data, list):
        return ArtifactValidation(
            valid=True, type="array", rows=len(data), warnings=["YAML is not ingested by glyph"]
        )
    if isinstance(data, dict):
        return ArtifactValidation(
            valid=True, type="object", rows=1, warnings=["YAML is not ingested by glyph"]
        )
    return ArtifactValidation(valid=False, type="unknown", errors=["YAML must be a list or a map"])


def artifact_report(path: Path, filename: str, settings: Settings) -> ArtifactValidation:
    """glyph's own validation (every check of an import, nothing persisted) in the established
    shape: file-level problems and row errors are ``errors`` ("Row N: ...", N the row's
    import_index, its 1-based place among the data rows), warnings are ``warnings``."""
    if filename.lower().endswith((".yaml", ".yml")):
        return _yaml_report(path)
    checked = validate_file(
        path,
        filename,
        None,
        chunk_rows=settings.chunk_rows,
        max_field_chars=settings.max_field_chars,
        max_listed=MAX_LISTED,
        max_rows=settings.max_rows,
    )
    kind = checked.detected.kind if checked.detected else None
    errors_found = list(checked.problems)
    errors_found += [f"Row {e.import_index}: {e.reason}" for e in checked.errors]
    warnings = [f"Row {w.import_index}: {w.warning}" for w in checked.warnings]
    warnings += checked.import_warnings
    if checked.valid and checked.error_rows:
        warnings.append(f"Only {checked.valid_rows}/{checked.total_rows} rows passed validation")
    return ArtifactValidation(
        valid=checked.valid and checked.valid_rows > 0,
        type=KIND_TYPES.get(kind or "", "unknown"),
        rows=checked.total_rows if checked.valid else None,
        warnings=warnings,
        errors=errors_found,
    )


def check_artifact(
    settings: Settings, submission: Submission, chunks: Iterator[bytes]
) -> ArtifactValidation:
    """Check the uploaded file on a temporary copy; keep it (under ``validation/`` in the data
    directory, with a generated name) when the client asked with ``save_to_disk``."""
    name = submission.filename
    if not name:
        raise ApiError(422, "Filename is required", code="invalid_request")
    if not name.lower().endswith(ARTIFACT_SUFFIXES):
        raise ApiError(
            422,
            "Unsupported file type. Supported extensions: " + ", ".join(ARTIFACT_SUFFIXES),
            code="unsupported_file_type",
        )
    with tempfile.TemporaryDirectory(prefix="glyph-artifact-") as tmp:
        try:
            spooled = spool_to_temp(chunks, tmp, Path(name).suffix, settings.max_upload_bytes)
        except UploadTooLarge as exc:
            # The established validator's 413 names no limit (a Content-Length over it is
            # refused before, by the app-wide answer that does).
            raise ApiError(413, str(exc), code="payload_too_large") from exc
        path = Path(spooled)
        result = artifact_report(path, name, settings)
        result.filename, result.file_size = name, path.stat().st_size
        if submission.save_to_disk:
            folder = settings.data_dir / "validation"
            folder.mkdir(parents=True, exist_ok=True)
            safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-120:]
            target = folder / f"{secrets.token_hex(4)}_{safe}"
            target.write_bytes(path.read_bytes())
            result.saved_to_disk, result.saved_path = True, str(target)
        return result
