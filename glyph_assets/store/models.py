"""The one module that owns glyph's database schema (SQLAlchemy 2.0 typed models)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    desc,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ImportRow:
    """A row of one import, first in its table: surrogate id, the import (by its integer
    ``import_key``: one to three bytes in every row and index entry where the 36-character
    ``import_id`` took 37; its rows go with it) and the row's 1-based ``import_index``; the
    unique (import_key, import_index) is the table's."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-1)
    import_key: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("imports.import_key", ondelete="CASCADE"),
        nullable=False,
        sort_order=-1,
    )
    import_index: Mapped[int] = mapped_column(Integer, nullable=False, sort_order=-1)


class GpuSpecs:
    """The registry's specs of a GPU model, in the order both tables carry them: the registry
    itself (``gpu_models``, after its names) and the spec sets listings reference."""

    segment: Mapped[str | None] = mapped_column(String(32), sort_order=1)
    architecture: Mapped[str | None] = mapped_column(String(64), sort_order=1)
    vram_gb: Mapped[float | None] = mapped_column(Float, sort_order=1)
    memory_type: Mapped[str | None] = mapped_column(String(32), sort_order=1)
    tdp_watts: Mapped[float | None] = mapped_column(Float, sort_order=1)
    mig_instances: Mapped[int | None] = mapped_column(Integer, sort_order=1)
    nvlink: Mapped[bool | None] = mapped_column(Boolean, sort_order=1)
    pcie_gen: Mapped[int | None] = mapped_column(Integer, sort_order=1)
    form_factor: Mapped[str | None] = mapped_column(String(16), sort_order=1)


class MarketKey:
    """The key of a market figure, first in its table: prices compare only within one model and
    one currency."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-1)
    canonical_model: Mapped[str] = mapped_column(String(64), nullable=False, sort_order=-1)
    currency: Mapped[str] = mapped_column(String(8), nullable=False, sort_order=-1)


class Import(Base):
    """One submission: a file, a JSON body or an inbox file."""

    __tablename__ = "imports"
    # A unique index rather than a constraint: SQLite can add it to an existing table in place
    # (migration 0012), and both databases accept it as the parent key of the row tables.
    __table_args__ = (Index("uq_imports_import_key", "import_key", unique=True),)

    import_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The import's key in the per-row tables (listings, row_errors): given in order of creation
    # by ``repository.create_import``; import_id stays the id every client sees (migration 0012).
    import_key: Mapped[int] = mapped_column(Integer, nullable=False)
    source: Mapped[str] = mapped_column(String(200), default="api")
    description: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(500))
    content_type: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="raw")
    status: Mapped[str] = mapped_column(String(32), default="queued", index=True)
    campaign_id: Mapped[str | None] = mapped_column(String(200))
    metadata_json: Mapped[dict | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    total_rows: Mapped[int | None] = mapped_column(Integer)
    persisted_rows: Mapped[int | None] = mapped_column(Integer)
    error_rows: Mapped[int | None] = mapped_column(Integer)
    not_gpu_rows: Mapped[int | None] = mapped_column(Integer)
    unknown_model_rows: Mapped[int | None] = mapped_column(Integer)
    # Scored uploads: the scale their client scores were read on, declared or detected.
    score_scale: Mapped[str | None] = mapped_column(String(8))
    # Import-level warnings a person should see in the summary (a detected score scale, ...).
    warnings: Mapped[list | None] = mapped_column(JSON)


class ImportRun(Base):
    """A Dagster run that worked on an import (first run, retries, re-executions)."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[str] = mapped_column(
        ForeignKey("imports.import_id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(32), default="QUEUED")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Dagster's facts of the run, kept once known (migration 0017): a final import's summary is
    # served from here without asking Dagster, and Dagster may have pruned the run by then.
    parent_run_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SpecSet(GpuSpecs, Base):
    """One distinct set of the facts a listing takes from its model: the registry specs it was
    enriched with and the three score components those specs alone decide. Kept once here and
    referenced by ``listings.spec_set`` (migration 0012) instead of copied onto every listing.

    Not ``gpu_models`` itself: that table is the registry as it is now, replaced whenever the
    registry file changes, while a listing keeps the specs it was scored with; a scored upload
    keeps the client's own specs, and enrich fills ``vram_gb`` from the title where the registry
    has none. Each of those is simply another set here, so every listing reads back exactly
    what was written. A handful of rows per model in practice.
    """

    __tablename__ = "spec_sets"

    spec_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=True, sort_order=0
    )
    launch_year: Mapped[int | None] = mapped_column(Integer, sort_order=2)
    score_capacity: Mapped[float | None] = mapped_column(Float, sort_order=2)
    score_features: Mapped[float | None] = mapped_column(Float, sort_order=2)
    score_efficiency: Mapped[float | None] = mapped_column(Float, sort_order=2)


class Listing(ImportRow, Base):
    """One persisted row of an import; identity is (import_key, import_index).

    What the API shows of a listing (``store.listing_rows``) adds to these columns its
    ``import_id`` (from ``imports``), its spec set's columns (``spec_sets``) and ``unit_price``
    as ``coalesce(unit_price, price)``: a listing stores ``unit_price`` only where a lot makes
    it differ from ``price`` (migration 0012).
    """

    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("import_key", "import_index", name="uq_listings_import_row"),
        # Serves an import's best-first page; on PostgreSQL migration 0003 builds it with
        # "score DESC NULLS LAST" (SQLite has no NULLS in index DDL and sorts NULLs last here).
        Index("ix_listings_import_score_desc", "import_key", desc("score"), "import_index"),
        # The documented filters (migration 0012 has the DDL with PostgreSQL's NULLS LAST): one
        # import's page of one model; a vendor's listings best first; a model's best first.
        # These three leave out rows without a model (vendor): their filter never reads them.
        Index(
            "ix_listings_import_model",
            "import_key",
            "canonical_model",
            "import_index",
            sqlite_where=text("canonical_model IS NOT NULL"),
            postgresql_where=text("canonical_model IS NOT NULL"),
        ),
        Index(
            "ix_listings_vendor_score",
            func.lower(text("vendor")),
            desc("score"),
            "import_key",
            "import_index",
            sqlite_where=text("lower(vendor) IS NOT NULL"),
            postgresql_where=text("lower(vendor) IS NOT NULL"),
        ),
        Index(
            "ix_listings_model_score",
            "canonical_model",
            desc("score"),
            "import_key",
            "import_index",
            sqlite_where=text("canonical_model IS NOT NULL"),
            postgresql_where=text("canonical_model IS NOT NULL"),
        ),
        # A listing's history across imports and the price deltas. An import's side of a diff
        # sorts its own rows instead: a second index on a random key made every import's
        # transaction hold another index's worth of dirty pages.
        Index("ix_listings_key_import", "listing_key", "import_key"),
    )

    # The title, kept once in ``titles`` (migration 0015); NULL where the row has none.
    title_id: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(8))
    condition: Mapped[str | None] = mapped_column(String(32))
    quantity: Mapped[int | None] = mapped_column(Integer)
    # The price of one card where a lot ("Lot of 4") makes it differ from price; NULL where it
    # is the price itself (migrations 0007, 0012). Read as coalesce(unit_price, price).
    unit_price: Mapped[float | None] = mapped_column(Float)
    seller: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[str | None] = mapped_column(Text)
    listing_age: Mapped[str | None] = mapped_column(Text)
    model_hint: Mapped[str | None] = mapped_column(Text)
    brand_hint: Mapped[str | None] = mapped_column(Text)
    bulk_notes: Mapped[str | None] = mapped_column(Text)
    canonical_model: Mapped[str | None] = mapped_column(String(64))
    match_type: Mapped[str | None] = mapped_column(String(16))
    match_score: Mapped[float | None] = mapped_column(Float)
    vendor: Mapped[str | None] = mapped_column(String(16))
    is_gpu: Mapped[bool | None] = mapped_column(Boolean)
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    listing_key: Mapped[str | None] = mapped_column(String(24))
    # The ids the title leaves open ("RTX_3080_10GB|RTX_3080_12GB"), chosen one first.
    match_alternatives: Mapped[str | None] = mapped_column(Text)
    # The specs and spec-decided score components (spec_sets); NULL where a row has none.
    spec_set: Mapped[int | None] = mapped_column(Integer, ForeignKey("spec_sets.spec_id"))
    warnings: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    score_value: Mapped[float | None] = mapped_column(Float)
    # An already-scored row's own score, exactly as the client sent it (any scale).
    client_score: Mapped[float | None] = mapped_column(Float)


TITLE_DIGEST_BYTES = 16


def title_digest(text: str) -> bytes:
    """The key a title is found by in ``titles``: 16 bytes of BLAKE2b of its UTF-8 text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=TITLE_DIGEST_BYTES).digest()


class Title(Base):
    """A listing title, kept once however many listings (of however many imports) carry it
    (migration 0015): a scrape repeats each title across many rows and every re-scrape, and the
    title was the largest column of a listing (42 of its 218 bytes on realistic rows).

    Found by ``digest`` (16 bytes of BLAKE2b of the text, unique): an index on the text itself
    would store every title twice, and PostgreSQL's B-tree refuses entries over 2,704 bytes. A
    listing keeps ``title_id``; ``store.listing_rows`` reads the text back. There is no foreign
    key (a write would check every row against this table); a title no listing refers to any
    more (its imports deleted) stays.
    """

    __tablename__ = "titles"

    title_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[bytes] = mapped_column(
        LargeBinary(TITLE_DIGEST_BYTES), nullable=False, unique=True
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)


class RowError(ImportRow, Base):
    """A row that could not be cleaned or validated, kept with its reason and raw content."""

    __tablename__ = "row_errors"
    __table_args__ = (
        UniqueConstraint("import_key", "import_index", name="uq_row_errors_import_row"),
    )

    stage: Mapped[str] = mapped_column(String(32))
    field: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    raw_row: Mapped[str | None] = mapped_column(Text)


class ImportDiff(Base):
    """What changed between an import and the previous import of its source (by listing_key),
    recorded by the listing_changes asset; the API computes any other pair on demand."""

    __tablename__ = "import_diffs"

    import_id: Mapped[str] = mapped_column(
        ForeignKey("imports.import_id", ondelete="CASCADE"), primary_key=True
    )
    against_import_id: Mapped[str | None] = mapped_column(String(36))
    new_listings: Mapped[int] = mapped_column(Integer)
    gone_listings: Mapped[int] = mapped_column(Integer)
    repriced_listings: Mapped[int] = mapped_column(Integer)
    unchanged_listings: Mapped[int] = mapped_column(Integer)
    unkeyed_listings: Mapped[int] = mapped_column(Integer)
    # [{"canonical_model", "new", "gone", "repriced", "unchanged"}], most changes first: the
    # diff's per-model summary, read instead of comparing the imports again (migration 0013;
    # NULL for diffs recorded before it, which the API compares on demand).
    by_model: Mapped[list | None] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ImportDiffRun(Base):
    """A stretch of consecutive rows of one import that are all of one kind of change in the
    recorded diff (``sieve/changes.py``): the import that lists that kind, the other one for
    ``gone``. A page of a kind at offset N starts in the run whose ``members_before`` covers
    N, so the API pages the recorded diff without comparing both imports again; migration 0013.
    """

    __tablename__ = "import_diff_runs"
    __table_args__ = (
        # a keyset page (after an import_index) starts at the first run ending after it
        Index("ix_import_diff_runs_last", "import_id", "change", "last_index"),
    )

    import_id: Mapped[str] = mapped_column(
        ForeignKey("import_diffs.import_id", ondelete="CASCADE"), primary_key=True
    )
    change: Mapped[str] = mapped_column(String(16), primary_key=True)
    members_before: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    members: Mapped[int] = mapped_column(Integer, nullable=False)
    first_index: Mapped[int] = mapped_column(Integer, nullable=False)
    last_index: Mapped[int] = mapped_column(Integer, nullable=False)


class ImportSummary(Base):
    """An import's figures, computed once when it ends (``repository.finish_import``) so that
    reading its summary never aggregates its rows again; migration 0009."""

    __tablename__ = "import_summaries"

    import_id: Mapped[str] = mapped_column(
        ForeignKey("imports.import_id", ondelete="CASCADE"), primary_key=True
    )
    persisted_rows: Mapped[int] = mapped_column(Integer, nullable=False)
    error_rows: Mapped[int] = mapped_column(Integer, nullable=False)
    not_gpu_rows: Mapped[int] = mapped_column(Integer, nullable=False)
    unknown_model_rows: Mapped[int] = mapped_column(Integer, nullable=False)
    warning_rows: Mapped[int] = mapped_column(Integer, nullable=False)
    score_min: Mapped[float | None] = mapped_column(Float)
    score_max: Mapped[float | None] = mapped_column(Float)
    score_mean: Mapped[float | None] = mapped_column(Float)
    client_score_min: Mapped[float | None] = mapped_column(Float)
    client_score_max: Mapped[float | None] = mapped_column(Float)
    # What the market report adds up over imports: rows with a score, the price range.
    scored_rows: Mapped[int] = mapped_column(Integer, nullable=False)
    price_min: Mapped[float | None] = mapped_column(Float)
    price_max: Mapped[float | None] = mapped_column(Float)
    # Rows with a listing_key (migration 0016; NULL in a summary stored before it): whether the
    # import has anything for ``listing_changes`` to follow, without reading its rows again.
    keyed_rows: Mapped[int | None] = mapped_column(Integer)
    first_model: Mapped[str | None] = mapped_column(String(64))
    last_model: Mapped[str | None] = mapped_column(String(64))
    # [{"canonical_model", "listings", "min_price", "max_price"}], most listed first.
    top_models: Mapped[list] = mapped_column(JSON, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ModelPricePoint(Base):
    """One import's card prices of one model in one currency (``sieve.market.price_points``):
    kept with the import's figures when it ends (``summaries.record_figures``), so a model's
    price chart reads a row per import instead of every listing of the model; migration 0013.
    """

    __tablename__ = "model_price_points"
    __table_args__ = (Index("ix_model_price_points_model", "canonical_model"),)

    import_id: Mapped[str] = mapped_column(
        ForeignKey("import_summaries.import_id", ondelete="CASCADE"), primary_key=True
    )
    canonical_model: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(8), primary_key=True)
    listings: Mapped[int] = mapped_column(Integer, nullable=False)
    p10_price: Mapped[float] = mapped_column(Float, nullable=False)
    median_price: Mapped[float] = mapped_column(Float, nullable=False)
    p90_price: Mapped[float] = mapped_column(Float, nullable=False)


class GpuModel(GpuSpecs, Base):
    """The GPU registry, loaded from data/reference/gpu_models.csv."""

    __tablename__ = "gpu_models"

    canonical_model: Mapped[str] = mapped_column(String(64), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200))
    slot_width: Mapped[int | None] = mapped_column(Integer, sort_order=2)
    launch_year: Mapped[int | None] = mapped_column(Integer, sort_order=2)
    aliases: Mapped[str | None] = mapped_column(Text, sort_order=2)


class UsdRateUsed:
    """The rate a market row's ``*_usd`` figures were converted at (sieve/fx.py, migration 0008):
    USD per unit of its currency, the rate's own date, or why there is none."""

    usd_rate: Mapped[float | None] = mapped_column(Float)
    usd_rate_date: Mapped[date | None] = mapped_column(Date)
    usd_reason: Mapped[str | None] = mapped_column(String(40))


class ModelMarketStat(MarketKey, UsdRateUsed, Base):
    """Market figures of one canonical model over the most recent imports (replaced per refresh).

    Prices are only comparable within one currency, so the key is (canonical_model, currency).
    """

    __tablename__ = "model_market_stats"
    __table_args__ = (
        UniqueConstraint("canonical_model", "currency", name="uq_model_market_stats_model"),
    )

    listings: Mapped[int] = mapped_column(Integer, nullable=False)
    imports: Mapped[int] = mapped_column(Integer, nullable=False)
    min_price: Mapped[float] = mapped_column(Float, nullable=False)
    p10_price: Mapped[float] = mapped_column(Float, nullable=False)
    median_price: Mapped[float] = mapped_column(Float, nullable=False)
    p90_price: Mapped[float] = mapped_column(Float, nullable=False)
    max_price: Mapped[float] = mapped_column(Float, nullable=False)
    # NULL for rows computed before migration 0010 (the next refresh fills it).
    mean_price: Mapped[float | None] = mapped_column(Float)
    median_price_per_gb_vram: Mapped[float | None] = mapped_column(Float)
    best_import_id: Mapped[str | None] = mapped_column(String(36))
    best_import_index: Mapped[int | None] = mapped_column(Integer)
    best_price: Mapped[float | None] = mapped_column(Float)
    best_score: Mapped[float | None] = mapped_column(Float)
    # USD-equivalents beside the figures (sieve/fx.py, migration 0008): the rate of the newest
    # import's day, its date, and why there is none; never in place of the currency's figures.
    min_price_usd: Mapped[float | None] = mapped_column(Float)
    p10_price_usd: Mapped[float | None] = mapped_column(Float)
    median_price_usd: Mapped[float | None] = mapped_column(Float)
    p90_price_usd: Mapped[float | None] = mapped_column(Float)
    max_price_usd: Mapped[float | None] = mapped_column(Float)
    window_imports: Mapped[int] = mapped_column(Integer, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PriceMovement(MarketKey, UsdRateUsed, Base):
    """Change of a model's median price between two consecutive imports (replaced per refresh).

    ``source`` is the importing source label, or ``*`` for the movement across all sources.
    """

    __tablename__ = "price_movements"
    __table_args__ = (
        UniqueConstraint(
            "canonical_model", "currency", "source", "import_id", name="uq_price_movements_step"
        ),
        Index("ix_price_movements_model", "canonical_model", "source"),
    )

    source: Mapped[str] = mapped_column(String(200), nullable=False)
    import_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    previous_import_id: Mapped[str] = mapped_column(String(36), nullable=False)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    previous_imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    listings: Mapped[int] = mapped_column(Integer, nullable=False)
    previous_listings: Mapped[int] = mapped_column(Integer, nullable=False)
    median_price: Mapped[float] = mapped_column(Float, nullable=False)
    previous_median_price: Mapped[float] = mapped_column(Float, nullable=False)
    abs_change: Mapped[float] = mapped_column(Float, nullable=False)
    pct_change: Mapped[float | None] = mapped_column(Float)
    # Each median in USD at the rate of its own import's day (sieve/fx.py, migration 0008).
    median_price_usd: Mapped[float | None] = mapped_column(Float)
    previous_usd_rate: Mapped[float | None] = mapped_column(Float)
    previous_usd_rate_date: Mapped[date | None] = mapped_column(Date)
    previous_usd_reason: Mapped[str | None] = mapped_column(String(40))
    previous_median_price_usd: Mapped[float | None] = mapped_column(Float)
    abs_change_usd: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
