"""The established glyphd contract's shapes and rules, in one place.

glyph answers the earlier glyphd service's clients at its paths, in its shapes (bare arrays,
``GPUListingDTO`` and ``GPUModelDTO`` fields, its fuzzy model filter). glyph's own richer shape
is given beside it on the same objects (extra fields) and in headers (``X-Total-Count``,
``Link``), never by renaming or dropping an established field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from rapidfuzz import fuzz, process

# The established model filter: the single closest id, when it scores at least this much.
FUZZY_THRESHOLD = 70.0
UNKNOWN_MODEL = "UNKNOWN"  # how the established service names a row without a model


def _similarity(query: str, choice: str, **_: Any) -> float:
    return max(fuzz.token_set_ratio(query, choice), fuzz.partial_ratio(query, choice))


def pick_model(query: str, known: Iterable[str]) -> str | None:
    """The one canonical id an established ``model=`` filter means: the id itself when it is one
    (any case), else the closest id by max(token-set, partial) similarity of the lower-cased
    strings, at least ``FUZZY_THRESHOLD``; None when nothing is that close."""
    ids = sorted(set(known))
    wanted = query.strip()
    for model in ids:
        if model.lower() == wanted.lower():
            return model
    lowered = {model.lower(): model for model in ids}
    found = process.extractOne(
        wanted.lower(), list(lowered), scorer=_similarity, score_cutoff=FUZZY_THRESHOLD
    )
    return lowered[found[0]] if found else None


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return int(round(float(value)))


def listing_dto(row: dict[str, Any]) -> dict[str, Any]:
    """A persisted listing as an established client reads it (``GPUListingDTO``: the model,
    integer specs, ``mig_support``, and the ``score`` the client sent, glyph's own beside it as
    ``glyph_score``), followed by glyph's other columns; nulls dropped, as established."""
    client = row.get("client_score")
    out = {
        "canonical_model": row.get("canonical_model") or UNKNOWN_MODEL,
        "vram_gb": _int(row.get("vram_gb")),
        "mig_support": _int(row.get("mig_instances")),
        "nvlink": row.get("nvlink"),
        "tdp_watts": _int(row.get("tdp_watts")),
        "price": row.get("price"),
        "score": client if client is not None else row.get("score"),
        "import_id": row.get("import_id"),
        "import_index": row.get("import_index"),
        "glyph_score": row.get("score"),
    }
    for key, value in row.items():
        if key not in out and key not in ("score", "mig_instances"):
            out[key] = value
    return {k: v for k, v in out.items() if _present(v)}


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


__all__ = ["FUZZY_THRESHOLD", "UNKNOWN_MODEL", "listing_dto", "pick_model"]
