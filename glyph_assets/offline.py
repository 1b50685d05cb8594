"""``glyph pipeline``: the offline run's output files (listings CSV + row-errors CSV).

The files are written chunk by chunk as the stages finish them (Arrow's CSV writer), so memory
follows the chunk size, not the file. Arrow renders values its own way, deliberately: every text
value is quoted, a float is written in its shortest form (``24`` for 24.0), booleans as
``true``/``false`` and nulls as an empty field. Read back with ``pandas.read_csv`` (or any CSV
reader) the rows and values are those of the stages' frames.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from glyph_assets.sieve.columns import ERROR_OUTPUT_COLUMNS, ERROR_OUTPUT_NAMES, SCORED_COLUMNS
from glyph_assets.sieve.pipeline import Stages, WriteBehind, read_chunks
from glyph_assets.sieve.title_helpers import TitleHelpers

# Rows per chunk: large enough that per-chunk costs vanish, small enough that a chunk's frames
# (each stage's, plus its Arrow copy for the writer) stay a few hundred MB.
OFFLINE_CHUNK_ROWS = 100_000
# Slices of a table rendered as CSV at once (see ``CsvSink``): the two cores' worth.
CSV_PIECES = 2
TOP_MODELS = 15
TOP_ERRORS = 10


@dataclass
class OfflineResult:
    rows: int
    listings: int
    errors: int
    errors_path: Path
    report: dict[str, dict[str, int]] = field(default_factory=dict)
    helpers: int = 0  # helper processes allowed to analyse new titles (large raw files)


def errors_path_for(output: Path) -> Path:
    return output.with_name(output.stem + ".errors.csv")


class CsvSink:
    """One output CSV written a table at a time, while the stages compute the next. The columns'
    Arrow types are fixed by the first table (a column with no value there is text) and later
    tables are cast to them, so the file has one rendering per column; a file that gets no table
    still gets its header.

    Rendering CSV is the writer's largest cost (about 0.15 s for 100,000 scored rows here: every
    float is formatted), and in the score's pass it is what the run waits for. Arrow renders
    without the GIL, so each table is rendered in ``pieces`` slices at once on as many threads,
    and the rendered bytes are appended in order, behind (``WriteBehind``): the bytes are those
    of Arrow's ``CSVWriter``, one table after another."""

    def __init__(self, path: Path, columns: list[str], pieces: int = CSV_PIECES) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0
        self.pieces = pieces
        self._file: BinaryIO | None = None
        self._schema: pa.Schema | None = None
        self._render = ThreadPoolExecutor(max_workers=pieces, thread_name_prefix="csv-render")
        self._behind = WriteBehind()

    def _open(self, schema: pa.Schema) -> BinaryIO:
        header = _rendered(schema.empty_table(), header=True)  # a type CSV cannot hold: raises
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._file.write(header)
        self._schema = schema
        return self._file

    def write(self, table: pa.Table) -> None:
        table = table.select(self.columns)
        if self._file is None or self._schema is None:
            schema = pa.schema(
                [
                    pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                    for f in table.schema
                ]
            )
            self._open(schema)
        table = table.cast(self._schema)
        size = -(-table.num_rows // self.pieces) or 1
        rendering = [
            self._render.submit(_rendered, table.slice(start, size))
            for start in range(0, table.num_rows, size)
        ]
        self._behind.submit(_append, self._file, rendering)
        self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file (``contextlib.closing`` calls it); a sink that got no table writes
        its header."""
        try:
            self._behind.close()
        finally:
            self._render.shutdown()
            if self._file is None:
                self._open(pa.schema([pa.field(c, pa.string()) for c in self.columns]))
            assert self._file is not None
            self._file.close()


def _rendered(table: pa.Table, header: bool = False) -> pa.Buffer:
    """A table as CSV bytes, as Arrow's ``CSVWriter`` writes it (the header only if asked)."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=header))
    return sink.getvalue()


def _append(file: BinaryIO, rendering: list[Future[pa.Buffer]]) -> None:
    for piece in rendering:
        file.write(piece.result())


@dataclass
class _Report:
    """The ``--report`` distributions, counted chunk by chunk."""

    match_type: Counter[str] = field(default_factory=Counter)
    reject_reason: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, good: pa.Table, errors: pa.Table) -> None:
        self.match_type.update(_counts(good.column("match_type"), "none"))
        self.reject_reason.update(_counts(good.column("reject_reason"), "(matched)"))
        self.models.update(_counts(good.column("canonical_model")))
        reasons = pc.utf8_slice_codeunits(pc.cast(errors.column("reason"), pa.string()), 0, 60)
        self.errors.update(_counts(reasons))

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "match_type": dict(self.match_type.most_common()),
            "reject_reason": dict(self.reject_reason.most_common()),
            "top models": dict(self.models.most_common(TOP_MODELS)),
            "row errors": dict(self.errors.most_common(TOP_ERRORS)),
        }


def _counts(values: pa.ChunkedArray, missing: str | None = None) -> dict[str, int]:
    """How often each value occurs, counted by Arrow; missing values as ``missing`` (None:
    not counted)."""
    values = pc.cast(values, pa.string())  # a chunk's all-null column is of Arrow's null type
    if missing is not None:
        values = pc.fill_null(values, missing)
    counted = pc.value_counts(values)
    pairs = zip(
        counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
    )
    # by value, so that equal counts keep one order (``most_common`` keeps the insertion order
    # among them, which would otherwise be the order Arrow happened to meet the values in)
    return {
        str(value): count
        for value, count in sorted(pairs, key=lambda pair: str(pair[0]))
        if value is not None
    }


def default_title_helpers() -> int:
    """One helper process where this process may use a second core (``glyph pipeline``'s
    default): the title analysis is the largest part of a scrape's run and is shared by
    stealing, so the helper never makes a run wait; on one core it would only compete with this
    process. The library's default is none: a helper is a spawned interpreter, which needs the
    calling script to guard its top level with ``if __name__ == "__main__"``."""
    return 1 if len(os.sched_getaffinity(0)) > 1 else 0


def write_offline_outputs(
    input: Path,
    output: Path,
    kind: str | None = None,
    chunk_rows: int = OFFLINE_CHUNK_ROWS,
    helpers: int = 0,
) -> OfflineResult:
    """Run every stage on ``input``, writing listings to ``output`` and row errors beside it.

    ``helpers``: processes that share the analysis of new titles (:class:`TitleHelpers`)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    errors_path = errors_path_for(output)
    report = _Report()
    stages = Stages(kind=kind)
    with (
        tempfile.TemporaryDirectory(prefix=".glyph-offline-", dir=output.parent) as spill,
        closing(CsvSink(output, SCORED_COLUMNS)) as listings,
        closing(CsvSink(errors_path, ERROR_OUTPUT_COLUMNS)) as errors,
    ):
        raw = read_chunks(input, input.name, chunk_rows)
        chunks = stages.stream(raw, Path(spill), TitleHelpers(helpers))
        names = None
        for chunk in chunks:
            names = names or [ERROR_OUTPUT_NAMES.get(name, name) for name in chunk.column_names]
            failed = pc.is_valid(chunk.column("error_stage"))
            if pc.any(failed).as_py():
                good, bad = chunk.filter(pc.invert(failed)), chunk.filter(failed)
            else:  # the usual chunk: every row a listing, nothing to copy out
                good, bad = chunk, chunk.slice(0, 0)
            bad = bad.rename_columns(names)
            listings.write(good)
            errors.write(bad)
            report.add(good, bad)
    return OfflineResult(
        rows=listings.rows + errors.rows,
        listings=listings.rows,
        errors=errors.rows,
        errors_path=errors_path,
        report=report.as_dict(),
        helpers=helpers,
    )


__all__ = ["CsvSink", "OfflineResult", "default_title_helpers", "write_offline_outputs"]
