"""The five assets materialized for one import partition on a real (temporary) Dagster instance."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance
from sqlalchemy import select

from glyph_assets.contract import IMPORTS_PARTITIONS_NAME, INGEST_JOB_NAME, PIPELINE_STAGES
from glyph_assets.imports import file_chunks, register_import
from glyph_assets.settings import Settings
from glyph_assets.store.db import get_engine
from glyph_assets.store.listing_rows import of_import
from glyph_assets.store.models import Import, Listing, RowError
from tests.support.materialize import materialize_import

pytestmark = pytest.mark.integration


def _materialize(instance: DagsterInstance, settings: Settings, import_id: str) -> None:
    assert materialize_import(instance, settings, import_id).success


def _rows(settings: Settings, model, import_id: str) -> list:  # type: ignore[no-untyped-def]
    with get_engine(settings.sqlalchemy_url).connect() as conn:
        return conn.execute(select(model).where(of_import(import_id, model))).all()


def test_demo_import_persists_every_row_once(glyph_env: Settings, corpus: Path) -> None:
    source = corpus / "demo_listings.csv"
    registered = register_import(
        file_chunks(source), filename=source.name, source="test", settings=glyph_env
    )
    import_id = registered.import_id
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, [import_id])
        _materialize(instance, glyph_env, import_id)

        listings = _rows(glyph_env, Listing, import_id)
        errors = _rows(glyph_env, RowError, import_id)
        assert len(listings) + len(errors) == 173
        indexes = sorted(r.import_index for r in listings) + sorted(r.import_index for r in errors)
        assert sorted(indexes) == list(range(1, 174))
        mapped = [r for r in listings if r.canonical_model]
        assert len(mapped) > 150
        assert all(0 <= r.score <= 100 for r in listings if r.score is not None)

        _materialize(instance, glyph_env, import_id)
        assert len(_rows(glyph_env, Listing, import_id)) == len(listings)
        assert len(_rows(glyph_env, RowError, import_id)) == len(errors)

    record = _rows(glyph_env, Import, import_id)[0]
    assert record.status in ("succeeded", "partially_succeeded")
    assert record.total_rows == 173
    assert record.persisted_rows == len(listings)
    landed = Path(registered.manifest.stored_as)
    assert landed.read_bytes() == source.read_bytes()
    assert landed.parent.name == import_id


def test_definitions_load() -> None:
    from glyph_assets.definitions import defs

    repo = defs.get_repository_def()
    job = repo.get_job(INGEST_JOB_NAME)
    assert job is not None
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert set(PIPELINE_STAGES) <= keys
    partitions = {
        repo.asset_graph.get(key).partitions_def
        for key in repo.asset_graph.get_all_asset_keys()
        if key.to_user_string().endswith("_listings")
    }
    assert {p.name for p in partitions} == {IMPORTS_PARTITIONS_NAME}
