"""Columns and column changes glyph's migrations write more than once, built in one place.

Several tables share a group of columns: the registry's GPU specs (``gpu_models`` and every
listing), the identity of a row of an import (``listings`` and ``row_errors``: a surrogate id,
the import and the row's ``import_index``), the market key (``model_market_stats`` and
``price_movements``). Each group is written here once, as the migration that created it wrote it.

A migration is history: what these builders return must stay what the revisions that call them
created (compare ``.schema`` of a fresh SQLite and ``pg_dump -s`` of a fresh PostgreSQL database
before and after any change here). A new column or type is a new revision, never an edit below.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

# The registry specs a listing copies from its model, in the order both tables carry them
# (gpu_models has slot_width after them; launch_year follows on both).
GPU_SPEC_TYPES: tuple[tuple[str, TypeEngine], ...] = (
    ("segment", sa.String(length=32)),
    ("architecture", sa.String(length=64)),
    ("vram_gb", sa.Float()),
    ("memory_type", sa.String(length=32)),
    ("tdp_watts", sa.Float()),
    ("mig_instances", sa.Integer()),
    ("nvlink", sa.Boolean()),
    ("pcie_gen", sa.Integer()),
    ("form_factor", sa.String(length=16)),
)


def row_error_columns() -> list[sa.Column]:
    """What a row error says: the stage that refused the row, the field, why, the raw row."""
    return [
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw_row", sa.Text(), nullable=True),
    ]


def required(type_: TypeEngine, *names: str) -> list[sa.Column]:
    """NOT NULL columns of one type, in the order given."""
    return [sa.Column(name, type_, nullable=False) for name in names]


def optional(type_: TypeEngine, *names: str) -> list[sa.Column]:
    """Nullable columns of one type, in the order given."""
    return [sa.Column(name, type_, nullable=True) for name in names]


def surrogate_id() -> sa.Column:
    """The autoincrementing integer key of a table whose rows have no natural key."""
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def gpu_spec_columns() -> list[sa.Column]:
    """The registry's spec columns, nullable: a listing of an unknown model has none."""
    return [sa.Column(name, type_, nullable=True) for name, type_ in GPU_SPEC_TYPES]


def import_row_columns() -> list[sa.Column]:
    """A row of one import: surrogate id, its import and its 1-based ``import_index``."""
    return [
        surrogate_id(),
        *required(sa.String(length=36), "import_id"),
        *required(sa.Integer(), "import_index"),
    ]


def import_row_constraints(unique_name: str) -> list[sa.Constraint]:
    """The keys of a row of one import: removed with its import, one row per index."""
    return [
        sa.ForeignKeyConstraint(["import_id"], ["imports.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("import_id", "import_index", name=unique_name),
    ]


def market_key_columns() -> list[sa.Column]:
    """The key of a market figure: prices compare only within one model and one currency."""
    return [
        surrogate_id(),
        *required(sa.String(length=64), "canonical_model"),
        *required(sa.String(length=8), "currency"),
    ]


def add_columns(table: str, *columns: sa.Column) -> None:
    """``ADD COLUMN`` each of ``columns``: plain on both dialects for nullable columns."""
    for column in columns:
        op.add_column(table, column)


def drop_columns(table: str, *names: str) -> None:
    """Drop ``names`` from ``table`` in one batch (SQLite rebuilds the table to drop a column)."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name in names:
            batch_op.drop_column(name)
