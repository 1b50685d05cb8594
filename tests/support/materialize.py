"""The five pipeline assets materialized in this process for one import, with the resources the
code location gives them, so a test exercises the same wiring the definitions build."""

from __future__ import annotations

from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, materialize

from glyph_assets.assets.pipeline import PIPELINE_ASSETS
from glyph_assets.io_managers import ParquetPartsIOManager
from glyph_assets.resources import resources_from
from glyph_assets.settings import Settings


def materialize_import(
    instance: DagsterInstance, settings: Settings, import_id: str, **options: Any
) -> ExecuteInProcessResult:
    """Run the pipeline assets for the partition ``import_id``; ``options`` go to ``materialize``
    (``run_config``, ``selection``, ``raise_on_error``)."""
    return materialize(
        PIPELINE_ASSETS,
        partition_key=import_id,
        instance=instance,
        resources={
            "io_manager": ParquetPartsIOManager(base_dir=str(settings.staging_dir)),
            **resources_from(settings),
        },
        **options,
    )
