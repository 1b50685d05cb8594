"""A fanned-out import (``ingest_import_chunked``: normalize and enrich over chunk steps) persists
exactly the rows, row errors and stage metadata of the one-step path (``ingest_import``), on the
default executor with a small threshold, and is chosen at launch only from the threshold on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, Definitions, EventRecordsFilter
from sqlalchemy import select

from glyph_assets.assets.changes import CHANGE_ASSETS
from glyph_assets.assets.pipeline import PIPELINE_ASSETS
from glyph_assets.checks import PIPELINE_CHECKS
from glyph_assets.contract import (
    CHECK_JOB_NAME,
    FANOUT_JOB_NAME,
    IMPORTS_PARTITIONS_NAME,
    INGEST_JOB_NAME,
    PIPELINE_STAGES,
    ingest_job_for,
)
from glyph_assets.imports import file_chunks, register_import
from glyph_assets.io_managers import ParquetPartsIOManager
from glyph_assets.jobs import build_check_job, build_fanout_job, build_ingest_job
from glyph_assets.resources import resources_from
from glyph_assets.sensors import checks_request
from glyph_assets.settings import Settings
from glyph_assets.staging import staged_parts
from glyph_assets.storage import location_text
from glyph_assets.store import listing_rows
from glyph_assets.store.db import get_engine
from glyph_assets.store.models import Listing, RowError
from glyph_assets.tooling.bench.datagen import generate_csv

pytestmark = pytest.mark.integration

ROWS = 2_000
# Raw parts of 300 rows, chunks of at least 700: 7 parts in 3 chunks (700, 700, 600 rows).
SMALL = {"chunk_rows": 300, "fanout_chunk_rows": 700, "fanout_min_rows": 1_000}
# Identity and bookkeeping columns, which differ between two imports of the same file.
_OWN = {"id", "import_id", "import_key", "created_at", "updated_at", "persisted_at"}


def _rows(settings: Settings, model: Any, import_id: str) -> list[tuple]:
    columns = [c for c in model.__table__.columns if c.name not in _OWN]
    of = (
        listing_rows.of_import(import_id) if model is Listing else listing_rows.of_errors(import_id)
    )
    with get_engine(settings.sqlalchemy_url).connect() as conn:
        query = select(*columns).where(of).order_by(model.import_index)
        return [tuple(r) for r in conn.execute(query).all()]


def _metadata(instance: DagsterInstance, stage: str, import_id: str) -> dict[str, Any]:
    records = instance.get_event_records(
        EventRecordsFilter(
            DagsterEventType.ASSET_MATERIALIZATION,
            asset_key=AssetKey(stage),
            asset_partitions=[import_id],
        ),
        limit=1,
    )
    entries = records[0].asset_materialization.metadata
    return {k: v.value for k, v in entries.items() if k not in ("database", "import_id")}


def _checks(instance: DagsterInstance, run_id: str) -> dict[str, bool]:
    events = [r.event_log_entry.dagster_event for r in instance.get_records_for_run(run_id).records]
    return {
        f"{e.event_specific_data.asset_key.to_user_string()}:{e.event_specific_data.check_name}": (
            e.event_specific_data.passed
        )
        for e in events
        if e is not None and e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


def test_a_fanned_out_import_persists_what_the_one_step_path_does(
    glyph_env: Settings, tmp_path: Path
) -> None:
    settings = glyph_env.model_copy(update=SMALL)
    source = generate_csv(tmp_path / "listings.csv", ROWS)
    resources = {
        "io_manager": ParquetPartsIOManager(base_dir=location_text(settings.staging_dir)),
        **resources_from(settings),
    }
    defs = Definitions(
        assets=[*PIPELINE_ASSETS, *CHANGE_ASSETS],
        asset_checks=PIPELINE_CHECKS,
        jobs=[
            build_ingest_job(settings),
            build_fanout_job(settings, resources),
            build_check_job(settings),
        ],
        resources=resources,
    )
    jobs = {name: defs.resolve_job_def(name) for name in (INGEST_JOB_NAME, FANOUT_JOB_NAME)}
    imports: dict[str, str] = {}
    runs: dict[str, Any] = {}
    check_runs: dict[str, Any] = {}
    with DagsterInstance.ephemeral() as instance:
        for name in jobs:
            registered = register_import(
                file_chunks(source), filename=source.name, source="t", settings=settings
            )
            chosen = ingest_job_for(
                registered.estimated_rows if name == FANOUT_JOB_NAME else 999,
                settings.fanout_threshold,
            )
            assert chosen == name
            imports[name] = registered.import_id
            instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, [registered.import_id])
            runs[name] = jobs[name].execute_in_process(
                instance=instance, partition_key=registered.import_id
            )
            assert runs[name].success
            # what the checks sensor asks for after the run: check_import on its partition
            request = checks_request(instance.get_run_by_id(runs[name].run_id))
            assert request is not None
            check_runs[name] = defs.resolve_job_def(CHECK_JOB_NAME).execute_in_process(
                instance=instance, tags=request.tags
            )
            assert check_runs[name].success

        one, fan = imports[INGEST_JOB_NAME], imports[FANOUT_JOB_NAME]
        chunk_steps = [
            e.step_key
            for e in runs[FANOUT_JOB_NAME].all_events
            if e.is_step_success and "transform_chunk" in (e.step_key or "")
        ]
        assert len(chunk_steps) == 3, chunk_steps
        for stage in PIPELINE_STAGES:
            assert _metadata(instance, stage, fan) == _metadata(instance, stage, one), stage
        # the ingest runs end without checks; their check runs evaluate all 17, on the partition
        assert _checks(instance, runs[FANOUT_JOB_NAME].run_id) == {}
        checks = _checks(instance, check_runs[FANOUT_JOB_NAME].run_id)
        assert len(checks) == 17 and all(checks.values()), checks
        assert checks == _checks(instance, check_runs[INGEST_JOB_NAME].run_id)
        evaluations = check_runs[FANOUT_JOB_NAME].get_asset_check_evaluations()
        assert {e.partition for e in evaluations} == {fan}

    listings, errors = _rows(settings, Listing, fan), _rows(settings, RowError, fan)
    assert len(listings) + len(errors) == ROWS
    assert listings == _rows(settings, Listing, one)
    assert errors == _rows(settings, RowError, one)
    # The chunk steps' parts are staged with the import's, for glyph prune to remove together.
    assert "_chunks" in {p.parent.name for p in staged_parts(settings.staging_dir, fan)}
