"""Title analysis shared with helper processes (``TitleHelpers``): the same match columns as
analysing every title here, with real spawned processes doing part of the work."""

from __future__ import annotations

import os
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from glyph_assets.sieve.clean import clean
from glyph_assets.sieve.listing_key import listing_keys
from glyph_assets.sieve.normalize import new_titles, normalize
from glyph_assets.sieve.pipeline import _KeysBeside, read_chunks
from glyph_assets.sieve.registry import clear_registry_cache
from glyph_assets.sieve.title_helpers import TitleHelpers
from glyph_assets.tooling.bench.datagen import title_pool


def _cleaned(tmp_path: Path) -> pd.DataFrame:
    titles = [t for t, _, _ in title_pool(2_500, np.random.default_rng(5))]
    rows = pd.DataFrame({"title": titles + titles[:700] + ["", "Lot of 2 RTX 3090 24GB"]})
    rows["price"] = "$450.00"
    path = tmp_path / "titles.csv"
    rows.to_csv(path, index=False)
    return clean(next(read_chunks(path, path.name, 10_000)))


def test_titles_analysed_by_helpers_match_those_analysed_here(tmp_path: Path) -> None:
    cleaned = _cleaned(tmp_path)
    clear_registry_cache()  # a fresh registry: a fresh title cache, every title new
    alone = normalize(cleaned)
    clear_registry_cache()
    with closing(TitleHelpers(1, batch=50, least=1)) as helpers:
        helpers.start()
        offer = helpers.offer(new_titles(cleaned))
        offer.offered[0][0].result()  # the helper has had the first batch, whatever the load
        helpers.settle(offer)
        shared = normalize(cleaned)
    assert helpers.offloaded > 0  # the helper analysed some of them
    assert alone["canonical_model"].notna().sum() > 1_000
    pd.testing.assert_frame_equal(alone, shared)


def test_few_new_titles_never_start_a_helper(tmp_path: Path) -> None:
    cleaned = _cleaned(tmp_path)
    clear_registry_cache()
    with closing(TitleHelpers(1)) as helpers:  # 2,500 titles: fewer than MIN_NEW_TITLES
        normalize(cleaned.iloc[:1_000], analyse_new=helpers.analyse)
        assert helpers._pool is None and helpers.offloaded == 0


def test_a_helper_that_fails_hands_its_titles_back(tmp_path: Path) -> None:
    """A helper that cannot work (here: one that dies on its first batch) costs the run
    nothing but time: its titles are analysed here, and no more batches are offered."""
    cleaned = _cleaned(tmp_path)
    clear_registry_cache()
    alone = normalize(cleaned)
    clear_registry_cache()
    with closing(TitleHelpers(1, batch=50, least=1)) as helpers:
        helpers.start()
        helpers._pool.submit(os._exit, 3)  # the helper process dies
        shared = normalize(cleaned, analyse_new=helpers.analyse)
        assert helpers.helpers == 0 and helpers._pool is None
    pd.testing.assert_frame_equal(alone, shared)


def test_titles_offered_ahead_are_settled_as_analysed_here(tmp_path: Path) -> None:
    """The pipeline offers a chunk's new titles before it matches the chunk before: offers
    return at once, a title already offered is not offered again, and once each offer is
    settled the chunks match as if every title had been analysed here."""
    cleaned = _cleaned(tmp_path)
    first, second = cleaned.iloc[:1_800], cleaned.iloc[1_500:].reset_index(drop=True)
    clear_registry_cache()
    alone = [normalize(first), normalize(second)]
    clear_registry_cache()
    with closing(TitleHelpers(1, batch=50, least=1)) as helpers:
        helpers.start()
        ahead = helpers.offer(new_titles(first))
        behind = helpers.offer(new_titles(second))
        assert ahead.offered and not set(ahead.titles) & set(behind.titles)
        assert set(new_titles(second)) - set(ahead.titles) == set(behind.titles)
        ahead.offered[0][0].result()  # the helper has had the first batch, whatever the load
        helpers.settle(ahead)
        matched_first = normalize(first)
        helpers.settle(behind)
        matched_second = normalize(second)
        assert not helpers._offered and helpers.offloaded > 0
    pd.testing.assert_frame_equal(alone[0], matched_first)
    pd.testing.assert_frame_equal(alone[1], matched_second)
    clear_registry_cache()
    assert len(new_titles(first)) == len(ahead.titles)  # a fresh cache: every title new again


def test_tasks_beside_the_titles_are_bounded_and_refused_without_helpers() -> None:
    """``beside`` runs a task in a running helper, at most ``most`` at a time; without a
    running helper (none asked for, or not started) the caller is told to run it itself."""
    assert TitleHelpers(0).beside(pow, 2, 3) is None
    with closing(TitleHelpers(1)) as helpers:
        assert helpers.beside(pow, 2, 3) is None  # not started: a small file
        helpers.start()
        first = helpers.beside(time.sleep, 1.0, most=1)
        assert first is not None
        assert helpers.beside(pow, 2, 3, most=1) is None  # one still running
        first.result()
        job = helpers.beside(pow, 2, 3, most=1)
        assert job is not None and job.result() == 8


def test_listing_keys_a_helper_failed_to_make_are_made_here(tmp_path: Path) -> None:
    """A chunk whose keys job failed gets the same keys, made from its own columns."""
    cleaned = _cleaned(tmp_path)
    matched = normalize(cleaned)
    matched["source_url"] = [f"https://shop.example/p/{i % 900}" for i in range(len(matched))]
    chunk = pa.Table.from_pandas(matched, preserve_index=False)
    failed: Future[str] = Future()
    failed.set_exception(BrokenProcessPool("the helper died"))
    made_here = _KeysBeside(failed, "sheet.csv").keys(chunk)
    expected = listing_keys(matched, "sheet.csv")
    assert made_here.to_pylist() == expected.tolist()
    assert len(set(expected)) > 800  # shared URLs (search pages) qualified by their titles


def test_released_helpers_finish_the_tasks_they_were_given() -> None:
    """``release`` does not wait for the helpers, nor drop what they hold: a task handed out
    before still gives its result, and nothing more is handed out."""
    with closing(TitleHelpers(1)) as helpers:
        helpers.start()
        slow = helpers.beside(time.sleep, 2.0)
        job = helpers.beside(pow, 2, 10)
        assert slow is not None and job is not None
        helpers.release()
        assert not slow.done()  # release did not wait for the sleeping helper
        assert not helpers.running
        assert helpers.beside(pow, 2, 3) is None
        assert job.result(timeout=30) == 1024
        assert slow.result(timeout=30) is None


def test_closing_released_helpers_waits_for_their_tasks_beside() -> None:
    """A task beside may write into a directory its caller removes after ``close``: close
    cancels those not started and waits for the running one, released or not."""
    helpers = TitleHelpers(1)
    helpers.start()
    running = helpers.beside(time.sleep, 1.0)
    waiting = helpers.beside(time.sleep, 1.0)
    assert running is not None and waiting is not None
    helpers.release()
    helpers.close()
    assert running.done() and waiting.done()
