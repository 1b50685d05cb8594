"""What changed between two imports of listings, computed once from both imports' rows.

The rules are those of ``store/changes.py``'s on-demand comparison, written for a whole pair at
once: a listing is followed by its ``listing_key``; within one import the first row of a key
(lowest ``import_index``) stands for it and its other rows, like rows without a key, belong to
no kind; a listing is repriced when its price or its currency differs (NULL equals NULL).

What is kept of the comparison is what the API's pages need to find a page without comparing
again: the per-model counts, and each kind's *runs*, the stretches of consecutive rows of the
import that lists that kind (the other import for ``gone``) that are all of that kind. A page
at offset N of a kind starts in the run whose ``members_before`` covers N; a million unchanged
listings with a few thousand changes make a few thousand runs, not a million rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

CHANGES = ("new", "gone", "repriced", "unchanged")
# The columns each import's rows are read with.
DIFF_INPUT_COLUMNS = ["import_index", "listing_key", "canonical_model", "price", "currency"]
RUN_COLUMNS = ["change", "first_index", "last_index", "members_before", "members"]
_NONE = -1  # a row of no kind: no key, or a key's later row


@dataclass
class Comparison:
    """The per-model counts (most changes first) and every kind's runs (``RUN_COLUMNS``)."""

    by_model: list[dict[str, Any]]
    runs: pd.DataFrame

    def totals(self) -> dict[str, int]:
        return {k: sum(m[k] for m in self.by_model) for k in CHANGES}


def _firsts(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by import_index, with ``first`` marking those that stand for their key
    (``key``: the listing_key's code, -1 for none)."""
    ordered = rows.sort_values("import_index", kind="mergesort").reset_index(drop=True)
    ordered["first"] = (ordered["key"] >= 0) & ~ordered["key"].duplicated()
    return ordered


def _same(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Equal, or both missing (SQL's IS NOT DISTINCT FROM)."""
    missing_left, missing_right = left.isna().to_numpy(), right.isna().to_numpy()
    equal = (left == right).fillna(False).to_numpy(dtype=bool)
    return (missing_left & missing_right) | (equal & ~missing_left & ~missing_right)


def _runs(kinds: np.ndarray, positions: np.ndarray, wanted: tuple[int, ...]) -> pd.DataFrame:
    """Maximal stretches of equal kind in row order, for the kinds in ``wanted``."""
    if not len(kinds):
        return pd.DataFrame(columns=RUN_COLUMNS)
    starts = np.flatnonzero(np.concatenate([[True], kinds[1:] != kinds[:-1]]))
    ends = np.concatenate([starts[1:], [len(kinds)]]) - 1
    frame = pd.DataFrame(
        {
            "kind": kinds[starts],
            "first_index": positions[starts],
            "last_index": positions[ends],
            "members": ends - starts + 1,
        }
    )
    frame = frame.loc[frame["kind"].isin(wanted)].copy()
    frame["members_before"] = frame.groupby("kind")["members"].cumsum() - frame["members"]
    frame["change"] = [CHANGES[k] for k in frame["kind"]]
    return frame[RUN_COLUMNS]


def compare_imports(this: pd.DataFrame, other: pd.DataFrame | None) -> Comparison:
    """Compare ``this`` import's rows with ``other``'s (``DIFF_INPUT_COLUMNS``; None: no import
    before, every listing is new). Keys are compared as integer codes of both imports' keys
    together: a million-row pair then merges integers, not strings."""
    other = other if other is not None else this.iloc[0:0]
    keys = pd.concat([this["listing_key"], other["listing_key"]], ignore_index=True)
    codes = pd.factorize(keys)[0]
    columns = [c for c in DIFF_INPUT_COLUMNS if c != "listing_key"]
    here = _firsts(this[columns].assign(key=codes[: len(this)]))
    there = _firsts(other[columns].assign(key=codes[len(this) :]))
    wanted = ["key", *columns]
    paired = here.loc[here["first"], wanted].merge(
        there.loc[there["first"], wanted], on="key", how="outer", suffixes=("", "_previous")
    )
    this_side = paired["import_index"].notna().to_numpy()
    other_side = paired["import_index_previous"].notna().to_numpy()
    same = _same(paired["price"], paired["price_previous"]) & _same(
        paired["currency"], paired["currency_previous"]
    )
    paired["kind"] = np.select(
        [~other_side, ~this_side, ~same],
        [CHANGES.index("new"), CHANGES.index("gone"), CHANGES.index("repriced")],
        CHANGES.index("unchanged"),
    )
    model = paired["canonical_model"].where(
        paired["canonical_model"].notna(), paired["canonical_model_previous"]
    )
    paired["model"] = model.fillna("UNKNOWN")
    counts = paired.groupby(["model", "kind"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=range(len(CHANGES)), fill_value=0)
    by_model = [
        {"canonical_model": str(name), **{c: int(row[i]) for i, c in enumerate(CHANGES)}}
        for name, row in counts.iterrows()
    ]
    by_model.sort(key=lambda m: (-(m["new"] + m["gone"] + m["repriced"]), m["canonical_model"]))
    runs = [
        _runs(_kinds_of(here, paired, "import_index"), _index(here), (0, 2, 3)),
        _runs(_kinds_of(there, paired, "import_index_previous"), _index(there), (1,)),
    ]
    nonempty = [r for r in runs if len(r)]
    if not nonempty:  # no listing with a key on either side (e.g. scored rows without URL)
        return Comparison(by_model, pd.DataFrame(columns=RUN_COLUMNS))
    return Comparison(by_model, pd.concat(nonempty, ignore_index=True))


def _index(rows: pd.DataFrame) -> np.ndarray:
    return rows["import_index"].to_numpy()


def _kinds_of(rows: pd.DataFrame, paired: pd.DataFrame, position: str) -> np.ndarray:
    """Each of an import's rows (in import_index order): the kind of the listing it stands for,
    ``_NONE`` for rows that stand for none."""
    known = paired.loc[paired[position].notna(), [position, "kind"]]
    kinds = pd.Series(known["kind"].to_numpy(), index=known[position].astype("int64").to_numpy())
    found = kinds.reindex(rows["import_index"].to_numpy()).to_numpy()
    out = np.where(rows["first"].to_numpy() & ~pd.isna(found), found, _NONE)
    return out.astype(np.int64)


__all__ = ["CHANGES", "DIFF_INPUT_COLUMNS", "RUN_COLUMNS", "Comparison", "compare_imports"]
