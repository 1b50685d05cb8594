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
from functools import cache
from typing import Any

import pyarrow as pa


@cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` from the C library this process has loaded (None where it has
    none: musl, macOS)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def give_back_freed_memory() -> None:
    """Return to the OS what Arrow's pool and malloc hold free (live data is not touched)."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


__all__ = ["give_back_freed_memory"]
