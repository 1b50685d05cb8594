"""listing_key (pure), and the history / diff / price deltas it makes possible, on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.sieve.changes import DIFF_INPUT_COLUMNS, RUN_COLUMNS, compare_imports
from glyph_assets.sieve.listing_key import (
    _ebay_items,
    _key,
    listing_keys,
    normalize_url,
    normalized_urls,
)
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


# eBay-like URLs, odd ones included: digits of other scripts (Python's ``\d`` takes them,
# Arrow's RE2 does not), whitespace that Python and RE2 class differently (``\x0b``, ``\x1c``,
# ``\xa0``), upper case, doubled slashes, ports, queries and fragments, in any part of the URL.
# Most parts are plain, so that a good share of the URLs takes the column-wise path.
_ODD = [" ", "\t", "\x0b", "\x1c", "\xa0", "\u2028", "/", "//", "?", "#", "%2F", "\u0663\u0664"]


def _part(*usual: str) -> st.SearchStrategy[str]:
    odd = st.one_of(st.just(""), st.just(""), st.just(""), st.sampled_from(_ODD))
    return st.tuples(st.sampled_from(usual), odd, st.booleans()).map(
        lambda p: p[0] + p[1] if p[2] else p[1] + p[0]
    )


_EBAY_LIKE = st.tuples(
    _part("https://", "http://", "HTTPS://", "", "ftp://"),
    _part("www.ebay.com", "ebay.de", "m.ebay.co.uk", "EBAY.com", "ebay.com:443", "ebay.example"),
    _part("/itm/", "/ITM/", "/itm", "/p/"),
    _part("", "rtx-4090/", "a b/", "123456789/"),
    _part("336080157531", "123456789", "1234567890123456", "12345678", "\u0663" * 9),
    _part("", "/", "?hash=item1", "#x", "?a=1&utm_source=2", "/987654321"),
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_EBAY_LIKE)
@example("https://www.ebay.com/itm/123456789/" + "\u0663" * 9)  # the rule's \d takes these
@example("https://www.ebay.com/itm/123456789/987654321\xa0")  # str.strip removes \xa0
@example("https://www.ebay.com/itm/123456789/987654321\x0b")
@example("https://www.ebay.com/itm/123456789//987654321")  # read with the slashes collapsed
@example("https://www.ebay.com/itm/rtx-4090/336080157531?hash=item1")
@example("https://www.ebay.com/itm/123456789/987654321")
@example("https://www.ebay.com/itm/123456789/x#y")
@example("https://www.ebay.com/itm/336080157531?ref=https://a.example//b")
def test_column_wise_urls_equal_the_rule_on_any_url(url: str) -> None:
    """Whatever the column-wise path (``_ebay_items``) takes, it reads as ``normalize_url``;
    what it does not take goes through ``normalize_url`` itself. A doubled slash after the item
    ("/itm/123456789//987654321") is read with the slashes collapsed, as ``normalize_url`` reads
    it, not as the item before it."""
    assert normalized_urls(pd.DataFrame({"source_url": [url]})).to_pylist() == [normalize_url(url)]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_the_property_test_urls_often_take_the_column_wise_path() -> None:
    """The property test above compares something only where ``_ebay_items`` takes the URL."""
    urls = [_EBAY_LIKE.example() for _ in range(400)]
    taken = _ebay_items(pa.array(urls, type=pa.string())).is_valid().to_pylist()
    assert sum(taken) >= 20, sum(taken)  # about 50 expected


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


def _row_by_row(frame: pd.DataFrame, source: str) -> list[str | None]:
    """The key rule applied one row at a time: ``normalize_url`` and ``_key`` on each row."""
    cells = frame.astype(object).where(frame.notna(), None).to_dict("records")
    urls = [normalize_url(str(c.get("source_url") or "")) for c in cells]
    counts = {u: urls.count(u) for u in urls}
    text = [{k: str(c.get(k) or "") for k in ("seller", "title", "canonical_model")} for c in cells]
    return [
        _key(
            url,
            t["seller"],
            t["title"],
            t["canonical_model"],
            source,
            bool(url) and counts[url] > 1,
        )
        for url, t in zip(urls, text, strict=True)
    ]


_URL_PIECES = st.sampled_from(
    [
        "https://www.ebay.com/itm/",
        "http://ebay.co.uk/itm/",
        "https://m.ebay.de/itm/",
        "https://WWW.EBAY.com/itm/",
        "https://www.ebay.com//itm/",
        "https://www.ebay.com/itm//",
        "https://ebay.com/sch/",
        "https://notebay.com/itm/",
        "ebay.com/itm/",
        "https://shop.example.com/products/",
        " https://www.ebay.com/itm/",
        "",
    ]
)
_TAILS = st.sampled_from(
    [
        "",
        "/",
        "?hash=item1&_trk=x",
        "#desc",
        "/987654321",
        "/x",
        " ",
        "\t",
        "?v=2&utm_source=a",
        "?a=/123456789",
        "/123456789012/",
        "#/987654321",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            _URL_PIECES,
            st.sampled_from(["", "rtx-4090-fe/", "a/b/", "Ünïcode/", "123456789/", "x?y/"]),
            st.sampled_from(["", "12345678", "123456789", "336080157531", "1234567890123456"]),
            _TAILS,
            st.sampled_from(["", "Seller", "STRASSE", "straße", None]),
            st.sampled_from(["RTX 4090", "rtx  4090", "", " \x1c\u3000", None]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_column_wise_keys_equal_the_rule_row_by_row(rows: list[tuple]) -> None:
    """The column-wise fast paths (eBay items in one regex pass, unshared URLs in one digest
    pass) give every row the key the rule gives it alone, on URLs at the edges of the fast
    path's shape (upper-case hosts, doubled slashes, ids too long or short, whitespace)."""
    frame = pd.DataFrame(
        [
            {"source_url": base + slug + digits + tail, "seller": seller, "title": title}
            for base, slug, digits, tail, seller, title in rows
        ]
    )
    frame["canonical_model"] = None
    expected = _row_by_row(frame, "shop")
    assert listing_keys(frame, "shop").tolist() == expected
    arrow = frame.astype({c: "string[pyarrow]" for c in ("source_url", "seller", "title")})
    assert listing_keys(arrow, "shop").tolist() == expected


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
    assert counts == {"new": 1, "gone": 1, "repriced": 3, "unchanged": 2}
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


def _stored_import(engine: Engine, frame: pd.DataFrame, when: datetime) -> str:
    """An import of ``frame`` (scored rows) written and ended as persisted_listings does."""
    import uuid

    from sqlalchemy import update

    from glyph_assets.store.models import Import
    from glyph_assets.store.status import ImportStatus

    import_id = str(uuid.uuid4())
    repository.create_import(
        engine, import_id=import_id, source="diff", sha256="0" * 64, size_bytes=0, kind="raw"
    )
    with engine.begin() as conn:
        conn.execute(update(Import).where(Import.import_id == import_id).values(created_at=when))
    counts = repository.replace_import_rows(engine, import_id, [frame])
    repository.finish_import(engine, import_id, ImportStatus.SUCCEEDED, counts=counts)
    return import_id


def _keyed_then_two_keyless(
    engine: Engine, keyed: pd.DataFrame, keyless: pd.DataFrame
) -> tuple[str, str, str]:
    """Three ended imports a day apart: ``keyed``, then ``keyless`` twice; their ids."""
    start = datetime(2026, 12, 1, tzinfo=UTC)
    return (
        _stored_import(engine, keyed, start),
        _stored_import(engine, keyless, start + timedelta(days=1)),
        _stored_import(engine, keyless, start + timedelta(days=2)),
    )


def _expected_diff(first: pd.DataFrame, second: pd.DataFrame) -> dict[str, list[tuple]]:
    """The diff as the docstring of store/changes.py defines it, written out in Python: the
    first row of each key stands for it, prices compare within one currency."""

    def firsts(frame: pd.DataFrame) -> dict[str, dict]:
        good = frame.loc[frame["error_stage"].isna() & frame["listing_key"].notna()]
        rows = good.sort_values("import_index").drop_duplicates("listing_key")
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        return {r["listing_key"]: r for r in records}

    before, after = firsts(first), firsts(second)
    found: dict[str, list[tuple]] = {c: [] for c in changes.CHANGES}
    for key in sorted(set(before) | set(after)):
        here, there = after.get(key), before.get(key)
        if here and there:
            same = (here["price"], here["currency"]) == (there["price"], there["currency"])
            kind = "unchanged" if same else "repriced"
        else:
            kind = "new" if here else "gone"
        this, other = here or {}, there or {}
        comparable = this.get("currency") == other.get("currency")
        both = this.get("price") is not None and other.get("price") is not None
        found[kind].append(
            (
                (other if kind == "gone" else this)["import_index"],
                key,
                this.get("canonical_model") or other.get("canonical_model"),
                this.get("import_index"),
                other.get("import_index"),
                this.get("price"),
                other.get("price"),
                this.get("currency") or other.get("currency"),
                other.get("currency"),
                this["price"] - other["price"] if comparable and both else None,
            )
        )
    return {kind: [row[1:] for row in sorted(rows)] for kind, rows in found.items()}


def _page_rows(rows: list[dict]) -> list[tuple]:
    names = ["listing_key", "canonical_model", "import_index", "previous_import_index"]
    names += ["price", "previous_price", "currency", "previous_currency", "price_change"]
    return [tuple(r[n] for n in names) for r in rows]


def _check_pages(engine: Engine, after: str, before: str | None, expected: dict) -> None:
    """Every kind's rows, whole, by offset pages and by keyset pages (also with an offset)."""
    for kind in changes.CHANGES:
        whole, total = changes.diff_page(engine, after, before, kind, 1000, 0)
        assert total == len(expected[kind])
        assert _page_rows(whole) == expected[kind], kind
        position = "previous_import_index" if kind == "gone" else "import_index"
        offset_pages, keyset_pages, mark = [], [], None
        for offset in range(0, total + 7, 7):
            offset_pages += changes.diff_page(engine, after, before, kind, 7, offset)[0]
            page, _ = changes.diff_page(engine, after, before, kind, 7, 0, mark)
            keyset_pages += page
            if page:
                mark = page[-1][position]
        assert _page_rows(offset_pages) == _page_rows(keyset_pages) == expected[kind], kind
        for n in (0, 1, total // 2):  # a keyset and an offset after it
            if n < total:
                mark = whole[n][position]
                page, _ = changes.diff_page(engine, after, before, kind, 5, 3, mark)
                assert _page_rows(page) == expected[kind][n + 4 : n + 9], (kind, n)


def test_pages_and_recorded_summary_match_a_full_comparison(glyph_env: Settings) -> None:
    """Two imports with every case the diff must tell apart (gone, new, repriced, a currency
    change, prices becoming NULL, keys repeated within an import, rows without a key or a
    model): each kind's pages, by offset and by keyset, are exactly the full comparison, both
    compared on demand and read from what the listing_changes asset recorded; the recorded
    summary is the one compared on demand until a side's rows are written again."""
    from glyph_assets.store.status import ImportStatus
    from glyph_assets.tooling.bench.storage import scored_frame

    engine = migrate(glyph_env.sqlalchemy_url)
    first = scored_frame(400, 1, seed=3)
    second = scored_frame(400, 1, seed=3).iloc[30:].copy()  # 30 gone (some were errors)
    index = second["import_index"].to_numpy()
    second.loc[index % 7 == 0, "price"] = second["price"] * 0.9  # repriced
    second.loc[index % 11 == 0, "currency"] = "EUR"  # same number, another currency
    second.loc[index % 13 == 0, "price"] = None
    first.loc[first["import_index"] % 17 == 0, "price"] = None  # NULL on both sides: unchanged
    second.loc[index % 19 == 0, "listing_key"] = None  # no key: in no kind
    second.loc[index % 23 == 0, "canonical_model"] = None
    # a key repeated later in both imports: the first row stands for it, the repeat is nothing
    first.loc[first["import_index"] == 399, "listing_key"] = first["listing_key"].iloc[50]
    second.loc[index == 398, "listing_key"] = first["listing_key"].iloc[60]
    added = scored_frame(25, 401, seed=4)  # new rows after the old ones
    second = pd.concat([second, added], ignore_index=True)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    before = _stored_import(engine, first, start)
    after = _stored_import(engine, second, start + timedelta(days=1))
    expected = _expected_diff(first, second)
    assert all(len(expected[k]) > 5 for k in changes.CHANGES), {
        k: len(v) for k, v in expected.items()
    }
    computed = changes.diff_by_model(engine, after, before)
    counts = changes.diff_counts(engine, after, before)
    assert counts == {k: len(v) for k, v in expected.items()}
    _check_pages(engine, after, before, expected)
    assert changes.recorded_by_model(engine, after, before) is None
    recorded = changes.record_diff(engine, after, before)
    assert {k: recorded[f"{k}_listings"] for k in changes.CHANGES} == counts
    assert changes.recorded_by_model(engine, after, before) == computed
    assert changes.recorded_by_model(engine, after, None) is None  # another pair
    _check_pages(engine, after, before, expected)  # now from the record's runs
    # nothing before the first import: every keyed first row is new, recorded or not
    alone = _expected_diff(first.iloc[0:0], first)
    _check_pages(engine, before, None, alone)
    changes.record_diff(engine, before, None)
    assert changes.recorded_by_model(engine, before, None) is not None
    _check_pages(engine, before, None, alone)
    # the older import's rows written again: the record no longer holds
    repository.finish_import(engine, before, ImportStatus.SUCCEEDED)
    assert changes.recorded_by_model(engine, after, before) is None
    assert changes.diff_by_model(engine, after, before) == computed


def test_a_recorded_page_seeks_each_key_instead_of_reading_an_import(
    glyph_env: Settings,
) -> None:
    """A page of the recorded diff reads its own rows on (import_id, import_index) and finds
    each one's row in the other import by its key (ix_listings_key_import), on SQLite without
    statistics too: neither import is read row by row."""
    from sqlalchemy.dialects import sqlite

    engine = migrate(glyph_env.sqlalchemy_url)
    for change in changes.CHANGES:
        query = changes._recorded_rows("a", "b", change, [1, 2, 3])
        sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        assert not [step for step in plan if step.startswith("SCAN")], (change, plan)
        assert any("ix_listings_key_import" in step for step in plan), (change, plan)


def test_imports_without_any_keyed_listing_compare_to_nothing() -> None:
    """Scored rows without URL or title have no listing_key: nothing to follow, and the
    comparison (the listing_changes asset's) records no run rather than failing the run."""
    rows = pd.DataFrame(
        {
            "import_index": [1, 2],
            "listing_key": pd.array([None, None], dtype="string[pyarrow]"),
            "canonical_model": pd.array(["H100_80GB_PCIE", None], dtype="string[pyarrow]"),
            "price": [100.0, 200.0],
            "currency": pd.array(["USD", "USD"], dtype="string[pyarrow]"),
        }
    )[DIFF_INPUT_COLUMNS]
    for other in (None, rows):
        found = compare_imports(rows, other)
        assert found.runs.empty and list(found.runs.columns) == RUN_COLUMNS
        assert all(m["new"] == m["gone"] == m["repriced"] == 0 for m in found.by_model)


def test_an_import_without_keys_records_nothing_to_compare_yet_counts_the_gone(
    glyph_env: Settings,
) -> None:
    """record_diff of an import none of whose rows has a key: against another keyless import
    it records nothing to compare (every row unkeyed; neither import is read, a shortcut this
    keeps honest);
    against an import with keys, each of those keys is gone, as a full comparison says."""
    from glyph_assets.tooling.bench.storage import scored_frame

    engine = migrate(glyph_env.sqlalchemy_url)
    keyed = scored_frame(60, 1, seed=5)
    keyless = scored_frame(50, 1, seed=6).assign(listing_key=None)
    with_keys, first, second = _keyed_then_two_keyless(engine, keyed, keyless)
    recorded = changes.record_diff(engine, second, first)
    assert {k: recorded[f"{k}_listings"] for k in changes.CHANGES} == dict.fromkeys(
        changes.CHANGES, 0
    )
    assert recorded["unkeyed_listings"] == 50 - int(keyless["error_stage"].notna().sum())
    assert recorded["by_model"] == []
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        statements.append((statement, parameters))

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", seen)
    try:
        gone = changes.record_diff(engine, first, with_keys)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert gone["gone_listings"] == changes.diff_counts(engine, first, with_keys)["gone"] > 0
    assert gone["by_model"] == changes.diff_by_model(engine, first, with_keys)
    # the keyless side is not read, and the runs its pages are found by are a full comparison's
    reads = [p for s, p in statements if "FROM listings" in s and "listing_key" in s]
    assert reads and not any(first in map(str, p) for p in reads), reads
    with engine.connect() as conn:
        full = compare_imports(changes._rows_of(conn, first), changes._rows_of(conn, with_keys))
        stored = conn.exec_driver_sql(
            "SELECT change, first_index, last_index, members_before, members"
            " FROM import_diff_runs WHERE import_id = ? ORDER BY change, first_index",
            (first,),
        ).all()
    expected = full.runs.sort_values(["change", "first_index"])
    assert [tuple(r) for r in stored] == [
        tuple(int(v) if k != "change" else v for k, v in row.items())
        for row in expected.to_dict("records")
    ]


def test_ended_imports_say_from_their_figures_whether_they_have_keys(
    glyph_env: Settings,
) -> None:
    """Once both imports ended, whether they have keyed rows comes from their stored figures
    (``keyed_rows``, migration 0016): record_diff of two keyless imports reads no listing. A
    summary stored before 0016 (NULL) falls back to counting the rows, with the same result."""
    from sqlalchemy import event, update

    from glyph_assets.store import summaries
    from glyph_assets.store.models import ImportSummary
    from glyph_assets.tooling.bench.storage import scored_frame

    engine = migrate(glyph_env.sqlalchemy_url)
    keyed = scored_frame(40, 1, seed=7)
    keyless = scored_frame(30, 1, seed=8).assign(listing_key=None)
    with_keys, first, second = _keyed_then_two_keyless(engine, keyed, keyless)
    with engine.connect() as conn:
        unkeyed = 30 - int(keyless["error_stage"].notna().sum())
        assert summaries.stored_key_counts(conn, first) == (0, unkeyed)
        stored = summaries.stored_key_counts(conn, with_keys)
    assert stored is not None and stored[0] == keyed.loc[keyed["error_stage"].isna()].shape[0]

    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        recorded = changes.record_diff(engine, second, first)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "FROM listings" in s], statements
    assert recorded["by_model"] == [] and recorded["new_listings"] == 0

    with engine.begin() as conn:  # as a summary stored before migration 0016 holds it
        conn.execute(update(ImportSummary).values(keyed_rows=None))
    counted = changes.record_diff(engine, second, first)
    assert {k: v for k, v in counted.items() if k != "computed_at"} == {
        k: v for k, v in recorded.items() if k != "computed_at"
    }
