"""The column contract between the pipeline stages, the store and the API."""

from __future__ import annotations

ERROR_COLUMNS: list[str] = ["error_stage", "error_field", "error_reason", "raw_row"]

CLEAN_COLUMNS: list[str] = [
    "import_index",
    "title",
    "price",
    "currency",
    "condition",
    "quantity",
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
]

SPEC_COLUMNS: list[str] = [
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
    "warnings",
]

SCORE_COLUMNS: list[str] = [
    "score",
    "score_capacity",
    "score_features",
    "score_efficiency",
    "score_value",
]

NORMALIZED_COLUMNS: list[str] = CLEAN_COLUMNS + MATCH_COLUMNS
ENRICHED_COLUMNS: list[str] = NORMALIZED_COLUMNS + SPEC_COLUMNS
SCORED_COLUMNS: list[str] = ENRICHED_COLUMNS + SCORE_COLUMNS

# Columns the listings table stores (everything a scored row carries, minus the error columns).
LISTING_COLUMNS: list[str] = SCORED_COLUMNS

# Columns whose presence marks an upload as already scored by another pipeline.
SCORED_KIND_MARKERS: frozenset[str] = frozenset({"canonical_model", "score"})
