"""The inbox sensor: evaluated with Dagster's test utilities, and once through the daemon."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context, instance_for_test

from glyph_assets.contract import (
    CHECK_JOB_NAME,
    IMPORT_TAG,
    IMPORTS_PARTITIONS_NAME,
    INGEST_JOB_NAME,
    SOURCE_TAG,
)
from glyph_assets.inbox import InboxCursor, build_inbox_sensor
from glyph_assets.jobs import build_ingest_job
from glyph_assets.sensors import checks_request
from glyph_assets.settings import PROJECT_ROOT, Settings
from glyph_assets.store import repository
from glyph_assets.store.db import migrate
from glyph_assets.store.status import TERMINAL_STATUSES

SAMPLE = PROJECT_ROOT / "data" / "samples" / "gpu_listings_sample.csv"


@pytest.fixture(scope="module")
def shared_instance() -> Iterator[DagsterInstance]:
    """One temporary Dagster instance for the module (creating one costs about 2 s)."""
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def instance(glyph_env: Settings, shared_instance: DagsterInstance) -> DagsterInstance:
    return shared_instance


@pytest.fixture
def inbox(glyph_env: Settings) -> Path:
    glyph_env.inbox.mkdir(parents=True, exist_ok=True)
    return glyph_env.inbox


def evaluate(instance: DagsterInstance, cursor: str | None) -> tuple[SensorResult, str]:
    """One sensor tick as the daemon would run it, returning the result and the new cursor
    (the sensor built from the test's environment, as definitions.py builds it)."""
    settings = Settings()
    inbox_sensor = build_inbox_sensor(build_ingest_job(settings), settings)
    context = build_sensor_context(instance=instance, cursor=cursor)
    result = inbox_sensor(context)
    assert isinstance(result, SensorResult)
    return result, result.cursor or ""


def _skip(result: SensorResult) -> str:
    return result.skip_reason.skip_message if result.skip_reason else ""


def settle(instance: DagsterInstance, cursor: str | None = None) -> tuple[SensorResult, str]:
    """Two ticks: the first sees the files, the second takes the ones that stopped growing."""
    first, cursor = evaluate(instance, cursor)
    assert not first.run_requests
    return evaluate(instance, cursor)


def test_dropped_file_becomes_an_import_and_a_run(
    glyph_env: Settings, instance: DagsterInstance, inbox: Path
) -> None:
    shutil.copy(SAMPLE, inbox / "batch.csv")
    result, cursor = settle(instance)

    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    import_id = request.partition_key
    assert request.tags[IMPORT_TAG] == import_id
    assert request.tags[SOURCE_TAG] == "inbox"
    assert request.run_key == import_id
    [partitions] = result.dynamic_partitions_requests
    assert partitions.partitions_def_name == IMPORTS_PARTITIONS_NAME
    assert list(partitions.partition_keys) == [import_id]

    engine = migrate(glyph_env.sqlalchemy_url)
    record = repository.get_import(engine, import_id)
    assert record is not None
    assert (record["source"], record["filename"], record["status"]) == (
        "inbox",
        "batch.csv",
        "queued",
    )
    assert (glyph_env.landing_dir / import_id / "manifest.json").exists()
    assert not (inbox / "batch.csv").exists()
    assert (inbox / "processed" / "batch.csv").read_bytes() == SAMPLE.read_bytes()
    assert InboxCursor.load(cursor).awaiting == {import_id: pytest.approx(time.time(), abs=60)}

    # what the daemon does with the result: add the partition, then run the job for it
    from glyph_assets.definitions import defs

    instance.add_dynamic_partitions(partitions.partitions_def_name, partitions.partition_keys)
    from glyph_assets.resources import resources_from

    # this test's settings, whichever settings the definitions were first imported with
    run = defs.resolve_job_def(INGEST_JOB_NAME).execute_in_process(
        instance=instance,
        partition_key=import_id,
        tags=request.tags,
        resources=resources_from(glyph_env),
    )
    assert run.success
    record = repository.get_import(engine, import_id)
    assert record["status"] in ("succeeded", "partially_succeeded")
    counts = repository.count_rows(engine, import_id)
    assert counts["persisted_rows"] + counts["error_rows"] == record["total_rows"] == 36
    assert not run.get_asset_check_evaluations(), "the checks are check_import's, after the run"

    # what the checks sensor then launches: check_import on the import's partition
    request = checks_request(instance.get_run_by_id(run.run_id))
    assert request is not None
    checks_run = defs.resolve_job_def(CHECK_JOB_NAME).execute_in_process(
        instance=instance,
        tags=request.tags,
        resources=resources_from(glyph_env),
    )
    evaluations = checks_run.get_asset_check_evaluations()
    assert len(evaluations) == 17
    failed = {
        (e.asset_key.to_user_string(), e.check_name): e.metadata
        for e in evaluations
        if not e.passed and e.check_name != "unknown_model_share"
    }
    assert not failed
    assert {e.partition for e in evaluations} == {import_id}
    assert repository.get_import(engine, import_id)["status"] == record["status"]

    # the next tick finds the launched run by its tag and records it
    result, cursor = evaluate(instance, cursor)
    assert not result.run_requests
    assert [r["run_id"] for r in repository.runs_of(engine, import_id)] == [run.run_id]
    assert InboxCursor.load(cursor).awaiting == {}


def test_duplicate_file_is_skipped_unless_reimport(
    glyph_env: Settings,
    instance: DagsterInstance,
    inbox: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copy(SAMPLE, inbox / "first.csv")
    result, cursor = settle(instance)
    first_id = result.run_requests[0].partition_key

    shutil.copy(SAMPLE, inbox / "again.csv")
    shutil.copy(SAMPLE, inbox / "first.csv")  # same name as an earlier file, too
    result, cursor = settle(instance, cursor)
    assert not result.run_requests
    assert "skipped" in _skip(result)
    processed = inbox / "processed"
    note = (processed / "again.csv.skipped.txt").read_text()
    assert first_id in note and "GLYPH_INBOX_REIMPORT" in note
    assert (processed / "first-1.csv").exists()  # never overwrites an earlier file
    assert (processed / "first-1.csv.skipped.txt").exists()
    events = InboxCursor.load(cursor).recent
    skipped = [e for e in events if e["outcome"] == "skipped"]
    assert {e["file"] for e in skipped} == {"again.csv", "first.csv"}
    assert {e["duplicate_of"] for e in skipped} == {first_id}
    engine = migrate(glyph_env.sqlalchemy_url)
    sha = repository.get_import(engine, first_id)["sha256"]
    assert repository.find_import(engine, sha256=sha)["import_id"] == first_id

    monkeypatch.setenv("GLYPH_INBOX_REIMPORT", "true")
    shutil.copy(SAMPLE, inbox / "forced.csv")
    result, cursor = settle(instance, cursor)
    [request] = result.run_requests
    assert request.partition_key != first_id
    assert repository.find_import(engine, sha256=sha)["import_id"] == request.partition_key


def test_broken_file_is_rejected_with_every_reason(
    glyph_env: Settings, instance: DagsterInstance, inbox: Path
) -> None:
    (inbox / "broken.csv").write_text("foo,bar\n")
    (inbox / "empty.csv").write_bytes(b"")
    result, cursor = settle(instance)
    assert not result.run_requests
    rejected = inbox / "rejected"
    reasons = (rejected / "broken.csv.reason.txt").read_text().splitlines()
    assert reasons[0].startswith("rejected: broken.csv")
    problems = [line for line in reasons if line.startswith("- ")]
    assert len(problems) == 3, reasons  # no title, no price, no data rows
    assert any("title" in p for p in problems) and any("price" in p for p in problems)
    assert (rejected / "broken.csv").read_text() == "foo,bar\n"
    assert "empty" in (rejected / "empty.csv.reason.txt").read_text()
    landed = list(glyph_env.landing_dir.glob("*")) if glyph_env.landing_dir.exists() else []
    assert landed == []  # a refused file leaves nothing in the landing zone
    engine = migrate(glyph_env.sqlalchemy_url)
    assert repository.find_import(engine, source="inbox") is None
    outcomes = {e["file"]: e for e in InboxCursor.load(cursor).recent}
    assert outcomes["broken.csv"]["outcome"] == "rejected"
    assert len(outcomes["broken.csv"]["problems"]) == 3


def test_growing_and_partial_files_wait(
    glyph_env: Settings, instance: DagsterInstance, inbox: Path
) -> None:
    target = inbox / "growing.csv"
    lines = SAMPLE.read_text().splitlines(keepends=True)
    target.write_text("".join(lines[:10]))
    (inbox / "upload.csv.part").write_text("".join(lines))
    (inbox / ".hidden.csv").write_text("".join(lines))
    _, cursor = evaluate(instance, None)
    with target.open("a") as fh:  # still being written between two ticks
        fh.write("".join(lines[10:]))
    result, cursor = evaluate(instance, cursor)
    assert not result.run_requests and target.exists()
    assert "waiting" in _skip(result)
    result, cursor = evaluate(instance, cursor)
    [request] = result.run_requests
    engine = migrate(glyph_env.sqlalchemy_url)
    assert repository.get_import(engine, request.partition_key)["size_bytes"] == len(
        SAMPLE.read_bytes()
    )
    assert (inbox / "upload.csv.part").exists() and (inbox / ".hidden.csv").exists()
    assert set(json.loads(cursor)["seen"]) == set()


# ---------------------------------------------------------------------------------------------
# through the running daemon


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_inbox_through_the_running_daemon(running_stack) -> None:
    """Drop a file in the stack's inbox; the daemon's sensor ingests it end to end."""
    settings = running_stack.settings
    inbox = settings.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    staging = inbox / ".drop.csv.part"
    # one extra row with a unique title: bytes no other test of the session has imported
    tag = uuid.uuid4().hex[:8]
    extra = (
        f'NVIDIA GeForce RTX 4090 24GB {tag},"$1,799.00",New,1,Inbox Test,US,'
        f"https://example.com/l/{tag},unique row\n"
    )
    staging.write_text(SAMPLE.read_text() + extra)
    started = time.monotonic()
    staging.rename(inbox / "daemon_drop.csv")  # appears whole, as a writer should do
    engine = migrate(settings.sqlalchemy_url)
    record = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        record = repository.find_import(engine, filename="daemon_drop.csv")
        if record and record["status"] in TERMINAL_STATUSES:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert record is not None, "the sensor never registered the file"
    assert record["status"] in ("succeeded", "partially_succeeded"), record
    assert record["source"] == "inbox"
    counts = repository.count_rows(engine, record["import_id"])
    assert counts["persisted_rows"] + counts["error_rows"] == 37
    assert (inbox / "processed" / "daemon_drop.csv").exists()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not repository.runs_of(engine, record["import_id"]):
        time.sleep(0.5)
    runs = repository.runs_of(engine, record["import_id"])
    assert runs and runs[0]["attempt"] == 1
    print(f"inbox drop -> {record['status']} in {elapsed:.1f} s")
