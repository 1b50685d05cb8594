"""``CsvSink`` renders each table in slices on several threads: the file must be byte for byte
what Arrow's own ``CSVWriter`` writes, one table after another."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from glyph_assets.offline import CsvSink

COLUMNS = ["n", "title", "price", "flag", "empty"]


def _table(start: int, rows: int) -> pa.Table:
    return pa.table(
        {
            "n": pa.array(range(start, start + rows), pa.int64()),
            "title": [f'RTX "{i}", 24GB\n{"é" * (i % 3)}' if i % 4 else None for i in range(rows)],
            "price": [i / 7 if i % 5 else None for i in range(rows)],
            "flag": [bool(i % 2) if i % 3 else None for i in range(rows)],
            "empty": pa.nulls(rows),  # no value in the first table: written as text
        }
    )


def _arrow_writer(path: Path, tables: list[pa.Table]) -> bytes:
    first = tables[0].schema
    schema = pa.schema([pa.field(f.name, pa.string()) if f.name == "empty" else f for f in first])
    with pacsv.CSVWriter(path, schema) as writer:
        for table in tables:
            writer.write_table(table.cast(schema))
    return path.read_bytes()


@pytest.mark.parametrize("pieces", [1, 2, 3, 7])
def test_the_file_is_what_arrows_csv_writer_writes(tmp_path: Path, pieces: int) -> None:
    tables = [_table(0, 10), _table(10, 0), _table(10, 1), _table(11, 997), _table(1008, 5)]
    sink = CsvSink(tmp_path / "out.csv", COLUMNS, pieces=pieces)
    for table in tables:
        sink.write(table)
    sink.close()
    assert sink.rows == 1013
    assert (tmp_path / "out.csv").read_bytes() == _arrow_writer(tmp_path / "arrow.csv", tables)


def test_a_sink_without_tables_writes_its_header(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path / "out.csv", COLUMNS)
    sink.close()
    assert (tmp_path / "out.csv").read_text() == '"n","title","price","flag","empty"\n'


def test_a_table_csv_cannot_hold_is_refused_and_the_file_keeps_its_header(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path / "out.csv", ["n"])
    with pytest.raises(pa.ArrowInvalid):
        sink.write(pa.table({"n": pa.array([[1]], pa.list_(pa.int64()))}))
    sink.close()
    assert (tmp_path / "out.csv").read_text() == '"n"\n'
