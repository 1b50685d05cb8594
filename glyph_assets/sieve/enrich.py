"""Enrich: join the registry's specs onto matched rows and flag what the title contradicts.

Specs come only from the registry (never from the title), so two listings of the same model
always carry the same facts. The title is still evidence: when it states a memory size or an
interface that disagrees with the model, the row keeps the model and gets a warning, because
the usual causes (modded cards, feed errors, SXM modules on PCIe adapters) are worth a look.

One exception: where the registry leaves ``vram_gb`` empty because one id covers several memory
variants (GT 730 2GB/4GB, Radeon HD 5450 512MB/1GB/2GB), the size the title states is the only
fact about that board, so it fills ``vram_gb``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from glyph_assets.sieve.columns import REGISTRY_SPECS, with_columns
from glyph_assets.sieve.normalize import Match, title_facts
from glyph_assets.sieve.registry import Registry, load_registry


def _gb(value: float) -> str:
    return f"{value:g}GB"


def _facts_by_model(registry: Registry) -> dict[str, tuple[float | None, str | None]]:
    specs = registry.specs
    return {
        str(model): (None if pd.isna(vram) else float(vram), form)
        for model, vram, form in zip(
            specs.index, specs["vram_gb"], specs["form_factor"], strict=True
        )
    }


def _spec_table(registry: Registry) -> pd.DataFrame:
    """The registry's ``REGISTRY_SPECS`` as rows take them: missing text as None, never NaN.
    A last row of missing values, in each column's dtype, is for rows without a known model."""
    specs = registry.specs[REGISTRY_SPECS].reindex([*registry.specs.index, None])
    for column in REGISTRY_SPECS:
        if specs[column].dtype == object:
            specs[column] = specs[column].astype(object).where(specs[column].notna(), None)
    return specs


_SPECS = ("enrich.specs", _spec_table)


def title_warnings(title: str, model: str, registry: Registry) -> list[str]:
    """What the title says that the registry entry for ``model`` contradicts."""
    return _warnings(title_facts(title, registry=registry), model, registry.memo(*_FACTS))


_FACTS = ("enrich.facts", _facts_by_model)


def _warnings(
    facts: Match, model: str, by_model: dict[str, tuple[float | None, str | None]]
) -> list[str]:
    found: list[str] = []
    vram, form = by_model.get(model, (None, None))
    stated = facts.title_vram_gb
    if stated is not None and vram is not None and abs(stated - vram) > 0.5:
        found.append(f"title says {_gb(stated)}, {model} has {_gb(vram)}")
    if "PCIE" in (facts.title_interface or "").split(",") and form == "SXM":
        found.append(f"title says PCIe, {model} is an SXM module (adapter or mislabel)")
    return found


def _title_model_pairs(
    frame: pd.DataFrame, rows: np.ndarray, models: np.ndarray
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The distinct (title, model) pairs of ``rows`` in first-seen order, and each row's pair
    number; a missing title is "". Factorized in C on the title column as it is (Arrow text):
    making a Python string of every row's title first and grouping those took 1 s of a
    1,000,000-row file here."""
    if "title" in frame:
        titles = frame["title"].iloc[rows]
        if not isinstance(titles.dtype, pd.StringDtype):  # objects, categories: as text first
            titles = titles.astype(object).fillna("").astype(str)
        title_codes, distinct = pd.factorize(titles.fillna(""))
        title_texts = np.asarray(distinct, dtype=object)  # one conversion in C, not per value
    else:
        title_codes, title_texts = np.zeros(len(rows), dtype=np.intp), np.array([""], dtype=object)
    model_codes, model_names = pd.factorize(models)
    model_texts = np.array([str(name) for name in model_names], dtype=object)
    width = len(model_names)
    pair_codes, pairs = pd.factorize(title_codes.astype(np.int64) * width + model_codes)
    title_of, model_of = np.divmod(pairs, width)
    firsts = list(zip(title_texts[title_of].tolist(), model_texts[model_of].tolist(), strict=True))
    return pair_codes, firsts


# Each (title, model) pair's warnings and stated memory size, per registry and process: a
# scrape repeats its titles in every chunk, and what a pair yields never changes.
_PAIR_LIMIT = 500_000
_PAIRS = ("enrich.pairs", lambda registry: {})


def _pair_facts(
    pairs: list[tuple[str, str]], registry: Registry
) -> tuple[list[str | None], list[float | None]]:
    """For each (title, model) pair: its warning text (None: none) and the memory size its
    title states. A title's facts are looked up once, for both."""
    cache: dict[tuple[str, str], tuple[str | None, float | None]] = registry.memo(*_PAIRS)
    by_model = registry.memo(*_FACTS)
    texts: list[str | None] = []
    stated: list[float | None] = []
    for pair in pairs:
        hit = cache.get(pair)
        if hit is None:
            title, canonical = pair
            fact = title_facts(title, registry) if title else None
            if fact is None:
                hit = (None, None)
            else:
                hit = ("; ".join(_warnings(fact, canonical, by_model)) or None, fact.title_vram_gb)
            if len(cache) >= _PAIR_LIMIT:
                cache.clear()
            cache[pair] = hit
        texts.append(hit[0])
        stated.append(hit[1])
    return texts, stated


def enrich(normalized: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """Add SPEC_COLUMNS (registry specs and ``warnings``) to normalized rows.

    Rows without a canonical model, and row errors, get nulls. Title lookups and warnings are
    computed once per distinct (title, model) pair.
    """
    registry = registry or load_registry()
    n = len(normalized)
    if "canonical_model" in normalized:
        model = normalized["canonical_model"].astype(object)
    else:
        model = pd.Series(None, index=normalized.index, dtype=object)
    usable = model.notna()
    if "error_stage" in normalized:
        usable &= normalized["error_stage"].isna()
    known = (usable & model.isin(registry.specs.index)).to_numpy()
    # each distinct model's specs once (a few hundred), spread to the rows by the model's code;
    # code -1, a row without a known model, takes the table's last row (all missing)
    codes, models = pd.factorize(model.where(known, None))
    specs = registry.memo(*_SPECS)
    rows = np.append(specs.index.get_indexer(models), len(specs) - 1)[codes]
    added: dict[str, Any] = {column: specs[column].array.take(rows) for column in REGISTRY_SPECS}
    rows = np.flatnonzero(known)
    warnings = np.full(n, None, dtype=object)
    if len(rows):
        codes, firsts = _title_model_pairs(normalized, rows, model.iloc[rows].to_numpy())
        texts, stated = _pair_facts(firsts, registry)
        warnings[rows] = np.array(texts, dtype=object)[codes]
        vram = np.array(added["vram_gb"], dtype=float)
        if np.isnan(vram[rows]).any():
            from_title = np.array(stated, dtype=float)[codes]
            vram[rows] = np.where(np.isnan(vram[rows]), from_title, vram[rows])
            added["vram_gb"] = vram
    added["warnings"] = warnings
    return with_columns(normalized, added)  # new columns only: the input is not modified


# The spec fields an already-scored row (GPUListingDTO) carries itself: checked, not overwritten.
CHECKED_SPECS: tuple[str, ...] = ("vram_gb", "tdp_watts", "mig_instances", "nvlink")


def fill_specs(scored: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """Already-scored rows: what a row carries stays; what it lacks comes from the registry by
    ``canonical_model``; a carried spec that contradicts the registry gets a warning.

    The row's own value wins because the sender may know better (a modded card, a 48 GB
    variant); the warning makes the disagreement visible instead of hiding it either way.
    """
    registry = registry or load_registry()
    out = scored.copy(deep=False)
    model = out["canonical_model"].astype(object)
    usable = model.notna()
    if "error_stage" in out:
        usable &= out["error_stage"].isna()
    known = usable & model.isin(registry.specs.index)
    if not known.any():
        return out
    # The registry's side is decided once per distinct model (a few hundred) and spread to the
    # rows by the model's code (-1, a row without a known model, takes the None appended last):
    # decided row by row, the missing-value tests on object columns were most of the stage.
    codes, models = pd.factorize(model.where(known, None))
    catalog = registry.specs.reindex(models)
    notes = pd.Series("", index=out.index, dtype=object)
    for column in ["vendor", *REGISTRY_SPECS]:
        if column not in catalog:
            continue
        per_model = catalog[column].astype(object).where(catalog[column].notna(), None)
        registered = pd.Series(
            np.append(per_model.to_numpy(), None)[codes], index=out.index, dtype=object
        )
        has_registered = np.append(per_model.notna().to_numpy(), False)[codes]
        if column in out:
            given_na = out[column].isna().to_numpy()
            given = out[column].astype(object).where(~given_na, None)
        else:
            given_na = np.ones(len(out), dtype=bool)
            given = pd.Series(None, index=out.index, dtype=object)
        missing = pd.Series(given_na & has_registered, index=out.index)
        if column in CHECKED_SPECS:
            both = pd.Series(~given_na & has_registered, index=out.index)
            if column == "nvlink":
                differs = both & (given.astype(bool) != registered.astype(bool))
            else:
                theirs = pd.to_numeric(per_model, errors="coerce").to_numpy()
                mine = pd.to_numeric(given, errors="coerce")
                differs = both & ((mine - np.append(theirs, np.nan)[codes]).abs() > 0.5)
            if differs.any():
                text = (
                    f"{column} "
                    + given[differs].astype(str)
                    + " contradicts the registry ("
                    + registered[differs].map(
                        lambda v: f"{v:g}" if isinstance(v, float) else str(v)
                    )
                    + " for "
                    + model[differs].astype(str)
                    + ")"
                )
                notes[differs] = notes[differs].where(notes[differs] == "", notes[differs] + "; ")
                notes[differs] = notes[differs] + text
        if missing.any():
            out[column] = given.where(~missing, registered).infer_objects()
    if (notes != "").any():
        before = out["warnings"].astype(object) if "warnings" in out else None
        if before is not None:
            has = before.notna() & (before != "") & (notes != "")
            notes[has] = before[has].astype(str) + "; " + notes[has]
            keep = before.notna() & (notes == "")
            notes[keep] = before[keep]
        out["warnings"] = notes.where(notes != "", None)
    return out


__all__ = ["CHECKED_SPECS", "REGISTRY_SPECS", "enrich", "fill_specs", "title_warnings"]
