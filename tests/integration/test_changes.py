"""Listings across imports over HTTP on the real stack: the sample pair glyph ships
(``data/samples/changes``), imported one after the other by the same source, gives an exact
history and diff, the listing_changes asset's record in the summary, and the established price
deltas. Runs on SQLite and, in the PostgreSQL pass of ``make test``, on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from glyph_assets.settings import PROJECT_ROOT
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PAIR = PROJECT_ROOT / "data" / "samples" / "changes"
Pair = tuple[dict[str, Any], dict[str, Any]]


@pytest.fixture(scope="module")
def api(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_stack.api_url, timeout=400) as client:
        yield client


@pytest.fixture(scope="module")
def pair(api: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    source = f"shop-{uuid.uuid4().hex[:8]}"  # its own source: no other test's import precedes
    done = []
    for name in ("day1.csv", "day2.csv"):
        with open(PAIR / name, "rb") as fh:
            response = api.post(
                "/api/import/csv",
                params={"source": source},
                files={"file": (name, fh, "text/csv")},
            )
        assert response.status_code == 200, response.text
        done.append(response.json())
    return done[0], done[1]


def test_the_diff_of_the_sample_pair(api: httpx.Client, pair: Pair) -> None:
    first, second = pair
    diff = api.get(f"/api/imports/{second['import_id']}/diff").json()
    assert diff["against"] == first["import_id"]  # the previous import of the same source
    assert diff["counts"] == {"new": 1, "gone": 1, "repriced": 3, "unchanged": 2}
    assert [
        (i["canonical_model"], i["import_index"], i["previous_import_index"])
        + (i["previous_price"], i["price"], i["price_change"], i["price_change_pct"])
        for i in diff["items"]
    ] == [
        ("H100_PCIE_80GB", 1, 1, 27450.0, 25990.0, -1460.0, -5.3188),
        ("L40S", 3, 3, 7900.0, 7400.0, -500.0, -6.3291),
        ("RTX_4090", 5, 6, 1799.0, 1699.0, -100.0, -5.5586),
    ]
    h100 = diff["items"][0]
    assert (h100["title"], h100["currency"], h100["previous_currency"]) == (
        "NVIDIA H100 PCIe 80GB",
        "USD",
        "USD",
    )
    # USD is USD: rate 1 without a table row, so no rate date and no reason
    assert h100["usd"] == {
        "price": 25990.0,
        "previous_price": 27450.0,
        "price_change": -1460.0,
        "rate": 1.0,
        "rate_date": None,
        "reason": None,
        "previous_rate": 1.0,
        "previous_rate_date": None,
        "previous_reason": None,
    }
    assert diff["total"] == 3 and (diff["limit"], diff["offset"]) == (50, 0)
    assert diff["by_model"] == [
        {"canonical_model": m, "new": n, "gone": g, "repriced": r, "unchanged": u}
        for m, n, g, r, u in [
            ("H100_PCIE_80GB", 0, 0, 1, 0),
            ("INSTINCT_MI210", 1, 0, 0, 0),
            ("L40S", 0, 0, 1, 0),
            ("RTX_4090", 0, 0, 1, 0),
            ("RTX_6000_ADA", 0, 1, 0, 0),
            ("A100_PCIE_80GB", 0, 0, 0, 1),
            ("L4", 0, 0, 0, 1),
        ]
    ]
    gone = api.get(f"/api/imports/{second['import_id']}/diff", params={"change": "gone"}).json()
    assert [
        (i["canonical_model"], i["import_index"], i["previous_import_index"], i["price"])
        + (i["previous_price"], i["usd"]["previous_price"], i["usd"]["price"])
        for i in gone["items"]
    ] == [("RTX_6000_ADA", None, 4, None, 6800.0, 6800.0, None)]
    new = api.get(f"/api/imports/{second['import_id']}/diff", params={"change": "new"}).json()
    assert [(i["canonical_model"], i["price"], i["previous_price"]) for i in new["items"]] == [
        ("INSTINCT_MI210", 4900.0, None)
    ]
    # The A100's day-2 URL differs by scheme, www., a trailing slash and tracking parameters.
    unchanged = api.get(
        f"/api/imports/{second['import_id']}/diff", params={"change": "unchanged"}
    ).json()
    assert [(i["canonical_model"], i["price"], i["price_change"]) for i in unchanged["items"]] == [
        ("A100_PCIE_80GB", 14200.0, 0.0),
        ("L4", 2100.0, 0.0),
    ]
    paged = api.get(
        f"/api/imports/{second['import_id']}/diff",
        params={"change": "unchanged", "limit": 1, "offset": 1},
    ).json()
    assert paged["total"] == 2 and [i["canonical_model"] for i in paged["items"]] == ["L4"]
    beyond = api.get(
        f"/api/imports/{second['import_id']}/diff", params={"change": "unchanged", "offset": 5}
    ).json()
    assert (beyond["total"], beyond["items"]) == (2, [])
    first_diff = api.get(f"/api/imports/{first['import_id']}/diff").json()
    assert first_diff["against"] is None and first_diff["counts"]["new"] == 6
    # The asset that runs after persisting recorded the same counts for the summary.
    recorded = api.get(f"/api/imports/{second['import_id']}").json()["listing_changes"]
    assert (recorded["new_listings"], recorded["repriced_listings"]) == (1, 3)
    assert recorded["against_import_id"] == first["import_id"]
    missing = api.get(
        f"/api/imports/{second['import_id']}/diff", params={"against": str(uuid.uuid4())}
    )
    assert missing.status_code == 404


SELLER = "Northbridge Compute"


def diff_of(api: httpx.Client, imported: dict[str, Any], change: str) -> list[dict[str, Any]]:
    url = f"/api/imports/{imported['import_id']}/diff"
    return api.get(url, params={"change": change}).json()["items"]


def test_one_listing_across_the_pair(api: httpx.Client, pair: Pair) -> None:
    first, second = pair
    diff = api.get(f"/api/imports/{second['import_id']}/diff").json()
    key = diff["items"][0]["listing_key"]
    history = api.get(f"/api/listings/{key}/history").json()
    assert [
        (o["import_id"], o["import_index"], o["price"], o["unit_price"], o["currency"])
        + (o["condition"], o["quantity"], o["canonical_model"], o["seller"])
        for o in history["observations"]
    ] == [
        (first["import_id"], 1, 27450.0, 27450.0, "USD", "new", None, "H100_PCIE_80GB", SELLER),
        (second["import_id"], 1, 25990.0, 25990.0, "USD", "new", None, "H100_PCIE_80GB", SELLER),
    ]
    times = [o["observed_at"] for o in history["observations"]]
    assert times == sorted(times) and times[0] < times[1]  # oldest first
    # The A100 is one listing across both days although its URL changed (tracking parameters).
    a100 = [
        i for i in diff_of(api, second, "unchanged") if i["canonical_model"] == "A100_PCIE_80GB"
    ]
    a100_seen = api.get(f"/api/listings/{a100[0]['listing_key']}/history").json()
    assert [o["source_url"] for o in a100_seen["observations"]] == [
        "https://shop.example.com/products/a100-pcie-80gb?utm_source=feed",
        "http://www.shop.example.com/products/a100-pcie-80gb/?utm_campaign=dec&gclid=abc",
    ]
    assert api.get("/api/listings/u-00000000000000000000/history").status_code == 404


def test_price_deltas_as_established(api: httpx.Client, pair: Pair) -> None:
    deltas = api.get("/api/forecast/deltas", params={"model": "H100_PCIE_80GB"}).json()
    assert isinstance(deltas, list) and deltas
    h100 = deltas[0]
    assert h100["price_delta"] == -1460.0 and h100["price_delta_pct"] == pytest.approx(
        -5.3188, 1e-3
    )
    assert "+" not in (h100["timestamp"] or "") and not (h100["timestamp"] or "").endswith("Z")
    detail = api.get(f"/api/forecast/deltas/{h100['id']}").json()
    assert detail["previous_snapshot"]["price_usd"] == 27450.0
    missing = api.get("/api/forecast/deltas/999999999")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"].lower()
    # Ids no 64-bit key can hold are not found either (the driver cannot even bind them).
    for beyond in (2**63, -1, 0):
        assert api.get(f"/api/forecast/deltas/{beyond}").status_code == 404, beyond
    assert len(api.get("/api/forecast/deltas", params={"limit": 1}).json()) <= 1
    assert api.get("/api/forecast/deltas", params={"after": "2999-01-01T00:00:00Z"}).json() == []
    assert api.get("/api/forecast/deltas", params={"limit": "x"}).status_code == 422
