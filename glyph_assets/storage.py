"""Where the landing zone and the staging Parquet live: a local directory or an fsspec URL.

Both are ``upath.UPath`` objects (universal_pathlib over fsspec). A plain path (the default,
under ``GLYPH_DATA_DIR``) is a ``pathlib.Path`` subclass and keeps the local filesystem's
guarantees: files written with ``fsync``, directories swapped in by ``rename``. A URL
(``s3://bucket/glyph/staging``, ``gs://...``, ``file:///mnt/shared/...``, ``memory://...`` in
tests) goes through its fsspec filesystem, so a Celery worker on another machine reads what the
run's other steps wrote. The fsspec implementation of the scheme must be installed (``s3fs``,
``gcsfs``, ``adlfs``); credentials come from that library's own configuration.

The few operations glyph needs beyond ``UPath`` itself are here, each with its local and its
fsspec form; nothing else in glyph branches on where the files are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from upath import UPath

# Schemes of fsspec's local filesystem: a URL with one of them is still reached through fsspec
# (as an object store would be), only a scheme-less path takes the pathlib route.
_LOCAL_PROTOCOLS = ("", "file", "local")


def storage_path(location: str | os.PathLike[str]) -> UPath:
    """The storage location ``location`` names: a local path or an fsspec URL."""
    return location if isinstance(location, UPath) else UPath(location)


def is_plain(path: UPath | Path) -> bool:
    """A local path handled by ``pathlib`` (not a URL through fsspec)."""
    return isinstance(path, Path)


def location_text(path: UPath | Path) -> str:
    """How a location is written down (a manifest's ``stored_as``, an IO manager's base):
    an absolute local path, or the URL."""
    return str(Path(path).resolve()) if is_plain(path) else str(path)


def arrow_target(path: UPath | Path) -> tuple[str, Any]:
    """``(path, filesystem)`` for pyarrow: a local path alone (pyarrow's own, fastest
    filesystem), else the path inside the URL's fsspec filesystem (pyarrow wraps it)."""
    if is_plain(path):
        return str(path), None
    return path.path, path.fs


def make_dirs(path: UPath | Path) -> None:
    """``mkdir -p`` (object stores have no directories: nothing to do there but a marker)."""
    path.mkdir(parents=True, exist_ok=True)


def remove_tree(path: UPath | Path) -> None:
    """Remove a directory and everything under it; a missing one is not an error."""
    if is_plain(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    with contextlib.suppress(FileNotFoundError):
        path.fs.rm(path.path, recursive=True)


def replace_tree(source: UPath | Path, target: UPath | Path) -> None:
    """Put the directory ``source`` where ``target`` is, replacing what was there.

    Locally a rename: readers see the old directory or the new one, never a mix. On an object
    store a move is a copy then a delete, so a reader may briefly see no parts; glyph only reads
    a stage's parts after the step that wrote them ended (the next step, a check, a retry)."""
    if is_plain(source):
        if Path(target).exists():
            shutil.rmtree(target)
        Path(source).rename(target)
        return
    remove_tree(target)
    source.fs.mv(source.path, target.path, recursive=True)


def write_text_atomic(path: UPath | Path, text: str) -> None:
    """Write a small text file whole or not at all (a temporary file moved over it)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text)
        if is_plain(path):
            Path(tmp).replace(path)
        else:
            path.fs.mv(tmp.path, path.path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def tree_size(path: UPath | Path) -> int:
    """Bytes of every file under ``path``."""
    if is_plain(path):
        return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return int(path.fs.du(path.path, total=True))


def copy_file(source: UPath | Path, target: UPath | Path) -> None:
    """Copy one file (a server-side copy where the store has one)."""
    if is_plain(source) and is_plain(target):
        shutil.copyfile(source, target)
    elif not is_plain(source) and not is_plain(target) and source.fs is target.fs:
        source.fs.copy(source.path, target.path)
    else:
        with source.open("rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


@contextlib.contextmanager
def local_file(path: UPath | Path) -> Iterator[Path]:
    """A local path with the file's bytes, for readers that need one (the CSV/JSON readers of
    ``sieve``): the file itself when local, else a temporary copy removed afterwards."""
    if is_plain(path):
        yield Path(path)
        return
    fd, name = tempfile.mkstemp(prefix="glyph-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


__all__ = [
    "arrow_target",
    "copy_file",
    "is_plain",
    "local_file",
    "location_text",
    "make_dirs",
    "remove_tree",
    "replace_tree",
    "storage_path",
    "tree_size",
    "write_text_atomic",
]
