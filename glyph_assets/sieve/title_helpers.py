"""Title analysis on more than one core: helper processes analyse each chunk's new titles.

Analysing a distinct title (tokens, lexicon, the registry's candidates) is the largest single
cost of a raw upload: about 55 µs a title here, 60,000 distinct titles in a million scraped
rows. It is pure Python, so a thread cannot share it; a process can. Only titles cross: the
helper gets a batch of distinct title texts and answers their outcomes, which this process
caches as its own, so ``normalize`` then finds every title analysed and runs as before. The
output is the same as without helpers (each title's analysis depends on the title and the
registry alone).

The work is shared by stealing: batches are offered to the helpers (``offer``), and when this
process needs a chunk's titles (``settle``) it takes back from the end of the queue every batch
no helper has been handed, analysing it itself. Offered one chunk ahead, as ``glyph pipeline``
does, the titles are analysed while this process works on the rows of the chunk before. Until
the helpers are ready (a spawned interpreter, its imports and the registry's index: about a
second) ``analyse`` works alone, so a helper's start-up never makes it wait, and a chunk with
few new titles never involves a process at all. Other tasks of a chunk can be run ``beside``
the titles (the listing keys), a few at a time.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, TypeVar

from glyph_assets.sieve.normalize import TitleOutcome, analyse_titles, keep_titles

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Titles per batch: each costs the helper ~70 ms, enough that sending it is cheap beside it.
BATCH_TITLES = 500
# Fewer new titles than this in a chunk are analysed here (starting a helper costs more).
MIN_NEW_TITLES = 2_000


def _warm() -> None:
    """A helper's first task: the registry and its matching index, before titles arrive."""
    analyse_titles([])  # builds the default registry's index, loading the registry


@dataclass
class Offer:
    """New titles handed out by :meth:`TitleHelpers.offer`, until :meth:`TitleHelpers.settle`:
    the batches offered to the helpers, and the titles left to this process."""

    titles: list[str]
    offered: list[tuple[Future[list[TitleOutcome]], list[str]]] = field(default_factory=list)
    here: list[str] = field(default_factory=list)


class TitleHelpers:
    """``helpers`` processes that analyse new titles beside this one; 0 analyses them all here.

    Works on the default registry (the helpers load it as this process does). ``close`` stops
    the helpers (``contextlib.closing``)."""

    def __init__(self, helpers: int, batch: int = BATCH_TITLES, least: int = MIN_NEW_TITLES):
        self.helpers = helpers
        self.batch = batch
        self.least = least
        self.offloaded = 0  # titles the helpers analysed
        self._pool: ProcessPoolExecutor | None = None
        self._warming: list[Future[None]] = []
        self._offered: set[str] = set()  # offered and not settled yet
        self._beside: list[Future[Any]] = []  # tasks handed out by ``beside``

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

    @property
    def running(self) -> bool:
        """Have helpers been started (and not stopped)?"""
        return self.helpers > 0 and self._pool is not None

    def _ready(self) -> bool:
        """Have the helpers finished starting? (Never waits.) A batch handed to a helper still
        starting would keep this process waiting for its start-up, about a second."""
        return all(warming.done() for warming in self._warming)

    def analyse(self, titles: list[str]) -> None:
        """Analyse new titles (``normalize``'s ``analyse_new``), sharing them with the helpers
        when there are enough of them to pay; the outcomes are cached in this process."""
        self.settle(self.offer(titles, wait_ready=True))

    def offer(self, titles: list[str], wait_ready: bool = False) -> Offer:
        """Hand new titles to the helpers and return at once: :meth:`settle` later takes back
        what no helper has started and caches every outcome. Titles offered before and not
        settled yet are not offered again.

        ``wait_ready``: until the helpers are ready, this process analyses batches itself (from
        the end) first, as :meth:`analyse` does; without it, every batch is offered at once (a
        caller that settles a chunk later gives the helpers that time to start)."""
        titles = [t for t in titles if t not in self._offered]
        offer = Offer(titles)
        if self.helpers < 1 or len(titles) < self.least:
            offer.here = titles
            return offer
        pool = self._started()
        batches = [titles[i : i + self.batch] for i in range(0, len(titles), self.batch)]
        while wait_ready and batches and not self._ready():
            analyse_titles(batches.pop())
        for position, batch in enumerate(batches):
            try:
                offer.offered.append((pool.submit(analyse_titles, batch), batch))
            except BrokenProcessPool:  # a helper died before: no more offers
                self._give_up()
                offer.here = [t for rest in batches[position:] for t in rest]
                break
        self._offered.update(titles)
        return offer

    def settle(self, offer: Offer) -> None:
        """Cache the outcomes of an offer's titles. This process takes back from the end each
        batch no helper has been handed, and analyses it. The executor hands batches out first
        in, first out, so when one cannot be taken back, no earlier one can: none is analysed
        twice. A helper that fails (it died, or could not start) is given no more work: its
        batches are analysed here."""
        analyse_titles(offer.here)
        for future, batch in reversed(offer.offered):
            if not future.cancel():
                break  # handed to a helper, as is every earlier one
            analyse_titles(batch)
        for future, batch in offer.offered:
            if not future.cancelled():
                self._keep(future, batch)
        self._offered.difference_update(offer.titles)

    def beside(self, task: Callable[..., T], *args: Any, most: int = 2) -> Future[T] | None:
        """Run ``task(*args)`` in a helper, behind the titles offered so far, if the helpers
        are running (started for a large file) and fewer than ``most`` such tasks are still
        waiting or running; None otherwise, or if they failed: the caller runs it itself. The
        bound keeps what waits for a busy helper (its arguments, in this process) to a few
        tasks, whatever the file's size."""
        if not self.running:
            return None
        self._beside = [job for job in self._beside if not job.done()]
        if len(self._beside) >= most:
            return None
        try:
            job = self._pool.submit(task, *args)
        except (BrokenProcessPool, RuntimeError):  # died, or shut down
            self._give_up()
            return None
        self._beside.append(job)
        return job

    def _keep(self, future: Future[list[TitleOutcome]], batch: list[str]) -> None:
        try:
            outcomes = future.result()
        except Exception:  # noqa: BLE001 - a helper's failure must not fail the run
            self._give_up()
            analyse_titles(batch)
            return
        keep_titles(batch, outcomes)
        self.offloaded += len(batch)

    def _give_up(self) -> None:
        if self.helpers:
            logger.warning("title helper failed; analysing every title in this process")
        self.helpers = 0
        self.close()

    def release(self) -> None:
        """No more work will be handed out: the helpers finish what they were given (tasks
        ``beside`` included, whose results stay readable) and exit, while this process goes
        on; a helper's exit takes a few tenths of a second that :meth:`close` would wait."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
            self._warming = []

    def close(self) -> None:
        """Stop the helpers (enough new titles later would start them again). Tasks handed out
        ``beside`` and not started are cancelled, and running ones waited for, released helpers'
        too: such a task writes where its caller is about to clean up."""
        for job in self._beside:
            job.cancel()
        wait(self._beside)
        self._beside = []
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
            self._warming = []


__all__ = ["BATCH_TITLES", "MIN_NEW_TITLES", "Offer", "TitleHelpers"]
