"""The import diff on two big imports of one source (``GET /api/imports/{id}/diff``).

Two imports of ``rows`` listings each are written through ``replace_import_rows``: the second
is the first with 2 % of its listings gone, 2 % new ones (after the old rows) and 5 % repriced.
Then, on SQLite and (when reachable) PostgreSQL, each read the diff endpoint makes is timed,
beside the baseline of reading the two imports' rows (``store.market.listings_of``, the market
assets' read) in the same run: first compared on demand (a pair nobody recorded), then the
listing_changes asset's record_diff, then the reads of the recorded pair (the default one). The
counts and pages are checked against what was generated, so a fast wrong answer fails.

    python -m glyph_assets.tooling.bench.changes --rows 300000 --backend sqlite
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from glyph_assets.tooling.bench.runner import Figure
from glyph_assets.tooling.bench.storage import (
    DEFAULT_ADMIN_URL,
    _postgres_url,
    _sqlite_url,
    _unreachable,
    scored_frames,
)

GONE, NEW, REPRICED = 0.02, 0.02, 0.05


def _second(rows: int) -> Iterator[pd.DataFrame]:
    """The first import a day later: the first GONE share sold, every 20th listing 5 % cheaper,
    NEW share of listings added at the end."""
    gone = int(rows * GONE)
    for frame in scored_frames(rows):
        index = frame["import_index"].to_numpy()
        kept = frame.loc[index >= gone].copy()
        cut = kept["import_index"].to_numpy() % round(1 / REPRICED) == 0
        for column in ("price", "unit_price"):
            kept.loc[cut, column] = (kept.loc[cut, column] * 0.95).round(2)
        yield kept
    added = int(rows * NEW)
    for frame in scored_frames(added, seed=1):
        frame = frame.copy()
        frame["import_index"] = frame["import_index"] + rows
        frame["listing_key"] = [f"u-{i:020x}" for i in frame["import_index"]]
        yield frame


def expected_counts(rows: int) -> dict[str, int]:
    """What the diff must find (failed rows of the generator are row errors, not listings)."""
    failed = _failed(rows, 0)
    index = np.arange(rows)
    alive = index[~failed]
    gone = int((alive < int(rows * GONE)).sum())
    kept = alive[alive >= int(rows * GONE)]
    repriced = int((kept % round(1 / REPRICED) == 0).sum())
    new = int((~_failed(int(rows * NEW), 1)).sum())
    return {"new": new, "gone": gone, "repriced": repriced, "unchanged": len(kept) - repriced}


def _failed(rows: int, seed: int) -> np.ndarray:
    return np.concatenate(
        [f["error_stage"].notna().to_numpy() for f in scored_frames(rows, seed=seed)]
    )


def _timed(call: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """The best of ``repeat`` runs (the first warms the page cache) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - began)
    return best, result


def _measure(url: str, rows: int, label: str) -> list[Figure]:
    from glyph_assets.store import changes, market, repository
    from glyph_assets.store.db import migrate
    from glyph_assets.store.status import ImportStatus

    engine = migrate(url)
    ids = []
    for frames in (scored_frames(rows), _second(rows)):
        import_id = str(uuid.uuid4())
        repository.create_import(
            engine,
            import_id=import_id,
            source="bench-diff",
            sha256="0" * 64,
            size_bytes=0,
            kind="raw",
        )
        counts = repository.replace_import_rows(engine, import_id, frames)
        repository.finish_import(engine, import_id, ImportStatus.SUCCEEDED, counts=counts)
        ids.append(import_id)
    first, second = ids
    baseline, read = _timed(lambda: market.listings_of(engine, ids))
    wanted = expected_counts(rows)
    name = f"diff of two {rows:,}-row imports, {label}"
    base = {"baseline": baseline, "baseline_name": f"read both imports ({len(read):,} rows)"}
    # Before the listing_changes asset has run (or for a pair it did not record): compared now.
    compared_s, (counts, _) = _timed(lambda: changes.diff_summary(engine, second, first), 1)
    _check(label, "compared counts", counts, wanted)
    compared_page_s, _ = _timed(
        lambda: changes.diff_page(engine, second, first, "repriced", 50, 0, counts=counts), 1
    )
    record_s, _ = _timed(lambda: changes.record_diff(engine, second, first), repeat=1)
    # What GET /diff reads once the asset recorded the pair.
    model_s, (summed, _) = _timed(lambda: changes.diff_summary(engine, second, first))
    _check(label, "recorded per-model sums", summed, wanted)
    page_s, (_, total) = _timed(lambda: changes.diff_page(engine, second, first, "repriced", 50, 0))
    _check(label, "repriced in the page count", total, wanted["repriced"])
    middle = wanted["unchanged"] // 2
    deep_s, (deep, _) = _timed(
        lambda: changes.diff_page(engine, second, first, "unchanged", 50, middle)
    )
    mark = deep[0]["import_index"] - 1
    keyset_s, (keyed, _) = _timed(
        lambda: changes.diff_page(engine, second, first, "unchanged", 50, 0, after_index=mark)
    )
    _check(
        label, "keyset page", [r["listing_key"] for r in keyed], [r["listing_key"] for r in deep]
    )
    new_s, (added, _) = _timed(lambda: changes.diff_page(engine, second, first, "new", 50, 0))
    _check(label, "new listings on the first page", len(added), min(50, wanted["new"]))
    endpoint = model_s + page_s  # what the route runs: the summary, then one page
    engine.dispose()
    compared = f"{name}, compared on demand (a pair the asset did not record)"
    ms = {"baseline": baseline * 1000, "baseline_name": base["baseline_name"]}
    return [
        Figure(f"{compared}: counts and per-model summary", compared_s, "s", **base),
        Figure(f"{compared}: first page of repriced", compared_page_s, "s", **base),
        Figure(f"{name}: listing_changes asset (record_diff)", record_s, "s", **base),
        Figure(f"{name}: counts and per-model summary (recorded)", model_s * 1000, "ms", **ms),
        Figure(f"{name}: first page of repriced", page_s * 1000, "ms", **ms),
        Figure(f"{name}: first page of new (all after the old rows)", new_s * 1000, "ms", **ms),
        Figure(f"{name}: a page in the middle of unchanged, by offset", deep_s * 1000, "ms", **ms),
        Figure(f"{name}: the same page by keyset (after_index)", keyset_s * 1000, "ms", **ms),
        Figure(
            f"{name}: GET /diff reads (summary + a page)",
            endpoint * 1000,
            "ms",
            target="< 0.05x",
            **ms,
        ),
    ]


def _check(label: str, what: str, found: Any, wanted: Any) -> None:
    """A fast wrong answer fails the bench."""
    if found != wanted:
        raise RuntimeError(f"{label}: {what} {found}, expected {wanted}")


def bench_changes(
    quick: bool = False,
    rows: int | None = None,
    backends: tuple[str, ...] = ("sqlite", "postgresql"),
) -> list[Figure]:
    """The diff's reads on SQLite and PostgreSQL, each beside reading both imports' rows."""
    rows = rows or (100_000 if quick else 1_000_000)
    figures: list[Figure] = []
    if "sqlite" in backends:
        with _sqlite_url() as url:
            figures += _measure(url, rows, "SQLite")
    if "postgresql" not in backends:
        return figures
    admin = os.environ.get("GLYPH_BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL)
    unreachable = _unreachable(admin)
    if unreachable:
        figures.append(Figure(f"diff on PostgreSQL: unavailable ({unreachable})", 0, ""))
        return figures
    with _postgres_url(admin) as url:
        figures += _measure(url, rows, "PostgreSQL")
    return figures


if __name__ == "__main__":
    import argparse

    from glyph_assets.tooling.bench.runner import print_table

    parser = argparse.ArgumentParser(description="glyph's import diff on two big imports, alone")
    parser.add_argument("--quick", action="store_true", help="100,000 rows an import")
    parser.add_argument("--rows", type=int, help="rows an import (default 1,000,000)")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql"), action="append", help="default: both"
    )
    args = parser.parse_args()
    chosen = tuple(args.backend or ("sqlite", "postgresql"))
    print_table(bench_changes(args.quick, args.rows, chosen), title="glyph diff benchmark")
