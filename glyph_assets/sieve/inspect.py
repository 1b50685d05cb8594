"""File-level checks shared by every way in (API, inbox sensor, CLI): reject early, list all."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glyph_assets.sieve.clean import missing_required
from glyph_assets.sieve.columns import SCORED_KIND_MARKERS, header_key
from glyph_assets.sieve.read import (
    ERROR_COLUMN,
    INDEX_COLUMN,
    FileRejected,
    detect_format,
    iter_raw_chunks,
    load_json,
    records_to_frames,
)

FIRST_CHUNK_ROWS = 1000


@dataclass
class FileInspection:
    format: str
    encoding: str
    delimiter: str | None
    columns: list[str]
    kind: str
    first_chunk_rows: int
    problems: list[str] = field(default_factory=list)
    # Data rows, when known without a second pass (JSON, or a file within the first chunk).
    rows: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def detect_kind(columns: list[str]) -> str:
    keys = {header_key(c) for c in columns}
    return "scored" if keys >= SCORED_KIND_MARKERS else "raw"


def inspect_file(
    path: Path,
    filename: str | None = None,
    kind: str | None = None,
    records: list[Any] | None = None,
) -> FileInspection:
    """Check that a file can be ingested at all; raise FileRejected listing every problem.

    ``records``: the listing records of this JSON file as the caller parsed them from the same
    bytes (the API parses a JSON body before landing it; a 14 MB body took 0.1 s to parse
    again here). Used for a UTF-8 file only, the one encoding that parser reads, so they are
    what ``load_json`` would find."""
    fmt = detect_format(path, filename)
    rows: int | None = None
    try:
        if fmt.kind == "json":
            if records is None or fmt.encoding != "utf-8":
                records = load_json(path, fmt)
            rows = len(records)
            first = next(iter(records_to_frames(records, FIRST_CHUNK_ROWS)))
        else:
            chunks = iter_raw_chunks(path, chunk_rows=FIRST_CHUNK_ROWS, filename=filename)
            first = next(iter(chunks), None)
            if first is not None and len(first) < FIRST_CHUNK_ROWS:
                rows = len(first)
    except UnicodeError as exc:
        raise FileRejected([f"the file cannot be decoded: {exc}"]) from exc
    columns = (
        [c for c in first.columns if c not in (INDEX_COLUMN, ERROR_COLUMN)]
        if first is not None
        else []
    )
    problems: list[str] = []
    resolved = kind or detect_kind(columns)
    if first is None or (not columns and len(first) == 0):
        problems.append("the file has no header and no data rows")
    else:
        if resolved in ("raw", "scored"):
            problems.extend(missing_required(columns, resolved))
        if len(first) == 0:
            problems.append("the file has a header but no data rows")
    if kind not in (None, "raw", "scored"):
        problems.append(f"kind must be 'raw' or 'scored', not {kind!r}")
    if problems:
        raise FileRejected(problems)
    return FileInspection(
        format=fmt.kind,
        encoding=fmt.encoding,
        delimiter=fmt.delimiter if fmt.kind == "csv" else None,
        columns=columns,
        kind=resolved,
        first_chunk_rows=len(first) if first is not None else 0,
        rows=rows,
    )
