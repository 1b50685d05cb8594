"""Title analysis on more than one core: helper processes analyse part of each chunk's new titles.

Analysing a distinct title (tokens, lexicon, the registry's candidates) is the largest single
cost of a raw upload: about 140 µs a title here, 60,000 distinct titles in a million scraped
rows. It is pure Python, so a thread cannot share it; a process can. Only titles cross: the
helper gets a batch of distinct title texts and answers their outcomes, which this process
caches as its own, so ``normalize`` then finds every title analysed and runs as before. The
output is the same as without helpers (each title's analysis depends on the title and the
registry alone).

The work is shared by stealing: every batch is offered to the helpers, and this process takes
back from the end of the queue every batch no helper has started, analysing it itself. A
helper still starting up (a spawned interpreter, its imports and the registry's index: about a
second) therefore costs nothing, and a chunk with few new titles never waits for a process.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from glyph_assets.sieve.normalize import TitleOutcome, analyse_titles, keep_titles
from glyph_assets.sieve.registry import load_registry

# Titles per batch: each costs the helper ~70 ms, enough that sending it is cheap beside it.
BATCH_TITLES = 500
# Fewer new titles than this in a chunk are analysed here (starting a helper costs more).
MIN_NEW_TITLES = 2_000


def _warm() -> None:
    """A helper's first task: the registry and its matching index, before titles arrive."""
    analyse_titles([])
    load_registry()


class TitleHelpers:
    """``helpers`` processes that analyse new titles beside this one; 0 analyses them all here.

    Works on the default registry (the helpers load it as this process does). A context
    manager: leaving it stops the helpers."""

    def __init__(self, helpers: int, batch: int = BATCH_TITLES, least: int = MIN_NEW_TITLES):
        self.helpers = helpers
        self.batch = batch
        self.least = least
        self.offloaded = 0  # titles the helpers analysed
        self._pool: ProcessPoolExecutor | None = None
        self._warming: list[Future[None]] = []

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: this process runs Arrow's threads, which do not survive a fork
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.helpers, mp_context=context)
            self._warming = [self._pool.submit(_warm) for _ in range(self.helpers)]
        return self._pool

    def launch(self) -> None:
        """Start the helpers now, without waiting (by default they start with the first chunk
        that has enough new titles, and take work once ready)."""
        if self.helpers > 0:
            self._started()

    def start(self) -> None:
        """Start the helpers and wait until they are ready."""
        self.launch()
        for warming in self._warming:
            warming.result()

    def analyse(self, titles: list[str]) -> None:
        """Analyse new titles (``normalize``'s ``analyse_new``), sharing them with the helpers
        when there are enough of them to pay; the outcomes are cached in this process."""
        if self.helpers < 1 or len(titles) < self.least:
            analyse_titles(titles)
            return
        pool = self._started()
        batches = [titles[i : i + self.batch] for i in range(0, len(titles), self.batch)]
        offered: list[Future[list[TitleOutcome]]] = [
            pool.submit(analyse_titles, batch) for batch in batches
        ]
        for future, batch in zip(reversed(offered), reversed(batches), strict=True):
            if not future.cancel():
                break  # a helper has this batch, and every earlier one
            analyse_titles(batch)
        for future, batch in zip(offered, batches, strict=True):
            if not future.cancelled():
                keep_titles(batch, future.result())
                self.offloaded += len(batch)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> TitleHelpers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["BATCH_TITLES", "MIN_NEW_TITLES", "TitleHelpers"]
