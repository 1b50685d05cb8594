"""One place for glyph's configuration: every knob is a ``GLYPH_`` environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from upath import UPath

from glyph_assets.storage import storage_path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime settings; all state lives under ``data_dir`` and ``DAGSTER_HOME``."""

    model_config = SettingsConfigDict(env_prefix="GLYPH_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data")
    # Where the landing zone and the staging Parquet live: None keeps them under data_dir; an
    # fsspec URL (s3://bucket/glyph/landing, file:///mnt/shared/staging) puts them where every
    # Celery worker reaches them (see glyph_assets/storage.py).
    landing_url: str | None = None
    staging_url: str | None = None
    database_url: str | None = None
    registry_path: Path = Field(default=PROJECT_ROOT / "data" / "reference" / "gpu_models.csv")

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_token: str | None = None
    api_token_reads: bool = False  # with api_token set, require it for reads (GET) as well
    api_workers: int = 2  # uvicorn worker processes (one per core serves reads in parallel)
    allow_run_config: bool = False  # lets clients pass Dagster run config (delays, fault switches)
    dagster_host: str = "127.0.0.1"
    dagster_port: int = 3000
    code_server_port: int | None = None  # None: a free port, picked when the stack starts
    dagster_location: str = "glyph"
    dagster_postgres_url: str | None = None
    # Where runs execute: "warm" (a process forked by the daemon from a fork server with Dagster
    # and the code preloaded: glyph_assets.run_launcher), "default" (a fresh interpreter started
    # by the code server) or "docker" (a container per run through dagster-docker's
    # DockerRunLauncher; see deploy/README.md).
    dagster_run_launcher: Literal["warm", "default", "docker"] = "warm"
    dagster_run_image: str | None = None
    dagster_run_network: str | None = None
    dagster_run_volumes: list[str] = Field(default_factory=list)
    max_concurrent_runs: int = 4
    # Where a run's steps execute: "multiprocess" (every step in the run's own process, beside
    # the code server) or "celery" (each step a task on Dagster's Celery executor, taken by any
    # `glyph worker` listening on celery_queue; needs the instance on PostgreSQL).
    executor: Literal["multiprocess", "celery"] = "multiprocess"
    celery_broker_url: str = "pyamqp://guest:guest@127.0.0.1:5672//"
    celery_backend_url: str = "rpc://"
    # Two stacks on one broker never take each other's steps when their queues differ.
    celery_queue: str = "glyph"
    # Workers `glyph dev`/`glyph up` supervise; None: 2 with the celery executor, else 0.
    celery_workers: int | None = Field(default=None, ge=0)
    dequeue_interval_seconds: int = 1
    # An import whose landed file is at most this many bytes is launched at once while the run
    # queue has room, rather than at the daemon's next dequeue (glyph_assets.run_coordinator);
    # 0 queues every run. 256 KiB is a few thousand rows: a run of seconds.
    express_max_bytes: int = Field(default=256 * 1024, ge=0)
    # Fan-out of large imports: an import of at least fanout_min_rows data rows runs the job
    # whose normalize and enrich stages split it into chunks of about fanout_chunk_rows rows,
    # one step each (glyph_assets/assets/fanout.py). None: 100,000 with the celery executor,
    # 0 (never) with multiprocess, where the steps of a run share one process anyway.
    fanout_min_rows: int | None = Field(default=None, ge=0)
    fanout_chunk_rows: int = Field(default=50_000, ge=1)

    log_format: Literal["plain", "json"] = "plain"  # json: one JSON object per log line
    # Listings across imports count their matches (X-Total-Count) only this far past the page:
    # beyond it the total is a lower bound (X-Total-Count-Relation: gte); 0 counts every match.
    listing_count_beyond: int = Field(default=10_000, ge=0)

    chunk_rows: int = 50_000
    max_upload_bytes: int = 512 * 1024 * 1024
    max_rows: int = 5_000_000
    max_field_chars: int = 4096
    max_run_seconds: int = 3600  # dagster/max_runtime of every ingest run (run monitoring)
    # Dagster re-executes a run whose worker died this many times (0: never); data failures
    # (a step that raised) are never retried automatically.
    run_retries: int = 2
    # Seconds a launched run may stay STARTING (or CANCELING) before run monitoring fails (or
    # cancels) it; a run worker starts in a few seconds here, far more on a loaded machine.
    run_start_timeout_seconds: int = 60
    # Seconds a run may stay NOT_STARTED, or a queued import without a run, before the stalled-
    # launch sensor settles it (``launch_recovery``): longer than the API waits on a launch.
    launch_stall_seconds: float = Field(default=90.0, gt=0)
    # Days an import's staging Parquet parts are kept after it succeeded (a newer successful
    # run of the same import replaces them sooner); ``glyph prune`` removes the expired ones.
    staging_retention_days: float = Field(default=7.0, ge=0)
    pipeline_root: Path | None = None
    inbox_dir: Path | None = None
    inbox_reimport: bool = False

    market_window_imports: int = 10
    market_movements_window_imports: int = 50
    market_cron: str = "0 5 * * *"
    market_timezone: str = "UTC"
    market_automation_interval: int = 30
    # The dated rate table behind the USD-equivalents of market figures and import diffs
    # (date,currency,usd_rate; see data/reference/README.md). Empty: no USD-equivalents for
    # prices in other currencies.
    fx_rates_path: str = str(PROJECT_ROOT / "data" / "reference" / "fx_rates.csv")
    unknown_model_warn_share: float = 0.25
    check_sample_rows: int = 50_000

    @model_validator(mode="after")
    def _celery_needs_shared_instance(self) -> Settings:
        """Celery workers run steps on other machines, which reach Dagster's instance only
        through a database server: refuse the combination that would hang every run."""
        if self.executor == "celery" and not self.dagster_postgres_url:
            raise ValueError(
                "GLYPH_EXECUTOR=celery needs GLYPH_DAGSTER_POSTGRES_URL: Celery workers cannot "
                "reach a Dagster instance kept in SQLite files under DAGSTER_HOME"
            )
        return self

    @property
    def supervised_workers(self) -> int:
        """How many `glyph worker` processes the local stack starts."""
        if self.celery_workers is not None:
            return self.celery_workers
        return 2 if self.executor == "celery" else 0

    @property
    def fanout_threshold(self) -> int:
        """Rows from which an import fans out (0: never)."""
        if self.fanout_min_rows is not None:
            return self.fanout_min_rows
        return 100_000 if self.executor == "celery" else 0

    @property
    def landing_dir(self) -> UPath:
        return storage_path(self.landing_url or self.data_dir / "landing")

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def staging_dir(self) -> UPath:
        return storage_path(self.staging_url or self.data_dir / "staging")

    @property
    def inbox(self) -> Path:
        return self.inbox_dir or self.data_dir / "inbox"

    @property
    def from_pipeline_root(self) -> Path:
        return self.pipeline_root or self.data_dir / "pipeline"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.warehouse_dir / 'glyph.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests change the environment between stacks; forget the cached settings."""
    get_settings.cache_clear()
