"""Request and response models of the REST API; every response carries ``schema_version``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from glyph_assets.contract import ENRICHED_LISTINGS, INGEST_JOB_NAME
from glyph_assets.store.status import IMPORT_STATUSES

if TYPE_CHECKING:
    from glyph_assets.sieve.inspect import FileInspection

SCHEMA_VERSION = "1"
# The established glyphd schema versions (its ImportResultDTO carries one of them).
ESTABLISHED_SCHEMA_VERSIONS = ("v1.0", "v1.1")
ESTABLISHED_SCHEMA_VERSION = "v1.1"

# The store's statuses as a Literal: OpenAPI shows them inline as an enum of strings.
ImportStatus = Literal[tuple(s.value for s in IMPORT_STATUSES)]  # type: ignore[valid-type]
JobState = Literal["queued", "running", "canceling", "succeeded", "failed", "canceled"]
Kind = Literal["raw", "scored"]
ScoreScaleName = Literal["0-100", "0-1"]

EXAMPLE_IMPORT_ID = "5b0e8f7c-3c1e-4c55-9d0e-2f7a9b1c4d21"
EXAMPLE_RUN_ID = "9d3c51f2-7a44-4b8e-8f2a-0c6e1d2b3a45"
T = TypeVar("T")


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; glyph stores UTC, so say so in every answer."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def _example(example: dict[str, Any], **config: Any) -> ConfigDict:
    """A model's config with the one example its OpenAPI schema shows."""
    return ConfigDict(json_schema_extra={"examples": [example]}, **config)


class Versioned(BaseModel):
    schema_version: str = Field(default=SCHEMA_VERSION, description="Version of this schema")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. file_rejected")
    message: str
    problems: list[str] = Field(default_factory=list, description="Every problem found")
    details: dict[str, Any] | None = None


class ErrorResponse(Versioned):
    """The one error shape of the API."""

    model_config = _example(
        {
            "schema_version": SCHEMA_VERSION,
            "error": {
                "code": "file_rejected",
                "message": "the file cannot be ingested",
                "problems": ["no column can serve as the price (expected e.g. price, price_usd)"],
                "details": None,
            },
            "detail": "the file cannot be ingested; no column can serve as the price "
            "(expected e.g. price, price_usd)",
        }
    )
    error: ErrorDetail
    detail: str | list[dict[str, Any]] | None = Field(
        default=None,
        description="The field established glyphd clients read: the message and its problems "
        "as one text, or for a request that fails validation FastAPI's list of "
        "{loc, msg, type}",
    )


class Page(Versioned, Generic[T]):
    """A page of a list: ``items`` plus the total matching count and the window asked for."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=0)
    offset: int = Field(ge=0)


class Links(BaseModel):
    summary: str = Field(description="GET this import's summary")
    job_status: str | None = Field(default=None, description="GET the run's status")
    dagster_run: str | None = Field(default=None, description="The run in the Dagster UI")
    listings: str | None = None
    errors: str | None = None


class DetectedFormat(BaseModel):
    format: str = Field(description="csv or json")
    encoding: str
    delimiter: str | None = None
    columns: list[str]
    kind: Kind

    @classmethod
    def of(cls, inspection: FileInspection) -> DetectedFormat:
        """What the file-level check found, as an import and a dry run both report it."""
        return cls(
            format=inspection.format,
            encoding=inspection.encoding,
            delimiter=inspection.delimiter,
            columns=inspection.columns,
            kind=inspection.kind,  # type: ignore[arg-type]
        )


class ImportAccepted(Versioned):
    """Answer to an upload: the import exists and its run is launched."""

    model_config = _example(
        {
            "schema_version": SCHEMA_VERSION,
            "import_id": EXAMPLE_IMPORT_ID,
            "run_id": EXAMPLE_RUN_ID,
            "attempt": 1,
            "status": "queued",
            "source": "api",
            "kind": "raw",
            "sha256": "3f1c...",
            "size_bytes": 33961,
            "detected": {
                "format": "csv",
                "encoding": "utf-8",
                "delimiter": ",",
                "columns": ["title", "price", "condition"],
                "kind": "raw",
            },
            "links": {
                "summary": f"/api/imports/{EXAMPLE_IMPORT_ID}",
                "job_status": f"/api/jobs/{EXAMPLE_RUN_ID}/status",
                "dagster_run": f"http://127.0.0.1:3000/runs/{EXAMPLE_RUN_ID}",
            },
        }
    )
    import_id: str
    run_id: str | None
    attempt: int | None = None
    status: ImportStatus
    source: str
    kind: Kind
    sha256: str
    size_bytes: int
    detected: DetectedFormat | None = None
    links: Links


class RunTimes(BaseModel):
    """A Dagster run's times as its run record holds them (an import's runs and a job's status
    both carry them, under Dagster's own names)."""

    created_at: UtcDatetime | None = None
    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None


class RunOut(RunTimes):
    run_id: str
    attempt: int
    status: str = Field(description="Dagster's run status (QUEUED, STARTED, SUCCESS, ...)")
    parent_run_id: str | None = None
    dagster_url: str | None = None


class StepOut(BaseModel):
    """One step of the import's latest run and where it ran."""

    step_key: str
    worker: str | None = Field(
        default=None,
        description="Celery node name (w1@host) on the celery executor; host:pid when the "
        "run's steps ran in its own process",
    )
    status: str | None = Field(default=None, description="Dagster's step status")
    started_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None


class RowErrorOut(BaseModel):
    model_config = _example(
        {
            "import_index": 17,
            "stage": "clean",
            "field": "price",
            "reason": "price is not a number: call for price",
            "raw_row": '{"title": "RTX 4090", "price": "call for price"}',
        }
    )
    import_index: int
    stage: str
    field: str | None = None
    reason: str
    raw_row: str | None = None


class ScoreRange(BaseModel):
    min: float | None = None
    max: float | None = None
    mean: float | None = None


_CARD_PRICE = "price of one card: unit_price (a lot's price divided by its size), else price"


class TopModel(BaseModel):
    canonical_model: str
    listings: int
    min_price: float | None = Field(None, description=_CARD_PRICE)
    max_price: float | None = Field(None, description=_CARD_PRICE)


class Timings(BaseModel):
    received_at: UtcDatetime | None = None
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    queued_seconds: float | None = Field(default=None, description="received -> started")
    processing_seconds: float | None = Field(default=None, description="started -> finished")
    total_seconds: float | None = Field(default=None, description="received -> finished")


class EstablishedRowError(BaseModel):
    """A row error as established glyphd clients read it (``RowErrorDTO``)."""

    row_index: int = Field(description="The row's import_index")
    row_data: dict[str, Any] = Field(default_factory=dict, description="The row as received")
    errors: list[str] = Field(default_factory=list)
    field_errors: dict[str, str] = Field(default_factory=dict)


class ImportSummaryStats(BaseModel):
    """``ImportSummaryStatsDTO`` of the established contract, filled in by glyph."""

    total_rows: int
    successful_rows: int
    failed_rows: int
    warnings_count: int = Field(default=0, description="Persisted rows that carry a warning")
    processing_time_ms: int


class ImportResultFields(BaseModel):
    """The established ``ImportResultDTO`` fields that glyph's summary carries beside its own
    (the two whose established shape differs from glyph's, ``top_models`` and
    ``schema_version``, are given in that shape only by the established paths' answer)."""

    record_count: int = Field(default=0, description="Listings persisted (= persisted_rows)")
    first_model: str | None = Field(
        default=None, description="canonical_model of the first persisted row (UNKNOWN if none)"
    )
    last_model: str | None = Field(default=None, description="... of the last persisted row")
    timestamp: UtcDatetime | None = Field(
        default=None, description="When the import finished (else when it was last updated)"
    )
    valid_rows: int | None = None
    invalid_rows: int | None = None
    score_range: list[float] | None = Field(
        default=None, min_length=2, max_length=2, description="[min, max] of the rows' score"
    )
    rows_with_errors: list[EstablishedRowError] = Field(default_factory=list)
    summary_stats: ImportSummaryStats | None = None
    validation_errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="Import-level warnings")
    score_scale: ScoreScaleName | None = Field(
        default=None, description="Scored uploads: the scale client scores were read on"
    )


class ListingChanges(BaseModel):
    """What changed against the previous import of the same source (the listing_changes
    asset's record; ``GET /api/imports/{id}/diff`` pages the listings themselves)."""

    against_import_id: str | None = None
    new_listings: int
    gone_listings: int
    repriced_listings: int
    unchanged_listings: int
    unkeyed_listings: int = Field(description="Listings without a key (they cannot be followed)")


class ImportSummary(Versioned, ImportResultFields):
    """An import as a client sees it; counts are read from the database."""

    model_config = _example(
        {
            "schema_version": SCHEMA_VERSION,
            "import_id": EXAMPLE_IMPORT_ID,
            "status": "partially_succeeded",
            "source": "api",
            "kind": "raw",
            "total_rows": 173,
            "persisted_rows": 170,
            "error_rows": 3,
            "not_gpu_rows": 12,
            "unknown_model_rows": 4,
            "score": {"min": 3.2, "max": 91.5, "mean": 48.0},
            "top_models": [{"canonical_model": "H100_PCIE_80GB", "listings": 21}],
            "first_errors": [],
            "runs": [{"run_id": EXAMPLE_RUN_ID, "attempt": 1, "status": "SUCCESS"}],
            "timings": {"queued_seconds": 1.2, "processing_seconds": 2.9},
            "links": {"summary": f"/api/imports/{EXAMPLE_IMPORT_ID}"},
        }
    )
    import_id: str
    status: ImportStatus
    source: str
    description: str | None = None
    filename: str | None = None
    content_type: str | None = None
    kind: Kind
    sha256: str
    size_bytes: int
    campaign_id: str | None = None
    metadata: dict[str, Any] | None = None
    error_message: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    total_rows: int | None = Field(default=None, description="Data rows read (known once done)")
    persisted_rows: int = Field(description="Rows in the listings table for this import")
    error_rows: int = Field(description="Rows in the row_errors table for this import")
    not_gpu_rows: int
    unknown_model_rows: int
    score: ScoreRange
    top_models: list[TopModel]
    first_errors: list[RowErrorOut]
    runs: list[RunOut]
    steps: list[StepOut] = Field(
        default_factory=list, description="The latest run's steps (empty if Dagster is down)"
    )
    timings: Timings
    links: Links
    listing_changes: ListingChanges | None = None


class ImportResult(ImportSummary):
    """The established glyphd ``ImportResultDTO``, in full, as its clients read it from the
    established paths (``/api/persist/listings``, ``/api/import/csv``,
    ``/api/imports/from-pipeline``), with every field of glyph's summary beside it. The two
    fields whose established shape differs keep it here: ``top_models`` (model ids) and
    ``schema_version``; glyph's own are ``top_model_counts`` and ``glyph_schema_version``."""

    schema_version: Literal["v1.0", "v1.1"] = ESTABLISHED_SCHEMA_VERSION  # type: ignore[assignment]
    top_models: list[str] = Field(  # type: ignore[assignment]
        default_factory=list, description="The import's most listed models"
    )
    top_model_counts: list[TopModel] = Field(default_factory=list)
    glyph_schema_version: str = SCHEMA_VERSION


class ImportListItem(BaseModel):
    import_id: str
    status: ImportStatus
    source: str
    description: str | None = None
    filename: str | None = None
    kind: Kind
    created_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    total_rows: int | None = None
    persisted_rows: int | None = None
    error_rows: int | None = None
    not_gpu_rows: int | None = None
    unknown_model_rows: int | None = None
    latest_run_id: str | None = None


class ListingOut(BaseModel):
    """One persisted listing: its identity and the pipeline's columns."""

    model_config = _example(
        {
            "import_id": EXAMPLE_IMPORT_ID,
            "import_index": 1,
            "title": "NVIDIA H100 PCIe 80GB",
            "price": 27450.0,
            "currency": "USD",
            "canonical_model": "H100_PCIE_80GB",
            "match_type": "exact",
            "is_gpu": True,
            "score": 71.3,
        }
    )
    import_id: str
    import_index: int
    title: str | None = None
    price: float | None = None
    currency: str | None = None
    condition: str | None = None
    quantity: int | None = None
    unit_price: float | None = Field(
        None, description="price of one card: price divided by the lot it buys ('Lot of 4')"
    )
    seller: str | None = None
    region: str | None = None
    source_url: str | None = None
    source_type: str | None = None
    listing_age: str | None = None
    model_hint: str | None = None
    brand_hint: str | None = None
    bulk_notes: str | None = None
    canonical_model: str | None = None
    match_type: str | None = None
    match_score: float | None = None
    vendor: str | None = None
    is_gpu: bool | None = None
    reject_reason: str | None = None
    match_alternatives: str | None = Field(
        None,
        description="ids the title leaves open, '|'-joined, the chosen one first (inferred or "
        "ambiguous matches)",
    )
    listing_key: str | None = Field(
        default=None, description="The listing's identity across imports (its history)"
    )
    segment: str | None = None
    architecture: str | None = None
    vram_gb: float | None = None
    memory_type: str | None = None
    tdp_watts: float | None = None
    mig_instances: int | None = None
    nvlink: bool | None = None
    pcie_gen: int | None = None
    form_factor: str | None = None
    launch_year: int | None = None
    warnings: str | None = None
    score: float | None = None
    score_capacity: float | None = None
    score_features: float | None = None
    score_efficiency: float | None = None
    score_value: float | None = None
    client_score: float | None = Field(
        default=None,
        description="An already-scored row's own score exactly as the client sent it; "
        "``score`` is glyph's 0-100 figure derived from it by the import's score_scale",
    )


class EstablishedListing(ListingOut):
    """A listing as established glyphd clients read it (``GPUListingDTO``: ``mig_support`` and
    integer specs, ``score`` as the client sent it, ``UNKNOWN`` for a row without a model), with
    glyph's columns beside it (its own 0-100 score as ``glyph_score``); nulls are left out."""

    canonical_model: str  # type: ignore[assignment]
    vram_gb: int | None = None  # type: ignore[assignment]
    mig_support: int | None = None
    tdp_watts: int | None = None  # type: ignore[assignment]
    glyph_score: float | None = None


class ListingPage(Page[ListingOut]):
    """A page of listings; ``next_after_index`` continues it by keyset (``after_index``)."""

    next_after_index: int | None = Field(
        default=None,
        description="With sort=import_index and a full page: pass as after_index for the next "
        "page, which then costs the same however deep it is (offset walks every skipped row)",
    )


class StageProgress(BaseModel):
    stage: str
    status: str | None = Field(default=None, description="Dagster step status, if started")
    rows_processed: int | None = None
    rows_total: int | None = None


class Progress(BaseModel):
    assets_done: int = Field(ge=0, le=5)
    assets_total: int = 5
    current_stage: str | None = None
    rows_processed: int | None = Field(default=None, description="Rows done in current stage")
    rows_total: int | None = None
    stages: list[StageProgress] = Field(default_factory=list)


class JobStatus(Versioned, RunTimes):
    """A Dagster run of an import, read from Dagster (the source of truth for run state)."""

    model_config = _example(
        {
            "schema_version": SCHEMA_VERSION,
            "run_id": EXAMPLE_RUN_ID,
            "import_id": EXAMPLE_IMPORT_ID,
            "job_name": INGEST_JOB_NAME,
            "status": "running",
            "dagster_status": "STARTED",
            "attempt": 1,
            "import_status": "running",
            "progress": {
                "assets_done": 2,
                "assets_total": 5,
                "current_stage": ENRICHED_LISTINGS,
                "rows_processed": 50000,
                "rows_total": 173000,
            },
            "failure_message": None,
            "links": {
                "summary": f"/api/imports/{EXAMPLE_IMPORT_ID}",
                "job_status": f"/api/jobs/{EXAMPLE_RUN_ID}/status",
                "dagster_run": f"http://127.0.0.1:3000/runs/{EXAMPLE_RUN_ID}",
            },
        }
    )
    run_id: str
    import_id: str | None
    job_name: str
    status: JobState
    dagster_status: str
    attempt: int | None = None
    parent_run_id: str | None = None
    import_status: ImportStatus | None = None
    progress: Progress
    failure_message: str | None = None
    links: Links | None = None


class RetryRequest(BaseModel):
    model_config = _example({"strategy": "from_failure"}, extra="forbid")
    strategy: Literal["from_failure", "all_steps", "fresh"] = Field(
        default="from_failure",
        description=(
            "from_failure: re-execute the failed step and those after it (Dagster re-execution); "
            "all_steps: re-execute every step; fresh: a new run of the partition"
        ),
    )
    run_config: dict[str, Any] | None = Field(
        default=None,
        description="Replace the parent's run config (only when the server allows run_config)",
    )


class RetryResponse(Versioned):
    model_config = _example(
        {
            "schema_version": SCHEMA_VERSION,
            "import_id": EXAMPLE_IMPORT_ID,
            "run_id": EXAMPLE_RUN_ID,
            "parent_run_id": "0e1f...",
            "attempt": 2,
            "strategy": "from_failure",
            "status": "queued",
            "links": {"summary": f"/api/imports/{EXAMPLE_IMPORT_ID}"},
        }
    )
    import_id: str
    run_id: str
    parent_run_id: str | None
    attempt: int
    strategy: Literal["from_failure", "all_steps", "fresh"]
    status: ImportStatus
    links: Links


class JsonImportRequest(BaseModel):
    """A JSON body import: the listings themselves plus what a multipart upload sends as fields."""

    model_config = _example(
        {
            "listings": [{"title": "NVIDIA A100 40GB PCIe", "price": "6890", "condition": "Used"}],
            "source": "reseller-feed",
            "description": "nightly feed",
            "kind": "raw",
        },
        extra="forbid",
    )
    listings: list[dict[str, Any]] = Field(min_length=1)
    source: str = Field(default="api", min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    kind: Kind | None = None
    score_scale: ScoreScaleName | None = Field(
        default=None,
        description="Scored rows: the scale of their score (default 0-100; 0-1 is detected "
        "with a warning when undeclared)",
    )
    campaign_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    run_config: dict[str, Any] | None = Field(
        default=None, description="Dagster run config (only when the server allows it)"
    )


class FromPipelineRequest(BaseModel):
    model_config = _example(
        {
            "input_csv_path": "2026-11-23/listings.csv",
            "source_label": "scraper-eu",
            "campaign_id": "nov-sweep",
            "metadata": {"crawler": "v3"},
        },
        extra="forbid",
    )
    input_csv_path: str = Field(
        min_length=1,
        max_length=4096,
        description="A file under the server's pipeline root (relative to it, or absolute)",
    )
    source_label: str = Field(default="pipeline", min_length=1, max_length=200)
    campaign_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    description: str | None = Field(default=None, max_length=10_000)
    kind: Kind | None = None
    score_scale: ScoreScaleName | None = None
    run_config: dict[str, Any] | None = None


class RowWarningOut(BaseModel):
    import_index: int
    warning: str


class ValidationReport(Versioned):
    """What an import of this file would produce, computed without persisting anything."""

    model_config = _example(
        {
            "schema_version": SCHEMA_VERSION,
            "valid": True,
            "problems": [],
            "detected": {
                "format": "csv",
                "encoding": "utf-8",
                "delimiter": ",",
                "columns": ["title", "price"],
                "kind": "raw",
            },
            "total_rows": 173,
            "valid_rows": 170,
            "error_rows": 3,
            "not_gpu_rows": 12,
            "unknown_model_rows": 4,
            "warning_rows": 2,
            "error_reasons": {"price is missing": 2},
            "errors": [],
            "warnings": [],
        }
    )
    valid: bool = Field(description="False when the file would be refused as a whole")
    problems: list[str] = Field(default_factory=list, description="File-level problems")
    detected: DetectedFormat | None = None
    total_rows: int = 0
    valid_rows: int = 0
    error_rows: int = 0
    not_gpu_rows: int = 0
    unknown_model_rows: int = 0
    warning_rows: int = 0
    error_reasons: dict[str, int] = Field(default_factory=dict)
    errors: list[RowErrorOut] = Field(default_factory=list, description="The first row errors")
    warnings: list[RowWarningOut] = Field(default_factory=list)
    score_scale: ScoreScaleName | None = Field(
        default=None, description="Scored uploads: the scale client scores would be read on"
    )
    import_warnings: list[str] = Field(default_factory=list, description="Import-level warnings")


class ModelMarket(BaseModel):
    model_config = _example(
        {
            "canonical_model": "H100_PCIE_80GB",
            "vendor": "NVIDIA",
            "display_name": "NVIDIA H100 PCIe 80GB",
            "segment": "datacenter",
            "vram_gb": 80,
            "listing_count": 21,
            "min_price": 18500.0,
            "median_price": 27450.0,
            "max_price": 39879.0,
            "currency": "USD",
        }
    )
    canonical_model: str
    vendor: str | None = None
    display_name: str | None = None
    segment: str | None = None
    architecture: str | None = None
    vram_gb: float | None = None
    memory_type: str | None = None
    tdp_watts: float | None = None
    form_factor: str | None = None
    launch_year: int | None = None
    in_registry: bool = True
    listing_count: int = 0
    min_price: float | None = Field(None, description=_CARD_PRICE)
    median_price: float | None = Field(None, description=_CARD_PRICE)
    max_price: float | None = Field(None, description=_CARD_PRICE)
    currency: str


class SchemaVersions(Versioned):
    """What this service speaks and how a client asks for one."""

    current_version: str
    supported_versions: list[str]
    established_versions: list[str]
    established_default_version: str
    how_to_ask: str


class EstablishedVersions(BaseModel):
    supported_versions: list[str]
    default_version: str
    current_version: str


class EstablishedVersionCheck(BaseModel):
    version: str
    supported: bool
    message: str
    supported_versions: list[str] | None = None


class EstablishedModel(ModelMarket):
    """A model as established glyphd clients read it (``GPUModelDTO``: ``model`` is the display
    name, prices and ``listing_count`` required, the optional specs under their established
    names), glyph's registry columns and market figures beside it; nulls left out."""

    model: str
    avg_price: float | None = None
    mig_support: int | None = None
    nvlink: bool | None = None
    generation: str | None = None
    pcie_generation: int | None = None
    slot_width: int | None = None
    mig_instances: int | None = None
    pcie_gen: int | None = None


class ComponentHealth(BaseModel):
    ok: bool
    version: str | None = None
    detail: str | None = None
    url: str | None = None


class Health(Versioned):
    model_config = _example(
        {
            "schema_version": SCHEMA_VERSION,
            "status": "ok",
            "database": {"ok": True, "version": "0001", "detail": "sqlite"},
            "dagster": {"ok": True, "version": "1.13.27", "url": "http://127.0.0.1:3000"},
            "components": {
                "database": {"ok": True, "version": "0001", "detail": "sqlite"},
                "dagster": {"ok": True, "version": "1.13.27"},
                "code_server": {"ok": True, "url": "grpc://127.0.0.1:4266"},
                "daemon": {"ok": True, "detail": "8 daemons heartbeating"},
            },
            "down": [],
            "versions": {"glyph": "0.1.0", "api_schema": SCHEMA_VERSION},
        }
    )
    status: Literal["ok", "degraded"]
    database: ComponentHealth
    dagster: ComponentHealth
    # Every component by name (database, dagster, code_server, daemon) and the ones down.
    components: dict[str, ComponentHealth] = Field(default_factory=dict)
    down: list[str] = Field(default_factory=list)
    versions: dict[str, str]


# A listing across imports, what changed between two imports, the established price deltas
# (routes/changes.py).


class Observation(BaseModel):
    import_id: str
    source: str
    observed_at: UtcDatetime
    import_index: int
    title: str | None = None
    canonical_model: str | None = None
    price: float | None = None
    unit_price: float | None = Field(default=None, description="The price of one card of a lot")
    currency: str | None = None
    condition: str | None = None
    quantity: int | None = None
    seller: str | None = None
    source_url: str | None = None
    score: float | None = None


class ListingHistory(Versioned):
    listing_key: str
    observations: list[Observation] = Field(description="Oldest first, one per row seen")


class ChangeCounts(BaseModel):
    new: int
    gone: int
    repriced: int
    unchanged: int


class ModelChanges(ChangeCounts):
    canonical_model: str


class UsdEquivalent(BaseModel):
    """Both prices in US dollars, each at the latest rate on or before its own import's day
    (``GLYPH_FX_RATES_PATH``); null with a reason where there is no rate, never a guess."""

    price: float | None = None
    previous_price: float | None = None
    price_change: float | None = Field(
        default=None, description="In USD; also where the two currencies differ"
    )
    rate: float | None = Field(default=None, description="USD per unit of this price's currency")
    rate_date: date | None = None
    reason: str | None = Field(default=None, description="Why this price has no USD value")
    previous_rate: float | None = None
    previous_rate_date: date | None = None
    previous_reason: str | None = None


class ChangedListing(BaseModel):
    listing_key: str
    canonical_model: str | None = None
    title: str | None = None
    import_index: int | None = Field(default=None, description="In this import (null: gone)")
    previous_import_index: int | None = Field(default=None, description="In the other import")
    price: float | None = None
    previous_price: float | None = None
    currency: str | None = None
    previous_currency: str | None = None
    price_change: float | None = Field(default=None, description="Null across currencies")
    price_change_pct: float | None = None
    usd: UsdEquivalent


class ImportDiffOut(Versioned):
    import_id: str
    against: str | None = Field(description="The import compared with (null: none before it)")
    change: str
    counts: ChangeCounts
    by_model: list[ModelChanges]
    items: list[ChangedListing]
    total: int
    limit: int
    offset: int
    next_after_index: int | None = Field(
        default=None,
        description="Pass as after_index for the next page (keyset: as fast however deep); "
        "null on the last page",
    )


class Snapshot(BaseModel):
    id: int
    price_usd: float | None = None
    score: float | None = None
    seen_at: str | None = None


class PriceDelta(BaseModel):
    """The established forecast delta: a listing's change between two consecutive
    observations (``id`` is the later one's); glyph adds the currency and both prices."""

    id: int
    model: str | None = None
    price_delta: float
    price_delta_pct: float
    score_delta: float
    region: str | None = None
    source_url: str | None = None
    timestamp: str | None = None
    current_snapshot_id: int
    previous_snapshot_id: int
    currency: str | None = None
    current_price: float | None = None
    previous_price: float | None = None


class PriceDeltaDetail(PriceDelta):
    current_snapshot: Snapshot
    previous_snapshot: Snapshot


# The market tables the market assets keep (routes/market.py).


class UsdRateUsed(BaseModel):
    usd_rate: float | None = Field(default=None, description="USD per unit of the currency")
    usd_rate_date: date | None = Field(default=None, description="The rate's own date")
    usd_reason: str | None = Field(default=None, description="Why there is no USD value")


class MarketStat(UsdRateUsed):
    """One model's figures in one currency over the newest imports; ``*_usd`` at the rate of
    the day of the newest import they cover."""

    canonical_model: str
    currency: str
    listings: int
    imports: int
    min_price: float
    p10_price: float
    median_price: float
    p90_price: float
    max_price: float
    median_price_per_gb_vram: float | None = None
    best_import_id: str | None = None
    best_import_index: int | None = None
    best_price: float | None = None
    best_score: float | None = None
    min_price_usd: float | None = None
    p10_price_usd: float | None = None
    median_price_usd: float | None = None
    p90_price_usd: float | None = None
    max_price_usd: float | None = None
    window_imports: int
    computed_at: UtcDatetime


class MarketStats(Versioned):
    items: list[MarketStat]


class PriceMovement(UsdRateUsed):
    """A model's median price between two consecutive imports, in its currency; in USD each
    median at the rate of its own import's day (``abs_change_usd`` includes the currency's own
    move)."""

    canonical_model: str
    currency: str
    source: str = Field(description="The import's source, or * across all sources")
    import_id: str
    previous_import_id: str
    imported_at: UtcDatetime
    previous_imported_at: UtcDatetime
    listings: int
    previous_listings: int
    median_price: float
    previous_median_price: float
    abs_change: float
    pct_change: float | None = None
    median_price_usd: float | None = None
    previous_usd_rate: float | None = None
    previous_usd_rate_date: date | None = None
    previous_usd_reason: str | None = None
    previous_median_price_usd: float | None = None
    abs_change_usd: float | None = None
    computed_at: UtcDatetime


class PriceMovements(Versioned):
    items: list[PriceMovement]
