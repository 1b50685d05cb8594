"""Market figures on a small fixture of imports whose expected values are worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, AssetSpec, materialize

from glyph_assets.contract import IMPORTS_PARTITIONS_NAME
from glyph_assets.sieve.market import ALL_SOURCES, model_market_stats, price_movements

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
C = "00000000-0000-4000-8000-00000000000c"

IMPORTS = pd.DataFrame(
    [
        (A, "ebay", datetime(2026, 1, 1, tzinfo=UTC)),
        (B, "shopify", datetime(2026, 1, 2, tzinfo=UTC)),
    ],
    columns=["import_id", "source", "created_at"],
)
IMPORT_C = pd.DataFrame(
    [(C, "ebay", datetime(2026, 1, 3, tzinfo=UTC))], columns=["import_id", "source", "created_at"]
)

COLUMNS = [
    "import_id",
    "import_index",
    "canonical_model",
    "currency",
    "price",
    "vram_gb",
    "score",
    "is_gpu",
    "reject_reason",
]
LISTINGS = pd.DataFrame(
    [
        (A, 0, "h100-pcie-80gb", "USD", 30000.0, 80.0, 70.0, True, None),
        (A, 1, "h100-pcie-80gb", "USD", 20000.0, 80.0, 90.0, True, None),
        # same score as row 1 at a higher price: row 1 wins the tie
        (A, 2, "h100-pcie-80gb", "USD", 25000.0, 80.0, 90.0, True, None),
        (A, 3, "rtx-4090", "USD", 1800.0, 24.0, 60.0, True, None),
        (A, 4, None, "USD", 50.0, None, None, False, "not_gpu"),
        (A, 5, None, "USD", 999.0, None, None, True, "unknown_model"),
        (A, 6, "h100-pcie-80gb", "EUR", 28000.0, 80.0, 50.0, True, None),
        (A, 7, "h100-pcie-80gb", "USD", None, 80.0, None, True, None),
        (B, 0, "h100-pcie-80gb", "USD", 22000.0, 80.0, 95.0, True, None),
        (B, 1, "h100-pcie-80gb", "USD", 24000.0, 80.0, None, True, None),
        (B, 2, "rtx-4090", "USD", 1600.0, 24.0, 80.0, True, None),
        (B, 3, "rtx-4090", "USD", 0.0, 24.0, 10.0, True, None),
    ],
    columns=COLUMNS,
)
LISTINGS_C = pd.DataFrame(
    [
        (C, 0, "h100-pcie-80gb", "USD", 26000.0, 80.0, 60.0, True, None),
        (C, 1, "h100-pcie-80gb", "USD", 27000.0, 80.0, 61.0, True, None),
    ],
    columns=COLUMNS,
)


def _row(frame: pd.DataFrame, **keys: object) -> dict:
    mask = pd.Series(True, index=frame.index)
    for name, value in keys.items():
        mask &= frame[name] == value
    rows = frame.loc[mask]
    assert len(rows) == 1, f"expected one row for {keys}, got {len(rows)}"
    return rows.iloc[0].to_dict()


def test_model_stats_on_two_imports() -> None:
    stats = model_market_stats(LISTINGS)
    assert sorted(zip(stats["canonical_model"], stats["currency"], strict=True)) == [
        ("h100-pcie-80gb", "EUR"),
        ("h100-pcie-80gb", "USD"),
        ("rtx-4090", "USD"),
    ]
    h100 = _row(stats, canonical_model="h100-pcie-80gb", currency="USD")
    # prices 20000, 22000, 24000, 25000, 30000 (the unpriced row 7 does not count)
    assert h100["listings"] == 5
    assert h100["imports"] == 2
    assert h100["min_price"] == 20000.0
    assert h100["max_price"] == 30000.0
    assert h100["median_price"] == 24000.0
    assert h100["p10_price"] == pytest.approx(20800.0)  # 20000 + 0.4 * 2000
    assert h100["p90_price"] == pytest.approx(28000.0)  # 25000 + 0.6 * 5000
    assert h100["median_price_per_gb_vram"] == pytest.approx(300.0)
    assert (h100["best_import_id"], h100["best_import_index"]) == (B, 0)
    assert (h100["best_price"], h100["best_score"]) == (22000.0, 95.0)

    rtx = _row(stats, canonical_model="rtx-4090", currency="USD")
    assert rtx["listings"] == 2  # the zero-priced row is not a market price
    assert rtx["median_price"] == 1700.0
    assert rtx["p10_price"] == pytest.approx(1620.0)
    assert rtx["p90_price"] == pytest.approx(1780.0)
    assert rtx["median_price_per_gb_vram"] == pytest.approx((1800 / 24 + 1600 / 24) / 2)
    assert (rtx["best_import_id"], rtx["best_import_index"], rtx["best_score"]) == (B, 2, 80.0)

    eur = _row(stats, canonical_model="h100-pcie-80gb", currency="EUR")
    assert (eur["listings"], eur["median_price"], eur["best_import_index"]) == (1, 28000.0, 6)


def test_best_listing_tie_goes_to_lower_price() -> None:
    only_a = LISTINGS.loc[LISTINGS["import_id"] == A]
    h100 = _row(model_market_stats(only_a), canonical_model="h100-pcie-80gb", currency="USD")
    assert (h100["best_import_index"], h100["best_price"], h100["best_score"]) == (1, 20000.0, 90.0)
    shuffled = only_a.sample(frac=1.0, random_state=7)
    again = _row(model_market_stats(shuffled), canonical_model="h100-pcie-80gb", currency="USD")
    assert again["best_import_index"] == 1


def test_stats_of_nothing_is_an_empty_frame() -> None:
    assert model_market_stats(LISTINGS.iloc[0:0]).empty
    not_gpus = LISTINGS.loc[LISTINGS["is_gpu"] == False]  # noqa: E712
    assert model_market_stats(not_gpus).empty
    assert price_movements(LISTINGS.iloc[0:0], IMPORTS).empty


def test_movements_between_two_imports() -> None:
    moves = price_movements(LISTINGS, IMPORTS)
    # per source, each source has a single import: only the all-sources sequence moves
    assert set(moves["source"]) == {ALL_SOURCES}
    h100 = _row(moves, canonical_model="h100-pcie-80gb", currency="USD")
    assert (h100["previous_import_id"], h100["import_id"]) == (A, B)
    assert (h100["previous_median_price"], h100["median_price"]) == (25000.0, 23000.0)
    assert (h100["previous_listings"], h100["listings"]) == (3, 2)
    assert h100["abs_change"] == -2000.0
    assert h100["pct_change"] == pytest.approx(-8.0)
    rtx = _row(moves, canonical_model="rtx-4090", currency="USD")
    assert rtx["abs_change"] == -200.0
    assert rtx["pct_change"] == pytest.approx(-200 / 1800 * 100)
    assert len(moves) == 2  # EUR has one import only: no movement


def test_movements_per_source_skip_other_sources() -> None:
    listings = pd.concat([LISTINGS, LISTINGS_C], ignore_index=True)
    imports = pd.concat([IMPORTS, IMPORT_C], ignore_index=True)
    moves = price_movements(listings, imports)
    h100 = moves.loc[(moves["canonical_model"] == "h100-pcie-80gb") & (moves["currency"] == "USD")]
    overall = h100.loc[h100["source"] == ALL_SOURCES]
    assert list(zip(overall["previous_import_id"], overall["import_id"], strict=True)) == [
        (A, B),
        (B, C),
    ]
    b_to_c = _row(overall, import_id=C)
    assert b_to_c["abs_change"] == 3500.0
    assert b_to_c["pct_change"] == pytest.approx(3500 / 23000 * 100)
    ebay = _row(h100, source="ebay")
    assert (ebay["previous_import_id"], ebay["import_id"]) == (A, C)
    assert ebay["abs_change"] == 1500.0
    assert ebay["pct_change"] == pytest.approx(6.0)
    # order of the input rows does not matter
    shuffled = price_movements(listings.sample(frac=1.0, random_state=3), imports.iloc[::-1])
    pd.testing.assert_frame_equal(shuffled, moves)


def _seed(settings_url: str) -> None:
    """Write the fixture imports and listings through the store, as persisted_listings would."""
    from sqlalchemy import update

    from glyph_assets.store import repository
    from glyph_assets.store.db import migrate
    from glyph_assets.store.models import Import

    engine = migrate(settings_url)
    for import_id, source, created in IMPORTS.itertuples(index=False):
        repository.create_import(
            engine,
            import_id=import_id,
            source=source,
            filename=f"{source}.csv",
            sha256=import_id.replace("-", "")[:64],
            size_bytes=1,
            kind="raw",
            status="succeeded",
        )
        with engine.begin() as conn:
            conn.execute(
                update(Import)
                .where(Import.import_id == import_id)
                .values(created_at=pd.Timestamp(created).to_pydatetime())
            )
        rows = LISTINGS.loc[LISTINGS["import_id"] == import_id].drop(columns="import_id")
        frame = rows.assign(error_stage=None, error_field=None, error_reason=None, raw_row=None)
        repository.replace_import_rows(engine, import_id, [frame])


def test_market_assets_materialize_into_the_database(glyph_env, tmp_path: Path) -> None:
    from glyph_assets.assets.market import MARKET_ASSETS
    from glyph_assets.resources import resources_from
    from glyph_assets.store.db import migrate
    from glyph_assets.store.market import read_model_market_stats, read_price_movements

    _seed(glyph_env.sqlalchemy_url)
    table = tmp_path / "fx_rates.csv"
    table.write_text("date,currency,usd_rate\n2025-12-01,EUR,1.10\n2026-01-02,EUR,1.20\n")
    with_rates = glyph_env.model_copy(update={"fx_rates_path": str(table)})
    upstream = AssetSpec(AssetKey("persisted_listings"))
    for _ in range(2):  # a second refresh replaces, never duplicates
        result = materialize(
            [upstream, *MARKET_ASSETS],
            selection=MARKET_ASSETS,
            resources=resources_from(with_rates),
        )
        assert result.success
    engine = migrate(glyph_env.sqlalchemy_url)
    stats = {(r["canonical_model"], r["currency"]): r for r in read_model_market_stats(engine)}
    assert len(stats) == 3
    h100 = stats[("h100-pcie-80gb", "USD")]
    assert (h100["listings"], h100["median_price"], h100["best_import_id"]) == (5, 24000.0, B)
    assert h100["window_imports"] == 10
    assert (h100["median_price_usd"], h100["usd_rate"], h100["usd_rate_date"]) == (
        24000.0,
        1.0,
        None,
    )
    # the EUR figures stay in euros; in USD at the rate on or before import A's day (1 January)
    eur = stats[("h100-pcie-80gb", "EUR")]
    assert (eur["median_price"], eur["median_price_usd"]) == (28000.0, 30800.0)
    assert (eur["usd_rate"], eur["usd_rate_date"], eur["usd_reason"]) == (
        1.1,
        date(2025, 12, 1),
        None,
    )
    moves = read_price_movements(engine, canonical_model="h100-pcie-80gb", source=ALL_SOURCES)
    assert [(m["previous_import_id"], m["import_id"], m["abs_change"]) for m in moves] == [
        (A, B, -2000.0)
    ]
    assert (moves[0]["median_price_usd"], moves[0]["abs_change_usd"]) == (23000.0, -2000.0)
    assert len(read_price_movements(engine, import_id=B)) == 2

    metadata = result.asset_materializations_for_node("model_market_stats")[0].metadata
    assert metadata["dagster/row_count"].value == 3
    assert metadata["imports_in_window"].value == 2

    # a window of one import leaves only the newest import's figures and no movement
    result = materialize(
        [upstream, *MARKET_ASSETS],
        selection=MARKET_ASSETS,
        resources=resources_from(glyph_env),
        run_config={
            "ops": {
                "model_market_stats": {"config": {"window_imports": 1}},
                "price_movements": {"config": {"window_imports": 2}},
            }
        },
    )
    assert result.success
    stats = {(r["canonical_model"], r["currency"]): r for r in read_model_market_stats(engine)}
    assert set(stats) == {("h100-pcie-80gb", "USD"), ("rtx-4090", "USD")}
    assert stats[("h100-pcie-80gb", "USD")]["median_price"] == 23000.0


@pytest.mark.filterwarnings("ignore::dagster._utils.warnings.BetaWarning")
def test_market_refresh_follows_new_imports_even_with_a_failed_one() -> None:
    """A persisted import requests a refresh; an import that never persisted does not block it."""
    from dagster import (
        AssetMaterialization,
        AutomationCondition,
        Definitions,
        evaluate_automation_conditions,
        instance_for_test,
    )

    from glyph_assets.assets.market import MARKET_ASSETS
    from glyph_assets.partitions import imports_partitions
    from glyph_assets.resources import resources_from
    from glyph_assets.settings import Settings

    upstream = AssetSpec(AssetKey("persisted_listings"), partitions_def=imports_partitions)
    resources = resources_from(Settings())
    defs = Definitions(assets=[upstream, *MARKET_ASSETS], resources=resources)
    plain_eager = [
        a.map_asset_specs(
            lambda spec: spec.replace_attributes(automation_condition=AutomationCondition.eager())
        )
        for a in MARKET_ASSETS
    ]
    eager_defs = Definitions(assets=[upstream, *plain_eager], resources=resources)

    def requested(result) -> set[str]:
        names = ("model_market_stats", "price_movements")
        return {name for name in names if result.get_num_requested(AssetKey(name))}

    with instance_for_test() as instance:
        instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, [A, B])
        first = evaluate_automation_conditions(defs=defs, instance=instance)
        eager_first = evaluate_automation_conditions(defs=eager_defs, instance=instance)
        assert requested(first) == set()  # nothing to compute before any import landed
        for key in ("model_market_stats", "price_movements"):
            instance.report_runless_asset_event(AssetMaterialization(key))
        quiet = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(quiet) == set()

        # import A lands; import B failed and never persisted
        instance.report_runless_asset_event(AssetMaterialization("persisted_listings", partition=A))
        after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
        assert requested(after) == {"model_market_stats", "price_movements"}
        eager_after = evaluate_automation_conditions(
            defs=eager_defs, instance=instance, cursor=eager_first.cursor
        )
        assert requested(eager_after) == set()  # what plain eager() would have done: nothing

        # The refresh it asked for lands, and another import persists before the next tick:
        # that import still gets a refresh (eager() forgets it, the refresh being newer).
        for key in ("model_market_stats", "price_movements"):
            instance.report_runless_asset_event(AssetMaterialization(key))
        instance.report_runless_asset_event(AssetMaterialization("persisted_listings", partition=A))
        again = evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        assert requested(again) == {"model_market_stats", "price_movements"}
        settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=again.cursor)
        assert requested(settled) == set()  # one refresh per update, not one per tick


def test_market_figures_count_a_lot_at_the_price_of_one_card() -> None:
    lots = LISTINGS.assign(unit_price=LISTINGS["price"])
    lots.loc[0, ["price", "unit_price"]] = [120000.0, 30000.0]  # a lot of 4 H100s
    plain = _row(model_market_stats(LISTINGS), canonical_model="h100-pcie-80gb", currency="USD")
    per_card = _row(model_market_stats(lots), canonical_model="h100-pcie-80gb", currency="USD")
    assert per_card["max_price"] == plain["max_price"] == 30000.0
    assert per_card["median_price"] == plain["median_price"]
    # rows stored before unit_price existed (NULL) count at their price
    old = lots.assign(unit_price=None)
    assert (
        _row(model_market_stats(old), canonical_model="h100-pcie-80gb", currency="USD")["max_price"]
        == 120000.0
    )
