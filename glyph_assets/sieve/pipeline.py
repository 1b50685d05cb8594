"""The stage sequence, chunk by chunk: the one runner behind the Dagster assets, ``glyph pipeline``
and the API's dry run (``POST /api/imports/validate``).

read -> normalize (clean + match) -> enrich -> score. The assets call the stages one at a time,
each on the chunks its upstream asset stored, so each stage keeps its own materialization;
:meth:`Stages.run` chains the same calls in memory for the two callers that persist nothing. Both
read the file through :func:`read_chunks`, so a dry run sees the rows exactly as a run does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.ipc  # noqa: F401 (pa.ipc)

from glyph_assets.sieve.clean import DEFAULT_MAX_FIELD_CHARS, clean
from glyph_assets.sieve.columns import (
    CLIENT_COLUMNS,
    ENRICHED_COLUMNS,
    ERROR_COLUMNS,
    NORMALIZED_COLUMNS,
    SCORE_COLUMNS,
    SCORED_COLUMNS,
    in_order,
)
from glyph_assets.sieve.enrich import enrich, fill_specs
from glyph_assets.sieve.inspect import detect_kind
from glyph_assets.sieve.listing_key import KEY_INPUTS, listing_keys
from glyph_assets.sieve.normalize import ChunkTitles, chunk_titles, new_titles, normalize
from glyph_assets.sieve.read import iter_raw_chunks
from glyph_assets.sieve.score import SCORE_INPUTS, ScoreConfig, market_reference, score
from glyph_assets.sieve.scored import ScoreScale, adopt_scored, normalize_scores
from glyph_assets.sieve.title_helpers import Offer, TitleHelpers

# An import's enriched chunks, read again for each of the score's passes: with at least the
# named columns (None: every column), so a pass that reads a few need not convert the wide rows.
ChunkSource = Callable[[list[str] | None], Iterable[pd.DataFrame]]

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 50_000
# A first chunk this long means a large file: title helpers are started before its titles.
EAGER_HELPER_ROWS = 50_000
INDEX_COLUMN = "import_index"


class WriteBehind:
    """Writes in a thread, one at a time and at most one waiting: Arrow's writers encode without
    the GIL, so a part or an output chunk is written on the other core while the stages compute
    the next chunk, and memory still follows the chunk size. A write's error surfaces at the
    next ``submit`` or at ``close``, and at every one after: a file that missed a write is not
    written on, with a gap in it."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind")
        self._pending: Future[Any] | None = None
        self._failed: BaseException | None = None

    def submit(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(write, *args, **kwargs)

    def wait(self) -> None:
        """Until the last write is done (raising its error, or an earlier write's)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            try:
                pending.result()
            except BaseException as error:
                self._failed = error
        if self._failed is not None:
            raise self._failed

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown()


def arrow_text_types(arrow_type: pa.DataType) -> Any:
    """``types_mapper`` keeping stored Arrow text as Arrow-backed pandas strings. pandas writes its
    Arrow strings as ``large_string``; without this they come back as Python objects."""
    if arrow_type in (pa.string(), pa.large_string()):
        return pd.StringDtype("pyarrow")
    return None


def read_chunks(
    path: Path, filename: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The file's data rows as chunks, text as Arrow-backed strings (an object column costs a
    Python string per cell; the stages and the stored parts both take Arrow text)."""
    for chunk in iter_raw_chunks(path, chunk_rows=chunk_rows, filename=filename):
        yield chunk.astype({c: "string[pyarrow]" for c in chunk.columns if c != INDEX_COLUMN})


@dataclass
class Stages:
    """The stages for one import: its kind (``raw`` or ``scored``; None: detected from the first
    chunk's columns), field limit, source label (for rows without URL), score settings."""

    kind: str | None = "raw"
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS
    source: str = ""
    config: ScoreConfig | None = None
    score_scale: str | None = None
    on_scale: Callable[[ScoreScale], None] | None = None

    @property
    def resolved_kind(self) -> str:
        return self.kind or "raw"

    def normalize(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Raw strings -> cleaned and matched rows (scored uploads keep their own match
        columns), each with its ``listing_key``."""
        if self.kind is None:
            self.kind = detect_kind([str(c) for c in raw.columns])
        if self.kind == "scored":
            out = adopt_scored(raw, max_field_chars=self.max_field_chars)
            return self._keyed(out)
        return self._keyed(normalize(clean(raw, max_field_chars=self.max_field_chars)))

    def _keyed(self, matched: pd.DataFrame, here: bool = True) -> pd.DataFrame:
        """A matched chunk with its ``listing_key`` (null if not made ``here``: a helper makes
        it), in the normalized columns' order."""
        matched["listing_key"] = listing_keys(matched, self.source) if here else None
        columns = SCORED_COLUMNS if self.kind == "scored" else NORMALIZED_COLUMNS
        return in_order(matched, columns + ERROR_COLUMNS)

    def _normalized_ahead(
        self, raw_chunks: Iterable[pd.DataFrame], titles: TitleHelpers, spill: Path
    ) -> Iterator[tuple[pd.DataFrame, _KeysBeside | None]]:
        """``normalize`` of each chunk, one chunk ahead for the helpers: a raw upload's chunk
        is cleaned and its new titles offered to the helpers before the chunk before it is
        matched, so the helpers analyse them while this process works on rows (on its own, it
        would wait for the analysis, or share it, at every chunk). Where the helpers run, they
        also make each chunk's listing keys (:class:`_KeysBeside`; the chunk's own are null
        until then)."""
        waiting: tuple[pd.DataFrame, ChunkTitles, Offer] | None = None
        for position, raw in enumerate(raw_chunks):
            if self.kind is None:
                self.kind = detect_kind([str(c) for c in raw.columns])
            if self.kind != "raw":
                yield self.normalize(raw), None
                continue
            if position == 0 and len(raw) >= EAGER_HELPER_ROWS:
                titles.launch()  # a large file: helpers start while this chunk is cleaned
            cleaned = clean(raw, max_field_chars=self.max_field_chars)
            del raw  # cleaned: not held while the chunk before is matched
            factorized = chunk_titles(cleaned)
            offer = titles.offer(new_titles(factorized))
            if waiting is not None:
                yield self._matched(*waiting, titles, spill / f"keys-{position - 1:05d}.arrow")
            waiting = (cleaned, factorized, offer)
        if waiting is not None:
            yield self._matched(*waiting, titles, spill / f"keys-{position:05d}.arrow")

    def _matched(
        self,
        cleaned: pd.DataFrame,
        factorized: ChunkTitles,
        offer: Offer,
        titles: TitleHelpers,
        keys: Path,
    ) -> tuple[pd.DataFrame, _KeysBeside | None]:
        titles.settle(offer)
        matched = normalize(cleaned, titles=factorized)
        job = None
        if titles.running:  # the key columns cross to a helper only if one can take them
            inputs = pa.Table.from_pandas(in_order(matched, KEY_INPUTS), preserve_index=False)
            job = titles.beside(_write_keys, inputs, self.source, str(keys))
        if job is None:
            return self._keyed(matched), None
        return self._keyed(matched, here=False), _KeysBeside(job, self.source)

    def enrich(self, normalized: pd.DataFrame) -> pd.DataFrame:
        """Registry specs for matched rows; scored rows keep theirs and get only what they lack."""
        if self.kind == "scored":
            return in_order(fill_specs(normalized), SCORED_COLUMNS + ERROR_COLUMNS)
        return in_order(enrich(normalized), ENRICHED_COLUMNS + ERROR_COLUMNS)

    def score(self, make_chunks: ChunkSource) -> Iterator[pd.DataFrame]:
        """Two passes over the enriched chunks: the import's per-model market first, then each
        chunk scored against it. Scored uploads keep the client's score; the first pass decides
        its scale instead (reported to ``on_scale``)."""
        if self.kind == "scored":
            for chunk in normalize_scores(make_chunks, self.score_scale, self.on_scale):
                yield in_order(chunk, SCORED_COLUMNS + ERROR_COLUMNS)
            return
        for scored in self.scores(make_chunks):
            yield in_order(scored, SCORED_COLUMNS + ERROR_COLUMNS)

    def scores(
        self, make_chunks: ChunkSource, columns: list[str] | None = None
    ) -> Iterator[pd.DataFrame]:
        """glyph's own score of raw uploads: the import's market over every chunk (its
        ``SCORE_INPUTS``), then each chunk (its ``columns``; None: all) scored against it."""
        reference = market_reference(make_chunks(SCORE_INPUTS))
        for chunk in make_chunks(columns):
            yield score(chunk, config=self.config, reference=reference)

    def enrich_all(self, raw_chunks: Iterable[pd.DataFrame]) -> list[pd.DataFrame]:
        """Normalize and enrich every chunk, kept in memory for the score's two passes (the
        assets re-read their stored parts instead)."""
        return [self.enrich(self.normalize(raw)) for raw in raw_chunks]

    def run(self, raw_chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Every stage in memory: scored chunks, one output row per input data row."""
        enriched = self.enrich_all(raw_chunks)
        yield from self.score(lambda _columns: enriched)

    def stream(
        self,
        raw_chunks: Iterable[pd.DataFrame],
        spill: Path,
        titles: TitleHelpers | None = None,
    ) -> Iterator[pa.Table]:
        """Every stage in memory bounded by the chunk size, not the file: scored chunks, in input
        order, as the Arrow tables the output files are written from.

        Each enriched chunk is kept under ``spill`` as an Arrow IPC part, uncompressed (about
        300 bytes a row of a scrape: several times the input, on disk until the caller removes
        ``spill``), written behind and read back memory-mapped. The score's two passes read
        back only the columns the score reads (``SCORE_INPUTS``), and the score's columns are
        added to the spilled table as it is: the wide rows are converted between pandas and
        Arrow once, not three times.

        ``titles`` (raw uploads): helper processes that share the analysis of new titles and
        make listing keys, started with a large file's first chunk and released once every
        chunk is enriched (they finish their last keys and exit while the score runs)."""
        parts: list[Path] = []
        keys: list[_KeysBeside | None] = []
        titles = titles or TitleHelpers(0)
        with closing(titles):
            with closing(WriteBehind()) as writer:
                for normalized, later in self._normalized_ahead(raw_chunks, titles, spill):
                    part = spill / f"part-{len(parts):05d}.arrow"
                    table = pa.Table.from_pandas(self.enrich(normalized), preserve_index=False)
                    del normalized  # not held while the next chunk is worked on
                    writer.submit(_write_part, table, part)
                    del table  # the writer holds it until it is written
                    parts.append(part)
                    keys.append(later)
            titles.release()  # every title and key job handed out: the score needs no helper
            if not parts:
                return
            yield from self._scored_parts(parts, keys)

    def _scored_parts(
        self, parts: list[Path], keys: list[_KeysBeside | None]
    ) -> Iterator[pa.Table]:
        """The spilled parts scored, each with its listing keys (made beside, where they were)."""

        def reread(columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
            for part in parts:
                table = _read_part(part)
                if columns is not None:
                    table = table.select([c for c in columns if c in table.column_names])
                yield table.to_pandas(types_mapper=arrow_text_types)

        if self.kind == "scored":
            for frame in self.score(reread):
                yield pa.Table.from_pandas(frame, preserve_index=False)
            return
        added = SCORE_COLUMNS + CLIENT_COLUMNS
        scored = self.scores(reread, SCORE_INPUTS)
        for part, frame, later in zip(parts, scored, keys, strict=True):
            columns = pa.Table.from_pandas(frame[added], preserve_index=False)
            table = _read_part(part)
            if later is not None:
                at = table.schema.get_field_index("listing_key")
                table = table.set_column(at, "listing_key", later.keys(table))
            for name in added:
                table = table.append_column(name, columns.column(name))
            yield table.select(SCORED_COLUMNS + ERROR_COLUMNS)


@dataclass
class _KeysBeside:
    """A chunk's listing keys, made by a helper process (:func:`_write_keys`) while this one
    goes on; made here from the chunk's own columns if the helper could not."""

    job: Future[str]
    source: str

    def keys(self, chunk: pa.Table) -> pa.Array | pa.ChunkedArray:
        try:
            return _read_part(Path(self.job.result())).column("listing_key")
        except Exception:  # noqa: BLE001 - a helper's failure must not fail the run
            logger.warning("listing keys not made by the helper; making them here")
            inputs = chunk.select(KEY_INPUTS).to_pandas(types_mapper=arrow_text_types)
            return _key_array(inputs, self.source)


def _key_array(inputs: pd.DataFrame, source: str) -> pa.Array:
    return pa.array(listing_keys(inputs, source).to_numpy(dtype=object), type=pa.string())


def _write_keys(inputs: pa.Table, source: str, path: str) -> str:
    """A helper's task: the listing keys of a chunk's ``KEY_INPUTS``, written to ``path``."""
    frame = inputs.to_pandas(types_mapper=arrow_text_types)
    _write_part(pa.table({"listing_key": _key_array(frame, source)}), Path(path))
    return path


def _write_part(table: pa.Table, path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as ipc:
        ipc.write_table(table)


def _read_part(path: Path) -> pa.Table:
    """A spilled part, memory-mapped: its buffers are the file's pages, read when used."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def run_offline(
    path: Path,
    filename: str | None = None,
    kind: str | None = None,
    config: ScoreConfig | None = None,
    chunk_rows: int = 200_000,
    score_scale: str | None = None,
) -> pd.DataFrame:
    """Every stage on one file, no Dagster, no database: one output row per input data row."""
    stages = Stages(kind=kind, config=config, score_scale=score_scale)
    scored = list(stages.run(read_chunks(path, filename, chunk_rows)))
    if not scored:
        return pd.DataFrame(columns=SCORED_COLUMNS + ERROR_COLUMNS)
    return pd.concat(scored, ignore_index=True)


__all__ = ["ChunkSource", "Stages", "WriteBehind", "arrow_text_types", "read_chunks", "run_offline"]
