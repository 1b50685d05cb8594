"""Files a pipeline names on the server (``POST /api/imports/from-pipeline``): which ones may be
read, and reading one without following a link swapped in after the check."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath

from glyphd_api.errors import ApiError


def resolve_pipeline_path(root: Path, given: str) -> Path:
    """The file a pipeline names, if and only if it really lies under the pipeline root.

    ``..`` is refused outright (422); symlinks are resolved before the containment check (403).
    Nothing is opened here.
    """
    if "\x00" in given:
        raise ApiError(422, "input_csv_path contains a NUL byte", code="path_not_allowed")
    if ".." in PurePath(given.replace("\\", "/")).parts:
        raise ApiError(422, "input_csv_path may not contain '..'", code="path_not_allowed")
    try:
        base = root.resolve(strict=True)
    except (FileNotFoundError, RuntimeError) as exc:
        raise ApiError(
            403,
            "imports from the pipeline are not set up on this server "
            "(the pipeline root does not exist)",
            code="pipeline_root_missing",
        ) from exc
    candidate = Path(given)
    candidate = candidate if candidate.is_absolute() else base / candidate
    try:
        resolved = candidate.resolve(strict=False)
    except RuntimeError as exc:  # a symlink loop
        raise ApiError(422, "input_csv_path cannot be resolved", code="path_not_allowed") from exc
    if not resolved.is_relative_to(base):
        raise ApiError(403, "input_csv_path is outside the pipeline root", code="path_forbidden")
    if not resolved.exists():
        raise ApiError(404, "no such file under the pipeline root", code="file_not_found")
    if not resolved.is_file():
        raise ApiError(422, "input_csv_path is not a regular file", code="path_not_allowed")
    return resolved


def open_chunks(path: Path) -> Iterator[bytes]:
    """Read the checked path without following a symlink swapped in since the check."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ApiError(422, "input_csv_path is not a regular file", code="path_not_allowed")
        while block := fh.read(1 << 20):
            yield block
