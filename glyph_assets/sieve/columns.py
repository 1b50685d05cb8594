"""The column contract between the pipeline stages, the store and the API.

Also the one place that says which header names carry which column (``HEADER_SYNONYMS``,
``map_headers``): the reader needs it to type-check JSON fields, clean needs it to map dialects.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

INDEX_COLUMN = "import_index"
# import_index is the 1-based ordinal of a data row in its import (the established glyphd
# numbering): the first data row of every file is 1, whatever its format.
FIRST_INDEX = 1
ERROR_COLUMN = "_error"

ERROR_COLUMNS: list[str] = ["error_stage", "error_field", "error_reason", "raw_row"]
# A row error's columns as stored and as `glyph pipeline` writes them (raw_row keeps its name).
ERROR_OUTPUT_NAMES: dict[str, str] = {
    "error_stage": "stage",
    "error_field": "field",
    "error_reason": "reason",
}
ERROR_OUTPUT_COLUMNS: list[str] = ["import_index", *ERROR_OUTPUT_NAMES.values(), "raw_row"]

CLEAN_COLUMNS: list[str] = [
    "import_index",
    "title",
    "price",
    "currency",
    "condition",
    "quantity",
    "unit_price",  # price / the lot the price buys ("Lot of 4"): the price of one card
    "seller",
    "region",
    "source_url",
    "source_type",
    "listing_age",
    "model_hint",
    "brand_hint",
    "bulk_notes",
]

MATCH_COLUMNS: list[str] = [
    "canonical_model",
    "match_type",
    "match_score",
    "vendor",
    "is_gpu",
    "reject_reason",
    "match_alternatives",  # an inferred match's other ids, "|"-joined (RTX_3080_12GB)
]

# The specs the GPU registry gives every model, in the order a listing carries them: enrich
# copies them onto each listing, so the registry file must have them (sieve/registry.py).
REGISTRY_SPECS: list[str] = [
    "segment",
    "architecture",
    "vram_gb",
    "memory_type",
    "tdp_watts",
    "mig_instances",
    "nvlink",
    "pcie_gen",
    "form_factor",
    "launch_year",
]

SPEC_COLUMNS: list[str] = [*REGISTRY_SPECS, "warnings"]

SCORE_COLUMNS: list[str] = [
    "score",
    "score_capacity",
    "score_features",
    "score_efficiency",
    "score_value",
]

# The listing's identity across imports (sieve/listing_key.py): the same item, scraped again.
KEY_COLUMNS: list[str] = ["listing_key"]

NORMALIZED_COLUMNS: list[str] = CLEAN_COLUMNS + MATCH_COLUMNS + KEY_COLUMNS
ENRICHED_COLUMNS: list[str] = NORMALIZED_COLUMNS + SPEC_COLUMNS
# The score a client sent with an already-scored row, exactly as sent (any scale); ``score`` is
# glyph's own 0-100 figure derived from it by the import's score scale (null for raw uploads).
CLIENT_COLUMNS: list[str] = ["client_score"]
SCORED_COLUMNS: list[str] = ENRICHED_COLUMNS + SCORE_COLUMNS + CLIENT_COLUMNS

# Columns the listings table stores (everything a scored row carries, minus the error columns).
LISTING_COLUMNS: list[str] = SCORED_COLUMNS

# Columns whose presence marks an upload as already scored by another pipeline.
SCORED_KIND_MARKERS: frozenset[str] = frozenset({"canonical_model", "score"})
# A scored upload needs these (a title is optional: the established GPUListingDTO has none).
SCORED_REQUIRED: tuple[str, ...] = ("canonical_model", "score", "price")
# Established names of the GPUListingDTO fields -> glyph's column of the same meaning.
SCORED_FIELD_ALIASES: dict[str, str] = {"mig_support": "mig_instances"}
# The two scales clients send scores on; glyph's own ``score`` is always 0-100.
SCORE_SCALES: tuple[str, ...] = ("0-100", "0-1")

# Canonical column -> header names (after header_key) that carry it, in order of preference.
HEADER_SYNONYMS: dict[str, list[str]] = {
    "title": [
        "title",
        "listing_title",
        "product_title",
        "item_title",
        "name",
        "product_name",
        "product",
        "item",
        "listing",
        "gpu",
        "card",
    ],
    "model_hint": ["model", "gpu_model", "model_name", "card_model"],
    "price": [
        "price",
        "price_usd",
        "usd_price",
        "price_in_usd",
        "unit_price",
        "sale_price",
        "asking_price",
        "list_price",
        "amount",
        "cost",
        "price_eur",
        "price_gbp",
    ],
    "currency": ["currency", "currency_code", "price_currency"],
    "condition": ["condition", "item_condition", "state"],
    "quantity": ["quantity", "qty", "stock", "availability", "available_quantity", "stock_status"],
    "seller": ["seller", "store", "merchant", "shop", "retailer", "seller_name"],
    "brand_hint": ["brand", "vendor", "manufacturer", "make"],
    "region": ["geographic_region", "region", "location", "country", "geo"],
    "source_url": ["source_url", "url", "link", "product_url", "listing_url", "href"],
    "source_type": ["source_type", "source", "channel"],
    "listing_age": ["listing_age", "age", "listed", "date", "listed_at"],
    "bulk_notes": ["bulk_notes", "notes", "note", "comments", "description"],
}

# Columns that hold text: a JSON number or boolean there is a row error, not text.
TEXT_COLUMNS: frozenset[str] = frozenset(
    {
        "title",
        "condition",
        "seller",
        "region",
        "source_url",
        "source_type",
        "currency",
        "brand_hint",
        "bulk_notes",
        "canonical_model",
    }
)


def in_order(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The frame's ``columns``, in that order, sharing the frame's column arrays: a stage's
    output columns without the copy of every value that ``frame[columns]`` makes (15 ms for
    100,000 enriched rows). The stages never modify a frame they were given, so sharing is
    safe; the index is the frame's."""
    return pd.DataFrame({name: frame[name] for name in columns}, copy=False)


def with_columns(frame: pd.DataFrame, added: dict[str, Any]) -> pd.DataFrame:
    """The frame with the ``added`` columns (arrays or Series of its length, in that order
    after its own; a name it has is replaced in place), sharing every array: assigning columns
    one at a time to a frame of many cost about 2 ms each for 100,000 rows."""
    columns: dict[str, Any] = {name: frame[name] for name in frame.columns}
    for name, values in added.items():
        if not isinstance(values, pd.Series):
            values = pd.Series(values, index=frame.index, copy=False)
        columns[name] = values
    return pd.DataFrame(columns, copy=False)


def header_key(name: str) -> str:
    """A header as a comparable key: lower case, runs of other characters as one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def map_headers(columns: list[str]) -> dict[str, str]:
    """Canonical column -> source column, for the columns this file has."""
    keyed = {header_key(c): c for c in columns if c not in (INDEX_COLUMN, ERROR_COLUMN)}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for target, names in HEADER_SYNONYMS.items():
        for name in names:
            source = keyed.get(name)
            if source is not None and source not in used:
                mapping[target] = source
                used.add(source)
                break
    if "title" not in mapping and "model_hint" in mapping:
        # Price sheets carry the listing text in "Model".
        mapping["title"] = mapping.pop("model_hint")
    if "canonical_model" in keyed:
        mapping["canonical_model"] = keyed["canonical_model"]
    return mapping
