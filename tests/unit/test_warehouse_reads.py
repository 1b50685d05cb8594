"""The warehouse-wide reads: gpu_models filled from the registry, market figures from the one
market table (glyph_assets.store.warehouse)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import delete

from glyph_assets.settings import Settings
from glyph_assets.sieve.registry import load_registry
from glyph_assets.store import repository, warehouse
from glyph_assets.store.db import migrate
from glyph_assets.store.models import ImportSummary
from glyph_assets.store.status import ImportStatus
from tests.support.warehouse import refresh_market, warehouse_with_import

IMPORT_ID = "00000000-0000-4000-8000-000000000216"


def test_the_registry_fills_gpu_models_once(glyph_env: Settings) -> None:
    engine = migrate(glyph_env.sqlalchemy_url)
    registry = load_registry()
    assert warehouse.registry_models(engine) == []
    assert warehouse.sync_registry(engine, registry) is True
    rows = {r["canonical_model"]: r for r in warehouse.registry_models(engine)}
    assert sorted(rows) == sorted(registry.ids)
    h100 = rows["H100_PCIE_80GB"]
    assert h100["vendor"] == "NVIDIA" and h100["vram_gb"] == 80.0
    assert h100["aliases"] == "|".join(registry.aliases["H100_PCIE_80GB"]) != ""
    assert warehouse.sync_registry(engine, registry) is False  # unchanged: no write
    assert set(registry.ids) <= set(warehouse.known_models(engine))
    assert warehouse.listed_models(engine, registry.ids) == []  # no listing has any yet


def test_market_figures_come_from_the_market_table(glyph_env: Settings) -> None:
    engine = warehouse_with_import(glyph_env.sqlalchemy_url, IMPORT_ID)
    n = 3
    frame = pd.DataFrame(
        {
            "import_index": [1, 2, 3],
            "canonical_model": ["B200", "B200", "B200"],
            "price": [50.0, 70.0, 60.0],
            "currency": ["USD"] * n,
            "score": [10.0, 30.0, 20.0],
            "is_gpu": [True] * n,
            "reject_reason": [None] * n,
            "error_stage": [None] * n,
            "error_field": [None] * n,
            "error_reason": [None] * n,
        }
    )
    repository.replace_import_rows(engine, IMPORT_ID, [frame])
    repository.finish_import(engine, IMPORT_ID, ImportStatus.SUCCEEDED)
    with engine.begin() as conn:  # as if it had ended before import_summaries existed
        conn.execute(delete(ImportSummary))
    stats = warehouse.warehouse_stats(engine)
    assert stats == {
        "imports": 1,
        "listings": 3,
        "gpu_listings": 3,
        "models": 0,  # the market table is not computed yet
        "mean_score": 20.0,
        "min_price": 50.0,
        "max_price": 70.0,
    }
    assert warehouse.model_market(engine) == {}  # nothing until the market is computed
    assert warehouse.top_ranked_models(engine) == []
    assert warehouse.listed_models(engine, ["B200", "H100_PCIE_80GB", "NOPE"]) == ["B200"]
    refresh_market(engine)
    assert "B200" in warehouse.known_models(engine)
    assert warehouse.warehouse_stats(engine)["models"] == 1
    b200 = warehouse.model_market(engine)["B200"]
    assert (b200["listing_count"], b200["min_price"], b200["median_price"]) == (3, 50.0, 60.0)
    assert (b200["max_price"], b200["avg_price"]) == (70.0, 60.0)
    assert warehouse.model_market(engine, "EUR") == {}
    [ranked] = warehouse.top_ranked_models(engine)
    assert ranked == {
        "canonical_model": "B200",
        "best_score": 30.0,
        "listings": 3,
        "median_price": 60.0,
    }
