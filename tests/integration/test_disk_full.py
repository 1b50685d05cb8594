"""A full disk, for real: small tmpfs mounts hold the data dir (landing zone, staging, the SQLite
database) and are filled to the last byte.

- An upload that cannot be landed answers 507: no import row, nothing in the landing zone, the
  space it took given back.
- A run that hits the full disk fails with that reason (not retried by Dagster: it is no dead
  worker), and the import completes on retry once there is space again.

Mounting needs root (or CAP_SYS_ADMIN); where it is refused the tests skip and say why.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.support.imports import db_counts, delay, import_rows, listings_csv, post_file, wait_final
from tests.support.reliability import extra_api, own_stack
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the duration (lazily unmounted after)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "glyph-test", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def run_status(running: RunningStack, run_id: str) -> str:
    """Dagster's own view (the API's reads need the database, which is full meanwhile)."""
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
    response = httpx.post(
        f"{running.dagster_url}/graphql",
        json={"query": query, "variables": {"id": run_id}},
        timeout=30,
    )
    return str(response.json()["data"]["runOrError"].get("status"))


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def fill(path: Path) -> Path:
    """Write a file until the filesystem refuses another byte; returns it."""
    filler = path / "filler.bin"
    block = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as out:  # unbuffered: each write meets the disk
        for size in (len(block), 512):  # large blocks, then the last small ones
            with contextlib.suppress(OSError):
                while True:
                    out.write(block[:size])
    assert free_bytes(path) < 4096
    return filler


def test_an_upload_that_cannot_be_landed_is_a_507_leaving_nothing(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    source = "disk-full-upload"
    with tmpfs(tmp_path / "data", "1m") as data:
        empty = free_bytes(data)
        with (
            extra_api(
                running_stack,
                data_dir=str(data),
                database_url=running_stack.settings.sqlalchemy_url,  # the database has room
            ) as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            response = post_file(client, "big.csv", listings_csv(40_000), source=source)
            assert response.status_code == 507, response.text
            assert response.json()["error"]["code"] == "insufficient_storage"
            landing = data / "landing"
            assert list(landing.iterdir()) == []  # nothing half-written
            assert import_rows(running_stack, source=source) == []  # nothing registered
            assert free_bytes(data) == empty  # every byte given back
            # The API still answers; a second oversized upload gets the same answer.
            again = post_file(client, "big2.csv", listings_csv(40_000), source=source)
            assert again.status_code == 507, again.text
            assert list(landing.iterdir()) == []


def test_a_run_on_a_full_disk_fails_with_that_reason_and_a_retry_completes(
    tmp_path: Path,
) -> None:
    rows = 30
    with tmpfs(tmp_path / "data", "64m") as data, own_stack(tmp_path) as own:
        running = own.running
        with httpx.Client(base_url=running.api_url, timeout=60) as api:
            response = post_file(
                api,
                "full.csv",
                listings_csv(rows, tag="full"),
                source="disk-full-run",
                run_config=delay("raw_listings", 4.0),  # the disk fills while it waits
            )
            assert response.status_code == 202, response.text
            import_id, run_id = response.json()["import_id"], response.json()["run_id"]
            filler = fill(data)
            try:
                deadline = time.monotonic() + 120
                while (status := run_status(running, run_id)) != "FAILURE":
                    assert time.monotonic() < deadline, (status, running.logs())
                    time.sleep(0.5)
            finally:
                filler.unlink()  # space is back
            failed = wait_final(api, import_id, timeout=60)
            assert failed["status"] == "failed", failed
            assert failed["error_message"].startswith("disk full: "), failed["error_message"]
            assert db_counts(running, import_id)["persisted_rows"] == 0
            time.sleep(6)  # longer than a retry takes to appear: Dagster does not retry this one
            assert [r["attempt"] for r in api.get(f"/api/imports/{import_id}").json()["runs"]] == [
                1
            ]

            retry = api.post(f"/api/imports/{import_id}/retry", json={"run_config": {}})
            assert retry.status_code == 202, retry.text
            done = wait_final(api, import_id)
        assert done["status"] == "succeeded", done
        assert done["persisted_rows"] == rows == done["total_rows"]
        assert db_counts(running, import_id)["distinct_indexes"] == rows
        with running.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
