"""Giving freed memory back to the operating system between the steps of a run.

A run's steps execute one after another in one process (the in-process executor), and the
allocators keep what a step frees for reuse: Arrow's pool (mimalloc) the buffers of its CSV
reader and Parquet writer, glibc's malloc the frames' and SQLite's. That memory is free but
still resident, and the next step's own working set is added on top of it, so a run's peak grew
with every step. Measured on a 200,000-row import in 10,000-row chunks: a peak of 555 MB, 515 MB
with the freed memory given back before each step and after a file's inspection.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import pyarrow as pa


@cache
def _malloc_trim() -> object | None:
    """glibc's ``malloc_trim`` (None where the C library has none: musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


def give_back_freed_memory() -> None:
    """Return to the OS what Arrow's pool and malloc hold free (live data is not touched)."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)  # type: ignore[operator]


__all__ = ["give_back_freed_memory"]
