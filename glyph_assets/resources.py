"""The code location's resources: the warehouse database, the landing zone and the pipeline's
tunables, each built from the one ``Settings`` that ``definitions.py`` reads.

Assets, checks and sensors receive them as parameters instead of reading settings themselves, so
a test passes a resource rather than patching the environment and clearing caches. They are
built from ``Settings`` rather than from ``EnvVar``s because several values are derived there
(the SQLite file under ``GLYPH_DATA_DIR`` when ``GLYPH_DATABASE_URL`` is unset, the landing
directory); ``Settings`` stays the one place where a ``GLYPH_`` variable is read.
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource, FilesystemIOManager, InitResourceContext
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from upath import UPath

from glyph_assets.landing import Manifest, read_manifest
from glyph_assets.settings import Settings
from glyph_assets.sieve.fx import Rates, load_rates
from glyph_assets.storage import location_text, storage_path
from glyph_assets.store.db import migrate

# Under the staging root: the parts of each fanned-out import's chunk steps.
CHUNKS_DIR = "_chunks"
# Under the staging root: values passed between the steps of a fanned-out stage (pickles).
STEP_VALUES_DIR = "_steps"


class StoreResource(ConfigurableResource):
    """The warehouse database. Its schema is brought to the newest migration once per process,
    when a run (or a sensor evaluation) sets the resource up, never inside an asset's body.

    A database that cannot answer at setup does not fail the run there: the stages' own
    bookkeeping and retries decide, and the first use of ``engine`` migrates then."""

    database_url: str

    def setup_for_execution(self, context: InitResourceContext) -> None:
        try:
            migrate(self.database_url)
        except SQLAlchemyError as exc:
            if context.log is not None:
                context.log.warning(f"could not migrate the database yet: {exc}")

    @property
    def engine(self) -> Engine:
        # migrate() remembers what this process migrated: after setup this only returns the
        # process's engine
        return migrate(self.database_url)


class LandingResource(ConfigurableResource):
    """The landing zone: every import's original bytes and its manifest, under a local
    directory or an fsspec URL (``glyph_assets.storage``)."""

    landing_dir: str

    def manifest(self, import_id: str) -> Manifest:
        return read_manifest(self.landing_dir, import_id)


class StagingResource(ConfigurableResource):
    """Where stages keep their Parquet parts (the IO manager's base: a local directory or an
    fsspec URL), for the chunk steps of a fanned-out import, which store parts of their own."""

    base_dir: str

    def chunk_dir(self, import_id: str, index: int, stage: str) -> UPath:
        """``<staging>/_chunks/<import_id>/<chunk>/<stage>``: found and pruned with the rest of
        the import's staging (``staging.staged_parts``)."""
        return storage_path(self.base_dir) / CHUNKS_DIR / import_id / f"{index:05d}" / stage


class PipelineResource(ConfigurableResource):
    """The pipeline's tunables (``GLYPH_CHUNK_ROWS`` and friends, see ``Settings``)."""

    chunk_rows: int
    fanout_chunk_rows: int
    max_field_chars: int
    check_sample_rows: int
    unknown_model_warn_share: float


class MarketResource(ConfigurableResource):
    """How many of the newest imports the market figures cover when a run sets none, and the
    rate table their USD-equivalents come from ("" for none)."""

    stats_window_imports: int
    movements_window_imports: int
    fx_rates_path: str = ""

    def rates(self) -> Rates | None:
        """The rate table, read when a refresh asks (an updated file counts at once)."""
        return load_rates(self.fx_rates_path)


def resources_from(settings: Settings) -> dict[str, Any]:
    """Every resource of the code location, keyed by the parameter names that take them (and
    the IO manager of the fanned-out stages' step values, by its key)."""
    staging = location_text(settings.staging_dir)
    return {
        "staging": StagingResource(base_dir=staging),
        "fanout_io_manager": FilesystemIOManager(
            base_dir=location_text(settings.staging_dir / STEP_VALUES_DIR)
        ),
        "store": StoreResource(database_url=settings.sqlalchemy_url),
        "landing": LandingResource(landing_dir=location_text(settings.landing_dir)),
        "pipeline": PipelineResource(
            chunk_rows=settings.chunk_rows,
            fanout_chunk_rows=settings.fanout_chunk_rows,
            max_field_chars=settings.max_field_chars,
            check_sample_rows=settings.check_sample_rows,
            unknown_model_warn_share=settings.unknown_model_warn_share,
        ),
        "market_windows": MarketResource(
            stats_window_imports=settings.market_window_imports,
            movements_window_imports=settings.market_movements_window_imports,
            fx_rates_path=settings.fx_rates_path,
        ),
    }


__all__ = [
    "LandingResource",
    "MarketResource",
    "PipelineResource",
    "StagingResource",
    "StoreResource",
    "resources_from",
]
