"""Security through the real HTTP API: paths, SQL, CSV export, bind addresses and the token."""

from __future__ import annotations

import ast
import csv
import io
import ipaddress
import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.store.models import Listing
from glyph_assets.tooling import supervisor
from glyphd_api import export
from glyphd_api.export import neutralise
from tests.support.imports import import_rows, landing_entries
from tests.support.reliability import extra_api
from tests.support.stack import RunningStack, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CSV = b"title,price,seller\nNVIDIA L4 24GB,2100,Acme\nNVIDIA T4 16GB,650,Acme\n"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def api(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_stack.api_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def unlaunched(running_stack: RunningStack) -> Iterator[httpx.Client]:
    """The API on the stack's database and data directory with Dagster out of reach: a
    submission is landed and recorded, then answered 503 as its run cannot be launched. What
    these tests check (paths, names) is settled before the launch, so no run is spent on it."""
    with (
        extra_api(running_stack, dagster_port=str(free_port())) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        yield client


def recorded(response: httpx.Response) -> str:
    """The import a submission to ``unlaunched`` recorded (landed, then not launched)."""
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "dagster_unavailable", error
    return str(error["details"]["import_id"])


def multipart(filename: bytes, data: bytes) -> tuple[bytes, dict[str, str]]:
    """A form built by hand: clients may send any bytes as the filename."""
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: text/csv\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


# -- client filenames ----------------------------------------------------------------------------
ATTACK_NAMES = frozenset({"passwd", "evil.csv", "c.csv", "outside.csv", "disposition.csv"})


def _named_like_attacks(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.name in ATTACK_NAMES}


def test_client_filenames_never_become_paths(
    unlaunched: httpx.Client, running_stack: RunningStack
) -> None:
    api = unlaunched
    data_dir = running_stack.settings.data_dir
    landing = running_stack.settings.landing_dir
    before = landing_entries(running_stack)
    names = {
        b"../../etc/passwd": "passwd",
        b"..\\..\\windows\\system32\\evil.csv": "evil.csv",
        b"/tmp/absolute-evil.csv": "absolute-evil.csv",
        b"a\x00b/../../c.csv": "c.csv",
        b"nul\x00.csv": "nul.csv",
        b"L" * 2000 + b".csv": "L" * 500,
    }
    attack_named_before = _named_like_attacks(data_dir.parent)
    accepted: dict[str, str] = {}
    for raw, name in names.items():
        body, headers = multipart(raw, CSV)
        response = api.post("/api/imports", content=body, headers=headers)
        accepted[recorded(response)] = name
    # A name beyond the multipart parser's header limit is a malformed request, not a path.
    body, headers = multipart(b"L" * 20000 + b".csv", CSV)
    too_long = api.post("/api/imports", content=body, headers=headers)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "bad_request"
    raw_body = api.post(
        "/api/import/csv",
        content=CSV,
        params={"filename": "../../../outside.csv"},
        headers={"content-type": "text/csv"},
    )
    accepted[recorded(raw_body)] = "outside.csv"
    disposition = api.post(
        "/api/import/csv",
        content=CSV,
        headers={
            "content-type": "text/csv",
            "content-disposition": 'attachment; filename="../../disposition.csv"',
        },
    )
    accepted[recorded(disposition)] = "disposition.csv"

    assert landing_entries(running_stack) - before == set(accepted)
    for import_id, name in accepted.items():
        assert UUID_RE.match(import_id)
        [row] = import_rows(running_stack, import_id=import_id)
        assert row["filename"] == name
        stored = sorted(os.listdir(landing / import_id))
        assert stored == ["manifest.json", "original.csv"], stored
        manifest = json.loads((landing / import_id / "manifest.json").read_text())
        assert Path(manifest["stored_as"]) == (landing / import_id / "original.csv").resolve()
        assert (landing / import_id / "original.csv").read_bytes() == CSV
    # Other tests of the shared stack may leave such names on purpose (test_api's outside.csv):
    # only a file that appeared while this test posted would be one of these names made a path.
    assert _named_like_attacks(data_dir.parent) == attack_named_before
    assert not Path("/tmp/absolute-evil.csv").exists()


# -- from-pipeline -------------------------------------------------------------------------------
def test_from_pipeline_reads_only_under_its_root(
    unlaunched: httpx.Client, running_stack: RunningStack
) -> None:
    api = unlaunched
    root = running_stack.settings.from_pipeline_root
    base = root / "sec"
    base.mkdir(parents=True, exist_ok=True)
    (base / "inside.csv").write_bytes(CSV)
    outside_dir = root.parent / "outside-sec"
    outside_dir.mkdir(exist_ok=True)
    (outside_dir / "secret.csv").write_bytes(CSV)
    (base / "link-out.csv").symlink_to(outside_dir / "secret.csv")
    (base / "dir-out").symlink_to(outside_dir, target_is_directory=True)
    (base / "link-in.csv").symlink_to(base / "inside.csv")
    (base / "loop-a").symlink_to(base / "loop-b")
    (base / "loop-b").symlink_to(base / "loop-a")
    (base / "subdir").mkdir(exist_ok=True)
    before = (landing_entries(running_stack), len(import_rows(running_stack)))

    refused = {
        "sec/link-out.csv": (403, "path_forbidden"),
        "sec/dir-out/secret.csv": (403, "path_forbidden"),
        str(outside_dir / "secret.csv"): (403, "path_forbidden"),
        "/etc/passwd": (403, "path_forbidden"),
        "sec/../../outside-sec/secret.csv": (422, "path_not_allowed"),
        "..": (422, "path_not_allowed"),
        "sec/inside.csv\x00.txt": (422, "path_not_allowed"),
        "sec/loop-a": (422, "path_not_allowed"),
        "sec/subdir": (422, "path_not_allowed"),
        "sec/missing.csv": (404, "file_not_found"),
    }
    for given, (status, code) in refused.items():
        response = api.post("/api/imports/from-pipeline", json={"input_csv_path": given})
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), given
    assert (landing_entries(running_stack), len(import_rows(running_stack))) == before

    landing = running_stack.settings.landing_dir
    for given in ("sec/inside.csv", "sec/link-in.csv", str(base / "inside.csv")):
        response = api.post(
            "/api/imports/from-pipeline", json={"input_csv_path": given, "source_label": "sec"}
        )
        import_id = recorded(response)
        [row] = import_rows(running_stack, import_id=import_id)
        assert (row["filename"], row["source"]) == ("inside.csv", "sec")
        assert (landing / import_id / "original.csv").read_bytes() == CSV


# -- SQL -----------------------------------------------------------------------------------------
SQL_CALLS = {"text", "execute", "executemany", "exec_driver_sql", "executescript"}
# Built at run time on purpose: identifiers come from the models, values are bound with "?".
ALLOWED_DYNAMIC_SQL = {("glyph_assets/store/repository.py", "_bulk_insert")}
# A migration's DDL names the tables and columns of its own constants (a rebuilt table's column
# list): identifiers only, never a value from a request or a file.
MIGRATIONS = "glyph_assets/store/migrations/versions/"
# Calls whose names collide with SQL entry points but build no statement (Dagster's metadata).
NOT_SQL_OWNERS = {"MetadataValue"}


def _dynamic_sql_calls(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for function in [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]:
        for node in ast.walk(function):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            owner = getattr(getattr(node.func, "value", None), "id", None)
            if owner in NOT_SQL_OWNERS:
                continue
            first = node.args[0]
            built = isinstance(first, ast.JoinedStr | ast.BinOp) or (
                isinstance(first, ast.Call) and getattr(first.func, "attr", "") == "format"
            )
            if name in SQL_CALLS and built:
                found.append((function.name, node.lineno))
    return found


def test_no_sql_or_graphql_is_built_from_strings() -> None:
    """Every statement the service runs is a constant or SQLAlchemy Core; values are bound."""
    offenders = []
    for package in ("glyph_assets", "glyphd_api"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT).as_posix()
            if relative.startswith("glyph_assets/tooling/bench/"):
                continue  # the benchmark harness is not part of the service
            if relative.startswith(MIGRATIONS):
                continue  # DDL over the migration's own constant names; no value is ever read
            for function, line in _dynamic_sql_calls(path):
                if (relative, function) not in ALLOWED_DYNAMIC_SQL:
                    offenders.append(f"{relative}:{line} in {function}")
    assert offenders == []
    # The allowed builder only interpolates the table and column names of the models.
    source = (PROJECT_ROOT / "glyph_assets/store/repository.py").read_text()
    assert 'VALUES ({marks})", rows)' in source


SQL_TITLES = [
    "NVIDIA L4 24GB'); DROP TABLE listings;--",
    'NVIDIA L4 24GB" OR 1=1 --',
    "NVIDIA L4 24GB; DELETE FROM imports WHERE '1'='1",
    "NVIDIA L4 24GB /* */ UNION SELECT * FROM imports --",
]
FORMULA_TITLES = [
    '=HYPERLINK("http://evil.example/","NVIDIA L4")',
    "+NVIDIA L4 24GB",
    "-NVIDIA L4 24GB",
    "@SUM(A1:A9) NVIDIA L4",
    "NVIDIA L4 24GB =1+1",
    'NVIDIA L4, 24GB "quoted"\nsecond line',
]
HOSTILE_SELLER = "=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def hostile_import(api: httpx.Client, running_stack: RunningStack) -> dict[str, Any]:
    """One import (a JSON body) of titles that look like SQL and spreadsheet formulas."""
    with running_stack.engine.connect() as conn:
        listings_before = conn.execute(select(func.count()).select_from(Listing)).scalar_one()
    titles = SQL_TITLES + FORMULA_TITLES
    response = api.post(
        "/api/imports",
        params={"wait": "true", "timeout": 300},
        json={
            "listings": [{"title": t, "price": 2100, "seller": HOSTILE_SELLER} for t in titles],
            "source": "sec-sql'; DROP TABLE imports;--",
        },
    )
    assert response.status_code == 200, response.text
    return {"summary": response.json(), "titles": titles, "listings_before": listings_before}


def test_sql_in_titles_and_filters_is_only_data(
    api: httpx.Client, running_stack: RunningStack, hostile_import: dict[str, Any]
) -> None:
    summary, titles = hostile_import["summary"], hostile_import["titles"]
    assert summary["persisted_rows"] == len(titles)
    assert summary["source"] == "sec-sql'; DROP TABLE imports;--"
    items = api.get(f"/api/imports/{summary['import_id']}/listings").json()["items"]
    assert [i["title"] for i in items] == titles
    assert {i["seller"] for i in items} == {HOSTILE_SELLER}
    with running_stack.engine.connect() as conn:
        listings_after = conn.execute(select(func.count()).select_from(Listing)).scalar_one()
    assert listings_after >= hostile_import["listings_before"] + len(titles)

    hostile = "x' OR '1'='1"
    assert api.get("/api/listings", params={"model": hostile}).json() == []
    assert api.get("/api/listings", params={"vendor": hostile}).json() == []
    assert api.get("/api/imports", params={"source": hostile}).json()["total"] == 0
    bad_sort = api.get("/api/listings", params={"sort": "score; DROP TABLE listings"})
    assert bad_sort.status_code == 422 and bad_sort.json()["error"]["code"] == "invalid_sort"


# -- CSV export ----------------------------------------------------------------------------------
def test_neutralise_covers_every_formula_prefix() -> None:
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", " =1+1", "\n@x"):
        assert neutralise(value) == "'" + value
    for value in ("NVIDIA L4", "", "1-2", "a=b", "'quoted", "100"):
        assert neutralise(value) == value
    assert neutralise(-5.0) == -5.0 and neutralise(None) is None


def test_csv_export_neutralises_formulas(
    api: httpx.Client, running_stack: RunningStack, hostile_import: dict[str, Any]
) -> None:
    import_id, titles = hostile_import["summary"]["import_id"], hostile_import["titles"]
    exported = api.get(f"/api/imports/{import_id}/listings.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    assert [r["import_index"] for r in rows] == [str(i) for i in range(1, len(titles) + 1)]
    assert [r["title"] for r in rows] == [neutralise(t) for t in titles]
    formulas = rows[len(SQL_TITLES) :]
    assert [r["title"][0] for r in formulas[:4]] == ["'"] * 4
    assert formulas[4]["title"] == FORMULA_TITLES[4] and formulas[5]["title"] == FORMULA_TITLES[5]
    assert {r["seller"] for r in rows} == {"'" + HOSTILE_SELLER}
    assert {float(r["price"]) for r in rows} == {2100.0}
    # The database keeps the exact text; only the export is neutralised.
    stored = api.get(f"/api/imports/{import_id}/listings").json()["items"]
    assert [i["title"] for i in stored] == titles
    # Keyset batches of any size give the same rows once each, in order.
    small_batches = b"".join(export.csv_rows(running_stack.engine, import_id, batch=3))
    assert small_batches.decode() == exported.text
    missing = api.get(f"/api/imports/{uuid.uuid4()}/listings.csv")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "import_not_found"


# -- bind addresses ------------------------------------------------------------------------------
def loopback(ip: str) -> bool:
    """127.0.0.1, ::1, or an IPv6 socket bound to the IPv4-mapped 127.0.0.1 (gRPC does that)."""
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def test_services_bind_loopback_by_default(running_stack: RunningStack, tmp_path: Path) -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.api_host == "127.0.0.1" == defaults.dagster_host
    commands = supervisor._commands(defaults, tmp_path)
    assert commands["code-server"][commands["code-server"].index("-h") + 1] == "127.0.0.1"
    assert commands["webserver"][commands["webserver"].index("-h") + 1] == "127.0.0.1"
    assert commands["api"][commands["api"].index("--host") + 1] == "127.0.0.1"

    pids: set[int] = set()
    for proc in running_stack.procs.values():
        parent = psutil.Process(proc.pid)
        pids |= {parent.pid} | {c.pid for c in parent.children(recursive=True)}
    listening = [
        c
        for c in psutil.net_connections(kind="inet")
        if c.pid in pids and c.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 3  # code server, webserver, API
    assert all(loopback(c.laddr.ip) for c in listening), listening
    ports = {c.laddr.port for c in listening}
    settings = running_stack.settings
    assert {settings.api_port, settings.dagster_port, settings.code_server_port} <= ports
    # Nothing of the stack answers on another address of this machine.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # no packet is sent; this picks the outward address
        outward = probe.getsockname()[0]
    if outward != "127.0.0.1":
        with socket.socket() as sock:
            sock.settimeout(0.5)
            assert sock.connect_ex((outward, settings.api_port)) != 0


# -- bearer token --------------------------------------------------------------------------------
TOKEN = "s3cret-token-for-tests"


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def test_token_guards_every_write_and_documents_it(running_stack: RunningStack) -> None:
    with extra_api(running_stack, api_token=TOKEN) as url, httpx.Client(base_url=url) as client:
        spec = client.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
        ops = operations(spec)
        writes = [(m, p) for m, p in ops if m != "GET"]
        assert len(writes) >= 6
        for method, path in ops:
            documented = spec["paths"][path][method.lower()].get("security")
            assert bool(documented) == (method != "GET"), (method, path)
            url_path = concrete(path)
            anonymous = client.request(method, url_path)
            if method == "GET":
                assert anonymous.status_code != 401, (method, path)
                continue
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert anonymous.headers["www-authenticate"] == "Bearer"
            assert anonymous.json()["error"]["code"] == "unauthorized"
            wrong = client.request(method, url_path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            basic = client.request(method, url_path, headers={"Authorization": f"Basic {TOKEN}"})
            assert basic.status_code == 401
            right = client.request(method, url_path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert right.status_code != 401, (method, path, right.text)
        assert client.get("/api/health").status_code in (200, 503)

        # Refused before the body is read: a huge upload costs the server nothing.
        before = landing_entries(running_stack)
        response = client.post(
            "/api/imports",
            content=b"title,price\n" + b"NVIDIA L4,1\n" * 8_000,
            headers={"content-type": "text/csv"},
        )
        assert response.status_code == 401
        assert landing_entries(running_stack) == before

        # Small JSON endpoints refuse bodies over 1 MiB (413), announced or streamed.
        auth = {"Authorization": f"Bearer {TOKEN}"}
        padded = {"input_csv_path": "x.csv", "description": "d" * (2 * 1024 * 1024)}
        big = client.post("/api/imports/from-pipeline", json=padded, headers=auth)
        assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
        data = json.dumps(padded).encode()
        chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
        streamed = client.post(
            "/api/imports/from-pipeline",
            content=chunks,
            headers={**auth, "content-type": "application/json"},
        )
        assert streamed.status_code == 413, streamed.text


def test_token_for_reads_when_configured(running_stack: RunningStack) -> None:
    with (
        extra_api(running_stack, api_token=TOKEN, api_token_reads="true") as url,
        httpx.Client(base_url=url) as client,
    ):
        spec = client.get("/openapi.json").json()  # the document itself stays readable
        for method, path in operations(spec):
            if path == "/api/health":
                assert not spec["paths"][path]["get"].get("security")
                continue
            assert spec["paths"][path][method.lower()].get("security"), (method, path)
            if method == "GET":
                response = client.get(concrete(path))
                assert response.status_code == 401, (path, response.text)
        authorised = client.get("/api/imports", headers={"Authorization": f"Bearer {TOKEN}"})
        assert authorised.status_code == 200
        assert client.get("/api/health").status_code in (200, 503)
