"""listing_key (pure), and the history / diff / price deltas it makes possible, on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine

from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.sieve.listing_key import listing_keys, normalize_url
from glyph_assets.sieve.pipeline import run_offline
from glyph_assets.sieve.read import read_raw
from glyph_assets.store import changes, repository
from glyph_assets.store.db import migrate

CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"
PAIR = PROJECT_ROOT / "data" / "samples" / "changes"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        (
            "https://www.ebay.com/itm/336080157531?itmmeta=01K0&hash=item4e:g:HM",
            "ebay:336080157531",
        ),
        ("http://ebay.co.uk/itm/rtx-4090-founders/336080157531/", "ebay:336080157531"),
        (
            "https://shop.example.com/p/a?utm_source=x&gclid=1&variant=3",
            "shop.example.com/p/a?variant=3",
        ),
        ("http://WWW.Shop.Example.com//p/a/#specs", "shop.example.com/p/a"),
        ("msi-rtx-5070-12g", "msi-rtx-5070-12g"),
        ("  ", None),
    ],
)
def test_urls_normalise_to_the_item_they_name(url: str, key: str | None) -> None:
    assert normalize_url(url) == key


def test_keys_follow_the_url_then_the_seller_title_and_model() -> None:
    frame = pd.DataFrame(
        {
            "source_url": ["https://a.com/x?utm_medium=m", "http://www.a.com/x/", None, None, ""],
            "seller": ["S", "S", "S", "s", None],
            "title": ["H100", "H100 (new title)", "RTX 4090", "rtx  4090", None],
            "canonical_model": ["H100_PCIE_80GB", None, "RTX_4090", "RTX_4090", None],
        }
    )
    keys = listing_keys(frame.iloc[[0, 2, 3, 4]], source="shop").tolist()
    keys.insert(1, listing_keys(frame.iloc[[1]], source="shop").iloc[0])  # another import's row
    assert keys[0] == keys[1] and keys[0].startswith("u-")  # the URL decides, not the title
    assert keys[2] == keys[3] and keys[2].startswith("t-")  # case and spaces do not count
    assert keys[4] is None  # no URL, no title: nothing to follow
    assert listing_keys(frame.iloc[2:3], source="other").iloc[0] != keys[2]  # within one source


def test_a_url_shared_by_several_rows_does_not_merge_them() -> None:
    frame = pd.DataFrame(
        {
            "source_url": ["https://www.newegg.com/p/pl?d=h100"] * 2,
            "seller": ["N", "N"],
            "title": ["NVIDIA H100 PCIe", "NVIDIA H100 NVL"],
        }
    )
    first, second = listing_keys(frame).tolist()
    assert first != second


@pytest.mark.parametrize(
    "name",
    (
        sorted(
            str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.suffix in (".csv", ".json")
        )
        if CORPUS.exists()
        else []
    ),
)
def test_every_corpus_file_gets_keys(name: str) -> None:
    path = CORPUS / name
    out = run_offline(path, filename=path.name)
    good = out.loc[out["error_stage"].isna()]
    keyed = good["listing_key"].notna()
    assert keyed.mean() > 0.95, (name, keyed.mean())
    assert good.loc[keyed, "listing_key"].str.fullmatch(r"[tu]-[0-9a-f]{20}").all()
    assert len(read_raw(path, path.name)) == len(out)


def _ingest(engine: Engine, settings: Settings, name: str, when: datetime) -> str:
    from glyph_assets.imports import file_chunks, register_import

    path = PAIR / name
    registered = register_import(file_chunks(path), filename=name, source="shop", settings=settings)
    frame = run_offline(path, filename=name)
    import_id = registered.import_id
    repository.replace_import_rows(engine, import_id, [frame])
    repository.set_import_status(engine, import_id, "succeeded")
    from sqlalchemy import update

    from glyph_assets.store.models import Import

    with engine.begin() as conn:
        conn.execute(update(Import).where(Import.import_id == import_id).values(created_at=when))
    return import_id


@pytest.fixture()
def pair(glyph_env: Settings) -> tuple[Engine, str, str]:
    engine = migrate(glyph_env.sqlalchemy_url)
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    first = _ingest(engine, glyph_env, "day1.csv", start)
    second = _ingest(engine, glyph_env, "day2.csv", start + timedelta(days=1))
    return engine, first, second


def test_the_sample_pair_diff_is_exact(pair: tuple[Engine, str, str]) -> None:
    engine, first, second = pair
    assert changes.previous_import(engine, second) == first
    assert changes.previous_import(engine, first) is None
    counts = changes.diff_counts(engine, second, first)
    assert counts.as_dict() == {"new": 1, "gone": 1, "repriced": 3, "unchanged": 2}
    repriced, total = changes.diff_page(engine, second, first, "repriced", 10, 0)
    assert total == 3
    assert [(r["canonical_model"], r["previous_price"], r["price"]) for r in repriced] == [
        ("H100_PCIE_80GB", 27450.0, 25990.0),
        ("L40S", 7900.0, 7400.0),
        ("RTX_4090", 1799.0, 1699.0),
    ]
    assert repriced[0]["price_change"] == -1460.0
    assert repriced[0]["price_change_pct"] == pytest.approx(-5.3188, abs=1e-3)
    gone, _ = changes.diff_page(engine, second, first, "gone", 10, 0)
    assert [g["canonical_model"] for g in gone] == ["RTX_6000_ADA"]
    new, _ = changes.diff_page(engine, second, first, "new", 10, 0)
    assert [n["canonical_model"] for n in new] == ["INSTINCT_MI210"]
    by_model = {m["canonical_model"]: m for m in changes.diff_by_model(engine, second, first)}
    assert by_model["A100_PCIE_80GB"]["unchanged"] == 1 and by_model["INSTINCT_MI210"]["new"] == 1
    recorded = changes.record_diff(engine, second, first)
    assert (recorded["repriced_listings"], recorded["unkeyed_listings"]) == (3, 0)
    assert changes.stored_diff(engine, second)["gone_listings"] == 1


def test_history_and_deltas_follow_one_listing(pair: tuple[Engine, str, str]) -> None:
    engine, first, second = pair
    repriced, _ = changes.diff_page(engine, second, first, "repriced", 10, 0)
    key = repriced[0]["listing_key"]
    seen = changes.history(engine, key)
    assert [(o["import_id"], o["price"]) for o in seen] == [(first, 27450.0), (second, 25990.0)]
    deltas = changes.price_deltas(engine, changes.DeltaFilters(), 100)
    # every listing seen twice with a source URL (the RTX 4090 has none: no delta, as established)
    assert len(deltas) == 4
    by_model = {d["model"]: d for d in deltas}
    assert by_model["H100_PCIE_80GB"]["price_delta"] == -1460.0
    assert by_model["A100_PCIE_80GB"]["price_delta"] == 0.0
    big = changes.price_deltas(engine, changes.DeltaFilters(min_price_change_pct=5), 100)
    assert {d["model"] for d in big} == {"H100_PCIE_80GB", "L40S"}
    later = datetime(2026, 12, 3)
    assert changes.price_deltas(engine, changes.DeltaFilters(after=later), 100) == []
    one = changes.price_deltas(engine, changes.DeltaFilters(delta_id=deltas[0]["id"]), 1)
    assert one[0]["previous_snapshot_id"] == deltas[0]["previous_snapshot_id"]
