"""The established ingestion contract over HTTP on the real stack (issue: scored DTO rows).

Already-scored ``GPUListingDTO`` rows carry no title; they must be accepted in every way in, the
established persist path must answer the established ``ImportResultDTO`` once the Dagster run is
done, and the client's score must come back exactly as sent. Runs once per backend (the
PostgreSQL pass of ``make test`` includes this module).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.imports import import_csv_now, wait_final
from tests.support.stack import RunningStack
from tests.support.warehouse import imports_recorded

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

DTO_ROWS: list[dict[str, Any]] = [
    {
        "canonical_model": "H100_PCIE_80GB",
        "vram_gb": 80,
        "mig_support": 7,
        "nvlink": False,
        "tdp_watts": 350,
        "price": 25000.0,
        "score": 0.92,
        "import_id": "ignored",
        "import_index": 41,
    },
    {
        "canonical_model": "A100_PCIE_80GB",
        "vram_gb": 40,
        "mig_support": 7,
        "nvlink": False,
        "tdp_watts": 300,
        "price": 12000.0,
        "score": 0.81,
    },
    {
        "canonical_model": "RTX_4090",
        "vram_gb": 24,
        "mig_support": 0,
        "nvlink": False,
        "tdp_watts": 450,
        "price": 1799.0,
        "score": 0.55,
    },
]


@pytest.fixture(scope="module")
def api(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_stack.api_url, timeout=400) as client:
        yield client


def listings_of(api: httpx.Client, import_id: str) -> list[dict[str, Any]]:
    page = api.get(f"/api/imports/{import_id}/listings", params={"limit": 1000})
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


@pytest.fixture(scope="module")
def persisted(api: httpx.Client) -> dict[str, Any]:
    """The established persist call, as an established client makes it (no parameters)."""
    response = api.post("/api/persist/listings", json=DTO_ROWS)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_persist_answers_the_established_import_result(persisted: dict[str, Any]) -> None:
    result = persisted
    uuid.UUID(result["import_id"])
    assert result["record_count"] == 3 and result["total_rows"] == 3
    assert (result["first_model"], result["last_model"]) == ("H100_PCIE_80GB", "RTX_4090")
    assert result["timestamp"].endswith("Z")
    datetime.fromisoformat(result["timestamp"].replace("Z", "+00:00"))
    assert result["schema_version"] == "v1.1" and result["glyph_schema_version"] == "1"
    assert result["valid_rows"] == 3 and result["invalid_rows"] == 0
    assert result["rows_with_errors"] == [] and result["validation_errors"] == []
    assert result["score_range"] == [0.55, 0.92]  # the client's scores, as sent
    assert sorted(result["top_models"]) == ["A100_PCIE_80GB", "H100_PCIE_80GB", "RTX_4090"]
    assert result["summary_stats"]["successful_rows"] == 3
    assert result["status"] == "succeeded" and result["kind"] == "scored"
    assert result["score_scale"] == "0-1"
    assert any("0-1" in warning for warning in result["warnings"]), result["warnings"]


def test_persisted_rows_keep_what_they_carry(api: httpx.Client, persisted: dict[str, Any]) -> None:
    rows = listings_of(api, persisted["import_id"])
    assert [r["import_index"] for r in rows] == [1, 2, 3]  # glyph's own numbering, not the body's
    h100, a100, rtx = rows
    assert [r["client_score"] for r in rows] == [0.92, 0.81, 0.55]  # never rewritten
    assert [r["score"] for r in rows] == [92.0, 81.0, 55.0]  # glyph's 0-100 figure
    assert (h100["mig_instances"], h100["vram_gb"], h100["tdp_watts"]) == (7, 80, 350)
    assert h100["architecture"] == "Hopper" and h100["vendor"] == "NVIDIA"  # from the registry
    assert h100["title"] is None and h100["is_gpu"] is True
    # The sender's 40 GB stays; the registry's 80 GB for that id is named in a warning.
    assert a100["vram_gb"] == 40 and "vram_gb 40 contradicts the registry" in a100["warnings"]
    assert rtx["nvlink"] is False
    summary = api.get(f"/api/imports/{persisted['import_id']}").json()
    assert summary["record_count"] == 3 and summary["first_model"] == "H100_PCIE_80GB"
    assert summary["top_models"][0]["canonical_model"]  # glyph's own shape on glyph's path


def test_a_declared_scale_is_followed_and_scores_on_it_stay_as_sent(api: httpx.Client) -> None:
    rows = [dict(DTO_ROWS[0], score=85.0), dict(DTO_ROWS[2], score=0.92)]
    result = api.post("/api/persist/listings", json=rows).json()
    assert result["score_scale"] == "0-100" and result["warnings"] == []
    assert [r["client_score"] for r in listings_of(api, result["import_id"])] == [85.0, 0.92]
    declared = api.post("/api/persist/listings", params={"score_scale": "0-1"}, json=DTO_ROWS[:1])
    assert declared.status_code == 200, declared.text
    assert declared.json()["score_scale"] == "0-1" and declared.json()["warnings"] == []
    assert listings_of(api, declared.json()["import_id"])[0]["score"] == 92.0


def test_persist_can_answer_at_once(api: httpx.Client) -> None:
    for extra in ({"params": {"wait": "false"}}, {"headers": {"Prefer": "respond-async"}}):
        response = api.post("/api/persist/listings", json=DTO_ROWS[:1], **extra)
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["run_id"] and body["kind"] == "scored"
        assert wait_final(api, body["import_id"])["status"] == "succeeded"


def test_persist_refuses_what_the_established_contract_refuses(
    api: httpx.Client, running_stack: RunningStack
) -> None:
    before = imports_recorded(running_stack.engine)
    empty = api.post("/api/persist/listings", json=[])
    assert empty.status_code == 422 and "Empty listings array provided" in empty.json()["detail"]
    broken = api.post("/api/persist/listings", json=[DTO_ROWS[0], {"canonical_model": "B200"}])
    assert broken.status_code == 422
    assert "item 2: score is required" in broken.json()["error"]["problems"]
    wrapped = api.post("/api/persist/listings", json={"listings": DTO_ROWS})
    assert wrapped.status_code == 422
    csv_body = api.post(
        "/api/persist/listings", content=b"a,b\n1,2\n", headers={"content-type": "text/csv"}
    )
    assert csv_body.status_code == 415
    for body in (b"[" * 20_000 + b"]" * 20_000, b"[" * 50_000):
        deep = api.post(
            "/api/persist/listings", content=body, headers={"content-type": "application/json"}
        )
        assert deep.status_code == 422, deep.text
    assert imports_recorded(running_stack.engine) == before


def _csv(rows: list[dict[str, Any]]) -> bytes:
    header = ["canonical_model", "vram_gb", "mig_support", "nvlink", "tdp_watts", "price", "score"]

    def cell(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    lines = [",".join(header)] + [",".join(cell(r[h]) for h in header) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _shopify() -> dict[str, Any]:
    return {
        "products": [
            {
                "title": "NVIDIA RTX A6000 48GB",
                "vendor": "Acme Compute",
                "handle": "rtx-a6000",
                "product_type": "GPU",
                "variants": [{"title": "Default Title", "price": "4650.00", "available": True}],
            },
            {
                "title": "NVIDIA L4 24GB PCIe",
                "vendor": "Acme Compute",
                "handle": "l4",
                "variants": [{"title": "Used", "price": "2100.00", "available": False}],
            },
        ]
    }


ITEMS = {"items": [{"title": "NVIDIA L40S 48GB", "price": "7800"}], "count": 1}
DTO_FORMS = ("bare_array", "envelope", "csv_upload", "csv_body")
GRAMMAR = {"shopify_products": _shopify(), "items_envelope": ITEMS}


@pytest.fixture(scope="module")
def submitted(api: httpx.Client) -> dict[str, httpx.Response]:
    """Every way in, submitted at once (their runs overlap; each test then waits for its own)."""
    csv_rows = _csv(DTO_ROWS)
    calls: dict[str, Any] = {
        "bare_array": lambda: api.post("/api/imports", json=DTO_ROWS),
        "envelope": lambda: api.post(
            "/api/imports", json={"listings": DTO_ROWS, "source": "itest-dto"}
        ),
        "csv_upload": lambda: api.post(
            "/api/imports", files={"file": ("scored.csv", csv_rows, "text/csv")}
        ),
        "csv_body": lambda: api.post(
            "/api/imports", content=csv_rows, headers={"content-type": "text/csv"}
        ),
        "title_number": lambda: api.post(
            "/api/imports",
            json={"listings": [{"title": 4090, "price": 1500}, {"title": "RTX 4090", "price": 9}]},
        ),
    }
    for name, document in GRAMMAR.items():
        data = json.dumps(document).encode()
        calls[f"{name}:body"] = lambda document=document: api.post("/api/imports", json=document)
        calls[f"{name}:file"] = lambda data=data: api.post(
            "/api/imports", files={"file": ("export.json", data, "application/json")}
        )
    return {name: call() for name, call in calls.items()}


@pytest.mark.parametrize("form", DTO_FORMS)
def test_dto_rows_are_accepted_in_every_way_in(
    api: httpx.Client, submitted: dict[str, httpx.Response], form: str
) -> None:
    response = submitted[form]
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "scored"
    summary = wait_final(api, response.json()["import_id"])
    assert summary["status"] == "succeeded", summary
    assert summary["persisted_rows"] == 3 and summary["error_rows"] == 0
    rows = listings_of(api, summary["import_id"])
    assert [r["client_score"] for r in rows] == [0.92, 0.81, 0.55]
    assert rows[0]["mig_instances"] == 7


@pytest.mark.parametrize("name", GRAMMAR)
def test_one_json_grammar_for_bodies_and_files(
    api: httpx.Client, submitted: dict[str, httpx.Response], name: str
) -> None:
    as_body, as_file = submitted[f"{name}:body"], submitted[f"{name}:file"]
    assert (as_body.status_code, as_file.status_code) == (202, 202), (as_body.text, as_file.text)
    counts = []
    for response in (as_body, as_file):
        summary = wait_final(api, response.json()["import_id"])
        counts.append((summary["status"], summary["persisted_rows"], summary["error_rows"]))
    assert counts[0] == counts[1] and counts[0][0] == "succeeded"
    assert counts[0][1] == len(json_document_records(GRAMMAR[name]))


def json_document_records(document: dict[str, Any]) -> list[Any]:
    from glyph_assets.sieve.read import json_document

    return json_document(document).records


def test_a_number_where_text_belongs_is_a_row_error(
    api: httpx.Client, submitted: dict[str, httpx.Response]
) -> None:
    response = submitted["title_number"]
    assert response.status_code == 202, response.text
    summary = wait_final(api, response.json()["import_id"])
    assert (summary["persisted_rows"], summary["error_rows"]) == (1, 1)
    error = api.get(f"/api/imports/{summary['import_id']}/errors").json()["items"][0]
    assert error["import_index"] == 1 and error["field"] == "title"
    assert "JSON number, expected text" in error["reason"]


def test_deep_json_is_a_client_error_everywhere(api: httpx.Client) -> None:
    for path in ("/api/imports", "/api/imports/validate", "/api/imports/from-pipeline"):
        for body in (b"[" * 20_000 + b"]" * 20_000, b"[" * 50_000, b'{"a":' * 5_000):
            response = api.post(path, content=body, headers={"content-type": "application/json"})
            assert 400 <= response.status_code < 500, (path, response.status_code, response.text)


def test_unknown_query_parameters_are_named(api: httpx.Client, persisted: dict[str, Any]) -> None:
    typo = api.get("/api/listings", params={"canonical_modle": "RTX_4090"})
    assert typo.status_code == 422
    assert typo.json()["error"]["details"]["unknown"] == ["canonical_modle"]
    for path in ("/api/imports", f"/api/imports/{persisted['import_id']}/errors"):
        assert api.get(path, params={"colour": "red"}).status_code == 422
    # A route's query model is read by its parameter name, which is no query parameter itself.
    for path in ("/api/listings", "/api/listings/legacy"):
        assert api.get(path, params={"query": "x"}).status_code == 422, path
    import_id = persisted["import_id"]
    for name in ("canonical_model", "model"):
        page = api.get("/api/listings", params={name: "RTX_4090", "import_id": import_id}).json()
        assert [i["canonical_model"] for i in page] == ["RTX_4090"], name


def test_the_established_csv_path_answers_when_done(api: httpx.Client) -> None:
    data = (
        b"title,price,condition,seller\n"
        b"NVIDIA RTX 4090 24GB,1799,new,shop\nRTX 3080 Ti,650,used,ebay\n"
    )
    result = import_csv_now(api, "two.csv", data)
    assert result["record_count"] == 2 and result["filename"] == "two.csv"
    assert result["first_model"] == "RTX_4090" and result["schema_version"] == "v1.1"


def test_schema_versions(api: httpx.Client) -> None:
    versions = api.get("/api/schema-version").json()
    assert versions["current_version"] == "1" and "X-Glyph-Schema-Version" in versions["how_to_ask"]
    refused = api.get("/api/schema-version", headers={"X-Glyph-Schema-Version": "9"})
    assert refused.status_code == 406
    established = api.get("/api/schema/versions").json()
    assert established == {
        "supported_versions": ["v1.0", "v1.1"],
        "default_version": "v1.1",
        "current_version": "v1.1",
    }


def test_from_pipeline_takes_an_already_scored_csv(
    api: httpx.Client, running_stack: RunningStack
) -> None:
    root = running_stack.settings.from_pipeline_root
    (root / "scored").mkdir(parents=True, exist_ok=True)
    (root / "scored" / "out.csv").write_bytes(_csv(DTO_ROWS))
    response = api.post(
        "/api/imports/from-pipeline",
        json={"input_csv_path": "scored/out.csv", "source_label": "pipeline-x", "metadata": None},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["record_count"], result["first_model"], result["kind"]) == (
        3,
        "H100_PCIE_80GB",
        "scored",
    )
    assert result["source"] == "pipeline-x" and result["schema_version"] == "v1.1"
