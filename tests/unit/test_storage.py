"""The landing zone and the staging Parquet through an fsspec URL that is not a plain path
(fsspec's in-memory filesystem, ``memory://``): the same functions a run uses, end to end from
an upload's bytes to the parts a stage stores and the prune that removes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from upath import UPath

from glyph_assets.imports import register_import
from glyph_assets.io_managers import ParquetParts, copy_parts, write_parts
from glyph_assets.landing import count_line_breaks, discard, land_stream, read_manifest
from glyph_assets.settings import Settings
from glyph_assets.sieve.pipeline import WriteBehind
from glyph_assets.staging import prune_staging, staged_parts
from glyph_assets.storage import is_plain, local_file, storage_path, tree_size
from tests.support.imports import listings_csv


@pytest.fixture
def root() -> Iterator[UPath]:
    """A fresh directory of the in-memory filesystem (shared by the process), removed after."""
    path = storage_path(f"memory://glyph-test-{uuid.uuid4().hex}")
    path.mkdir(parents=True, exist_ok=True)
    yield path
    path.fs.rm(path.path, recursive=True)


def _frames(rows: int, per_part: int) -> list[pd.DataFrame]:
    frame = pd.DataFrame(
        {"import_index": range(1, rows + 1), "title": [f"t{i}" for i in range(rows)]}
    )
    return [frame.iloc[i : i + per_part].reset_index(drop=True) for i in range(0, rows, per_part)]


def test_landing_round_trip_through_a_url(root: UPath) -> None:
    data = listings_csv(25)
    manifest = land_stream(
        [data[:100], data[100:]], root / "landing", filename="x.csv", content_type=None, source="t"
    )
    assert not is_plain(manifest.path)
    assert manifest.stored_as.startswith("memory://")
    assert manifest.path.read_bytes() == data
    assert manifest.size_bytes == len(data) and manifest.line_breaks == 26
    assert read_manifest(str(root / "landing"), manifest.import_id) == manifest
    with local_file(manifest.path) as local:  # what the sieve's readers get
        assert local.read_bytes() == data
    assert not local.exists()  # the temporary copy is gone

    with pytest.raises(FileExistsError):  # an import id is landed once
        land_stream(
            [b"x"],
            root / "landing",
            filename="y.csv",
            content_type=None,
            source="t",
            import_id=manifest.import_id,
        )
    discard(root / "landing", manifest.import_id)
    assert not (root / "landing" / manifest.import_id).exists()


def test_staging_parts_round_trip_and_prune_through_a_url(root: UPath) -> None:
    import_id = str(uuid.uuid4())
    staging = root / "staging"
    target = staging / "raw_listings" / import_id
    assert write_parts(_frames(10, 4), target) == (10, 3)
    assert write_parts(_frames(7, 4), target) == (7, 2)  # a rerun replaces, never appends
    parts = ParquetParts(target)
    assert [p.name for p in parts.part_files] == ["part-00000.parquet", "part-00001.parquet"]
    assert parts.num_rows == 7
    read = pd.concat(parts.iter_frames(arrow_strings=True), ignore_index=True)
    assert read["import_index"].tolist() == list(range(1, 8))
    assert [p.name for p in staging.iterdir()] == ["raw_listings"]  # no temporary directory left

    copied = staging / "normalized_listings" / import_id
    assert copy_parts(list(reversed(parts.part_files)), copied) == (7, 2)
    first = next(ParquetParts(copied).iter_frames())
    assert first["import_index"].tolist() == [5, 6, 7]  # the order given, not the names'

    assert [str(p) for p in staged_parts(str(staging), import_id)] == [str(copied), str(target)]
    size = tree_size(target) + tree_size(copied)
    done = prune_staging(staging, [import_id], lambda i: True)
    assert (done.pruned, done.directories, done.bytes) == ([import_id], 2, size)
    assert staged_parts(staging, import_id) == []


def test_register_import_lands_and_inspects_through_a_url(glyph_env: Settings, root: UPath) -> None:
    settings = glyph_env.model_copy(update={"landing_url": str(root / "landing")})
    registered = register_import([listings_csv(40)], filename="few.csv", settings=settings)
    assert registered.manifest.stored_as.startswith("memory://")
    assert registered.inspection.format == "csv"
    assert registered.estimated_rows == 40
    assert [p.name for p in settings.landing_dir.iterdir()] == [registered.import_id]


@pytest.mark.parametrize(
    ("text", "chunk", "breaks"),
    [
        (b"a,b\n1,2\n3,4\n", 4, 3),
        (b"a,b\r\n1,2\r\n3,4\r\n", 4, 3),  # Windows: one break per line, not two
        (b"a,b\r\n1,2\r\n3,4\r\n", 3, 3),  # a \r\n split across two chunks
        (b"a,b\r1,2\r3,4", 5, 2),  # old Mac: a lone \r ends a line
        (b"a,b\r\r\n\n", 2, 3),
    ],
)
def test_line_breaks_count_each_line_once(
    root: UPath, text: bytes, chunk: int, breaks: int
) -> None:
    pieces = [text[start : start + chunk] for start in range(0, len(text), chunk)]
    manifest = land_stream(
        pieces, root / "landing", filename="x.csv", content_type=None, source="t"
    )
    assert manifest.line_breaks == breaks
    assert count_line_breaks(text) == breaks  # the same, counted in one piece


def test_a_part_that_fails_to_write_fails_the_write_and_leaves_no_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts are encoded behind the stage (``WriteBehind``): a part that cannot be written
    still fails ``write_parts``, and the target is not swapped in half-written."""
    import pyarrow.parquet as pq

    real = pq.write_table
    written: list[object] = []

    def second_fails(table: object, where: object, **kwargs: object) -> None:
        written.append(where)
        if len(written) == 2:
            raise OSError("disk full")
        real(table, where, **kwargs)

    monkeypatch.setattr(pq, "write_table", second_fails)
    chunk = pd.DataFrame({"import_index": [1, 2], "title": ["a", "b"]})
    target = tmp_path / "stage" / "partition"
    with pytest.raises(OSError, match="disk full"):
        write_parts(iter([chunk, chunk, chunk]), target)
    assert not target.exists()
    assert len(written) == 2  # the third part was never started


def test_write_behind_raises_a_failed_write_at_the_next_submit_or_close() -> None:
    def fail() -> None:
        raise OSError("disk full")

    writer = WriteBehind()
    writer.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        writer.close()


def test_after_a_failed_write_every_later_write_is_refused() -> None:
    """A caller that goes on after the error must not get a file with a gap in it."""
    written: list[int] = []

    def fail() -> None:
        raise OSError("disk full")

    writer = WriteBehind()
    writer.submit(written.append, 1)
    writer.submit(fail)
    for attempt in range(3):
        with pytest.raises(OSError, match="disk full"):
            writer.submit(written.append, 2 + attempt)
    with pytest.raises(OSError, match="disk full"):
        writer.close()
    assert written == [1]
