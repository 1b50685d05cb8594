"""Enrich joins registry specs and warns on contradictions; score is bounded and monotone."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glyph_assets.sieve.columns import (
    CLEAN_COLUMNS,
    ERROR_COLUMNS,
    MATCH_COLUMNS,
    SCORE_COLUMNS,
    SPEC_COLUMNS,
)
from glyph_assets.sieve.enrich import enrich
from glyph_assets.sieve.normalize import normalize
from glyph_assets.sieve.registry import load_registry
from glyph_assets.sieve.score import (
    SCORE_INPUTS,
    MarketReference,
    ScoreConfig,
    _is_true,
    _reference,
    market_reference,
    score,
)


def _clean(rows: list[tuple[str | None, float | None]]) -> pd.DataFrame:
    frame = pd.DataFrame({c: [None] * len(rows) for c in CLEAN_COLUMNS + ERROR_COLUMNS})
    frame["import_index"] = range(len(rows))
    frame["title"] = [t for t, _ in rows]
    frame["price"] = [p for _, p in rows]
    frame["currency"] = "USD"
    return frame


def _scored(rows: list[tuple[str | None, float | None]], **kwargs: object) -> pd.DataFrame:
    return score(enrich(normalize(_clean(rows))), **kwargs)  # type: ignore[arg-type]


def test_enrich_joins_registry_specs() -> None:
    normalized = normalize(_clean([("NVIDIA H100 PCIe 80GB", 25000.0), ("NVLink bridge", 90.0)]))
    out = enrich(normalized)
    assert "vram_gb" not in normalized  # the input is left alone
    assert list(out.columns) == CLEAN_COLUMNS + ERROR_COLUMNS + MATCH_COLUMNS + SPEC_COLUMNS
    h100 = out.iloc[0]
    specs = load_registry().specs.loc["H100_PCIE_80GB"]
    assert h100["vram_gb"] == specs["vram_gb"] == 80
    assert h100["mig_instances"] == 7 and h100["nvlink"] is True
    assert h100["segment"] == "datacenter" and h100["form_factor"] == "PCIe"
    assert h100["warnings"] is None
    bridge = out.iloc[1]
    assert bridge[SPEC_COLUMNS].isna().all()


def test_enrich_warns_when_the_title_contradicts_the_model() -> None:
    out = enrich(
        normalize(
            _clean(
                [
                    ("NVIDIA RTX A5000 48GB", 1500.0),
                    ("H100 80GB SXM5 on PCIe adapter", 21000.0),
                    ("NVIDIA RTX A5000 24GB", 1500.0),
                ]
            )
        )
    )
    assert out["warnings"].iloc[0] == "title says 48GB, RTX_A5000 has 24GB"
    assert "H100_SXM5_80GB is an SXM module" in out["warnings"].iloc[1]
    assert out["warnings"].iloc[2] is None


def test_enrich_takes_the_board_size_from_the_title_when_one_id_covers_several() -> None:
    out = enrich(normalize(_clean([("GeForce GT 730 4GB DDR3", 70.0), ("GT 730 2GB", 60.0)])))
    assert out["canonical_model"].tolist() == ["GT_730", "GT_730"]
    assert out["vram_gb"].tolist() == [4.0, 2.0]
    assert out["warnings"].isna().all()


def test_enrich_leaves_row_errors_and_unknown_models_empty() -> None:
    frame = _clean([("RTX 4090", 1600.0), ("Radeon RX 480 8GB", 80.0)])
    frame.loc[0, "error_stage"] = "clean"
    out = enrich(normalize(frame))
    assert out[SPEC_COLUMNS].isna().all().all()


def test_score_components_are_bounded_and_unscored_rows_are_none() -> None:
    out = _scored(
        [
            ("NVIDIA H100 PCIe 80GB", 25000.0),
            ("NVIDIA H100 PCIe 80GB", 30000.0),
            ("RTX 4090 24GB", 1800.0),
            ("RTX 3060 12GB", 280.0),
            ("NVLink bridge", 90.0),
            ("Radeon RX 480 8GB", 80.0),
            ("RTX 4090 24GB", None),
        ]
    )
    scored = out.iloc[:4]
    for column in SCORE_COLUMNS:
        assert scored[column].between(0, 100).all(), column
        assert out[column].iloc[4:].isna().all(), column
    # The cheaper of two identical H100s scores higher, and only on value.
    assert out["score"].iloc[0] > out["score"].iloc[1]
    assert out["score_capacity"].iloc[0] == out["score_capacity"].iloc[1]
    assert out["score_features"].iloc[0] == 100.0  # 7 MIG instances and NVLink
    assert out["score_features"].iloc[2] == 0.0


def test_score_with_a_market_reference_matches_the_whole_import() -> None:
    rows = [("RTX 4090 24GB", 1800.0), ("RTX 4090 24GB", 2000.0), ("RTX 3090 24GB", 900.0)]
    enriched = enrich(normalize(_clean(rows)))
    whole = score(enriched)
    reference = market_reference([enriched.iloc[:1], enriched.iloc[1:]])
    parts = pd.concat(
        [
            score(enriched.iloc[:1], reference=reference),
            score(enriched.iloc[1:], reference=reference),
        ]
    )
    assert reference.model_price[("RTX_4090", "USD")] == 1900.0
    np.testing.assert_allclose(whole["score"], parts["score"].iloc[[0, 1, 2]])


def test_the_score_inputs_alone_score_as_the_whole_rows_do() -> None:
    """``glyph pipeline`` scores its spilled parts from ``SCORE_INPUTS`` alone: a column the
    score reads and the list misses would change the scores here."""
    rows = [
        ("NVIDIA H100 80GB PCIe", 25000.0),
        ("NVIDIA H100 80GB PCIe", 30000.0),
        ("Lot of 4 RTX 3090 24GB", 3200.0),
        ("NVIDIA A100 40GB", None),
        ("RTX 4090 box only", 50.0),
        ("Tesla T4 16GB", 700.0),
        (None, 10.0),
    ]
    enriched = enrich(normalize(_clean(rows)))
    enriched.loc[5, "currency"] = "EUR"
    enriched.loc[2, "unit_price"] = 800.0  # a lot of 4
    enriched.loc[1, "error_stage"] = "clean"  # a row error is never scored
    whole = score(enriched)
    narrow = score(enriched[[c for c in SCORE_INPUTS if c in enriched]])
    assert whole["score"].notna().sum() >= 3
    pd.testing.assert_frame_equal(whole[SCORE_COLUMNS], narrow[SCORE_COLUMNS])


def test_score_config_is_validated_and_changes_the_weighting() -> None:
    with pytest.raises(ValueError):
        ScoreConfig(weight_value=-1)
    with pytest.raises(ValueError):
        ScoreConfig(weight_capacity=0, weight_features=0, weight_efficiency=0, weight_value=0)
    rows = [("RTX 4090 24GB", 1800.0), ("RTX 3060 12GB", 280.0)]
    only_capacity = ScoreConfig(weight_features=0, weight_efficiency=0, weight_value=0)
    out = _scored(rows, config=only_capacity)
    np.testing.assert_allclose(out["score"], out["score_capacity"])


MODELS = ["RTX_4090", "RTX_3060_12GB", "H100_PCIE_80GB", "A100_PCIE_40GB", "RX_7900_XTX"]


def _enriched_rows(models: list[str], prices: list[float]) -> pd.DataFrame:
    specs = load_registry().specs
    frame = pd.DataFrame(
        {
            "canonical_model": models,
            "is_gpu": [True] * len(models),
            "price": prices,
            "currency": ["USD"] * len(models),
            "error_stage": [None] * len(models),
        }
    )
    for column in ("vram_gb", "tdp_watts", "mig_instances", "nvlink"):
        frame[column] = specs.loc[models, column].to_numpy()
    return frame


Market = tuple[list[str], list[float], int]


@st.composite
def market_and_one_row(draw: st.DrawFn) -> Market:
    """The models and prices of 1 to 12 listings, and the index of the one a case changes."""
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from(MODELS), st.floats(min_value=10, max_value=50_000)),
            min_size=1,
            max_size=12,
        )
    )
    return [m for m, _ in rows], [p for _, p in rows], draw(st.integers(0, len(rows) - 1))


# Scoring a frame is slow enough for Hypothesis's default deadline and health check.
score_properties = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@score_properties
@given(market_and_one_row(), st.floats(min_value=0.01, max_value=1.0))
def test_a_lower_price_never_lowers_the_score(market: Market, factor: float) -> None:
    models, prices, i = market
    before = score(_enriched_rows(models, prices))["score"].iloc[i]
    cheaper = list(prices)
    cheaper[i] = prices[i] * factor
    after = score(_enriched_rows(models, cheaper))["score"].iloc[i]
    assert after >= before - 1e-9


@score_properties
@given(market_and_one_row(), st.floats(min_value=0.0, max_value=512.0))
def test_more_vram_never_lowers_the_score(market: Market, extra: float) -> None:
    models, prices, i = market
    frame = _enriched_rows(models, prices)
    before = score(frame)["score"].iloc[i]
    frame.loc[i, "vram_gb"] = frame.loc[i, "vram_gb"] + extra
    after = score(frame)["score"].iloc[i]
    assert after >= before - 1e-9
    assert not math.isnan(after)


def test_a_lot_is_scored_and_compared_by_the_price_of_one_card() -> None:
    frame = _clean([("RTX 3090 24GB", 900.0), ("RTX 3090 24GB", 1000.0), ("RTX 3090 24GB", 3600.0)])
    frame["unit_price"] = [900.0, 1000.0, 900.0]  # the third is a lot of 4 at 900 a card
    out = score(enrich(normalize(frame)))
    assert out["score"].iloc[2] == out["score"].iloc[0]
    assert out["score_value"].iloc[2] > out["score_value"].iloc[1]
    reference = market_reference([enrich(normalize(frame))])
    assert reference.model_price[("RTX_3090", "USD")] == 900.0  # median of 900, 1000, 900


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "string[python]", object, "category"])
def test_title_model_pairs_number_rows_as_grouping_their_titles_as_text_does(dtype: str) -> None:
    """Each row's (title, model) pair, factorized on the title column as it is, is the pair a
    grouping of the titles made text ("" for a missing one) gives, first seen first."""
    from glyph_assets.sieve.enrich import _title_model_pairs

    titles = ["RTX 4090 24GB", None, "RTX 4090 24GB", "", "A100 80GB", "RTX 4090 24GB", None]
    models = np.array(
        [
            "RTX_4090",
            "A100_PCIE_80GB",
            "RTX_3090",
            "RTX_4090",
            "A100_PCIE_80GB",
            "RTX_4090",
            "A100_PCIE_80GB",
        ],
        dtype=object,
    )
    frame = pd.DataFrame({"title": pd.Series(titles + ["unused"], dtype=dtype)})
    rows = np.arange(len(titles))
    codes, firsts = _title_model_pairs(frame, rows, models)
    as_text = frame["title"].iloc[rows].astype(object).fillna("").astype(str).to_numpy()
    pairs = pd.DataFrame({"title": as_text, "model": models})
    assert codes.tolist() == pairs.groupby(["title", "model"], sort=False).ngroup().tolist()
    assert firsts == list(pairs.drop_duplicates().itertuples(index=False, name=None))
    assert firsts[1] == ("", "A100_PCIE_80GB") and codes[6] == codes[1]
    untitled, named = _title_model_pairs(pd.DataFrame(index=rows), rows, models)
    assert named == [("", "RTX_4090"), ("", "A100_PCIE_80GB"), ("", "RTX_3090")]
    assert untitled.tolist() == [0, 1, 2, 0, 1, 0, 1]


def test_title_model_pairs_read_other_values_as_their_text() -> None:
    """A number where a title belongs is the title its text makes, as a grouping of the text
    does: 1 and "1" are one pair."""
    from glyph_assets.sieve.enrich import _title_model_pairs

    frame = pd.DataFrame({"title": pd.Series([1, "1", 2.5], dtype=object)})
    codes, firsts = _title_model_pairs(frame, np.arange(3), np.array(["M"] * 3, dtype=object))
    assert codes.tolist() == [0, 0, 1] and firsts == [("1", "M"), ("2.5", "M")]


_CELLS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(["true", "True", "false", "", "yes", 1, 0, 1.0, 2, float("nan"), pd.NA]),
)


@given(st.lists(_CELLS, max_size=30))
def test_truth_of_distinct_values_equals_the_element_wise_comparison(cells: list[object]) -> None:
    values = pd.Series(cells, dtype=object)
    expected = ((values == True) | (values == "true")).fillna(False)  # noqa: E712
    assert list(_is_true(values, "true")) == list(expected.astype(bool))
    assert list(_is_true(values)) == list((values == True).fillna(False).astype(bool))  # noqa: E712


def _reference_by_text(rows: pd.DataFrame) -> MarketReference:
    """The medians grouped by the two text columns, as ``_reference`` did before it grouped by
    the pairs' codes: the oracle for the test below."""
    key = ["canonical_model", "currency"]
    model_price = rows.groupby(key)["price"].median()
    per_gb = (rows["price"] / rows["vram_gb"]).groupby([rows[k] for k in key]).median()
    return MarketReference(
        model_price={(str(m), str(c)): float(v) for (m, c), v in model_price.items()},
        per_gb={str(c): float(v) for c, v in per_gb.groupby(level="currency").median().items()},
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["RTX_4090", "H100_PCIE_80GB", "A100_SXM4_40GB", "RX_7900_XTX"]),
            st.sampled_from(["USD", "EUR", "GBP"]),
            st.floats(0.5, 1e6, allow_nan=False),
            st.sampled_from([8.0, 16.0, 24.0, 80.0]),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_reference_by_pair_codes_equals_grouping_by_text(
    rows: list[tuple[str, str, float, float]],
) -> None:
    frame = pd.DataFrame(rows, columns=["canonical_model", "currency", "price", "vram_gb"])
    found, expected = _reference(frame), _reference_by_text(frame)
    assert found == expected
    assert list(found.model_price) == list(expected.model_price)  # the same order, too
    assert list(found.per_gb) == list(expected.per_gb)


@pytest.mark.parametrize("dtype", ["boolean", "bool[pyarrow]"])
def test_an_unknown_nvlink_counts_as_absent_in_a_nullable_column(dtype: str) -> None:
    """The module's rule ("unknown counts as absent") holds for a nullable column too: its
    missing value once left the row unscored."""
    frame = pd.DataFrame(
        {
            "canonical_model": ["RTX_4090"] * 3,
            "currency": ["USD"] * 3,
            "price": [1000.0, 1500.0, 1200.0],
            "vram_gb": [24.0] * 3,
            "is_gpu": [True] * 3,
            "nvlink": pd.array([True, None, False], dtype=dtype),
        }
    )
    scored = score(frame)
    assert scored["score"].notna().all()
    assert scored["score_features"].iloc[1] == scored["score_features"].iloc[2]
    assert scored["score_features"].iloc[0] > scored["score_features"].iloc[2]
