"""The five assets of one import with the landing zone and the staging Parquet given as
``file://`` URLs (GLYPH_LANDING_URL, GLYPH_STAGING_URL): every read and write goes through
fsspec, as it would to an object store, and the import persists what a plain path gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance
from sqlalchemy import select

from glyph_assets.contract import IMPORTS_PARTITIONS_NAME, PIPELINE_STAGES
from glyph_assets.imports import register_import
from glyph_assets.settings import Settings
from glyph_assets.staging import staged_parts
from glyph_assets.storage import is_plain
from glyph_assets.store import listing_rows
from glyph_assets.store.db import get_engine
from glyph_assets.store.models import Listing, RowError
from tests.support.imports import listings_csv
from tests.support.materialize import materialize_import

pytestmark = pytest.mark.integration


def _rows(settings: Settings, import_id: str) -> list[tuple]:
    with get_engine(settings.sqlalchemy_url).connect() as conn:
        listings = conn.execute(
            select(Listing.import_index, Listing.canonical_model, Listing.score).where(
                listing_rows.of_import(import_id)
            )
        ).all()
        errors = conn.execute(
            select(RowError.import_index).where(listing_rows.of_errors(import_id))
        ).all()
    return sorted(tuple(r) for r in listings) + sorted(tuple(r) for r in errors)


def _ingest(settings: Settings, instance: DagsterInstance, data: bytes) -> str:
    registered = register_import([data], filename="shared.csv", source="t", settings=settings)
    instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, [registered.import_id])
    assert materialize_import(instance, settings, registered.import_id).success
    return registered.import_id


def test_an_import_through_file_urls_persists_what_plain_paths_do(
    glyph_env: Settings, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    by_url = glyph_env.model_copy(
        update={
            "landing_url": (shared / "landing").as_uri(),
            "staging_url": (shared / "staging").as_uri(),
        }
    )
    assert not is_plain(by_url.landing_dir) and not is_plain(by_url.staging_dir)
    data = listings_csv(300, tag="url")
    with DagsterInstance.ephemeral() as instance:
        through_url = _ingest(by_url, instance, data)
        through_path = _ingest(glyph_env, instance, data)

    landed = shared / "landing" / through_url / "original.csv"
    assert landed.read_bytes() == data
    stored = staged_parts(by_url.staging_dir, through_url)
    assert [p.parent.name for p in stored] == sorted(PIPELINE_STAGES[:4])
    assert all(list(Path(p.path).glob("part-*.parquet")) for p in stored)
    assert not (glyph_env.data_dir / "staging" / "raw_listings" / through_url).exists()

    rows = _rows(by_url, through_url)
    assert len(rows) == 300
    assert rows == _rows(glyph_env, through_path)
