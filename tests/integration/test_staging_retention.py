"""Staging retention on a real Dagster instance: ``glyph prune`` removes the Parquet parts of an
import whose latest run succeeded, keeps what a retry from failure re-reads, never the upload."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance
from typer.testing import CliRunner

from glyph_assets.assets.pipeline import PIPELINE_ASSETS, enriched_listings, scored_listings
from glyph_assets.imports import file_chunks, register_import
from glyph_assets.partitions import IMPORTS_PARTITIONS_NAME
from glyph_assets.settings import Settings
from glyph_assets.staging import latest_run_succeeded, prune_staging, staged_parts
from glyph_assets.tooling.cli import app
from tests.support.materialize import materialize_import

pytestmark = pytest.mark.integration

SCORED = scored_listings.key.to_user_string()


def _materialize(
    instance: DagsterInstance, settings: Settings, import_id: str, fail: str | None = None, **kw
) -> bool:
    config = {"ops": {fail: {"config": {"fail": True}}}} if fail else None
    result = materialize_import(
        instance, settings, import_id, run_config=config, raise_on_error=False, **kw
    )
    return result.success


def _prune(*args: str) -> str:
    result = CliRunner().invoke(app, ["prune", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_prune_keeps_a_retry_its_parts_and_removes_them_after_success(
    glyph_env: Settings, corpus: Path
) -> None:
    source = corpus / "demo_listings.csv"
    registered = register_import(
        file_chunks(source), filename=source.name, source="test", settings=glyph_env
    )
    import_id = registered.import_id
    staging = glyph_env.staging_dir
    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, [import_id])
        assert _materialize(instance, glyph_env, import_id)
        assert len(staged_parts(staging, import_id)) == 4  # raw, normalized, enriched, scored

        # Within the retention nothing goes.
        assert "removed 0 staging directories" in _prune()
        assert len(staged_parts(staging, import_id)) == 4

        # A later run of the same import fails at the score: its latest run did not succeed,
        # so its parts stay even when the import's retention has passed.
        assert not _materialize(instance, glyph_env, import_id, fail=SCORED)
        kept = prune_staging(staging, [import_id], latest_run_succeeded(instance))
        assert kept.kept_for_retry == [import_id] and not kept.pruned
        _prune("--days", "0")
        assert len(staged_parts(staging, import_id)) == 4

        # The retry starts from the failed step and reads the enriched parts it left.
        selection = [scored_listings, *PIPELINE_ASSETS[4:]]
        assert _materialize(instance, glyph_env, import_id, selection=selection)
        assert (staging / enriched_listings.key.to_user_string() / import_id).is_dir()

    assert "would remove 4 staging directories of 1 imports" in _prune("--days", "0", "--dry-run")
    assert len(staged_parts(staging, import_id)) == 4
    assert "removed 4 staging directories of 1 imports" in _prune("--days", "0")
    assert staged_parts(staging, import_id) == []
    landed = Path(registered.manifest.stored_as)
    assert landed.read_bytes() == source.read_bytes()  # the original upload is never pruned
