"""lean listings: an integer import key, spec sets kept once, no copy of the price

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 08:10:00

A listing cost about 870 bytes on SQLite, more than half of it in copies: the 36-character
``import_id`` in the row and in each of its six indexes, the registry's specs repeated on every
listing of a model, ``unit_price`` equal to ``price`` on nearly every row. This revision:

- gives every import an integer ``imports.import_key`` (unique; numbered in order of creation),
  and keys ``listings`` and ``row_errors`` and their indexes by it instead of ``import_id``,
  which stays the public id (the API and every client still only see ``import_id``);
- moves the registry specs and the three score components that only the specs decide
  (``score_capacity``, ``score_features``, ``score_efficiency``) into ``spec_sets``, one row per
  distinct set, referenced by ``listings.spec_set``: every listing reads back the values it was
  written with (a scored upload's own specs, a title's VRAM, specs of an older registry are
  simply other sets), which ``gpu_models``, the registry as it is now, could not promise;
- stores ``unit_price`` only where it differs from ``price`` (read as
  ``coalesce(unit_price, price)``, as the market figures and summaries always did);
- rebuilds the listing indexes on ``import_key``; the two model indexes and the vendor index
  leave out rows without a model (a vendor), which their filters never read.

SQLite: ``listings`` and ``row_errors`` are rebuilt in one pass each (a new table filled from
the old one, in id order, then renamed); ``imports`` gets its column and unique index in place
(rebuilding it would cascade-delete every row that references it). PostgreSQL: the new values
are computed into a temporary table first, the old columns dropped, then one UPDATE writes each
row again without them (``VACUUM`` makes the old versions' space reusable, ``VACUUM FULL``
returns it to the system). Row ids (``listings.id``, the API's listing and delta ids) are kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

from glyph_assets.store.columns import GPU_SPEC_TYPES, row_error_columns

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The columns a spec set holds: the registry specs, then the spec-decided score components.
SPEC_TYPES: tuple[tuple[str, TypeEngine], ...] = (
    *GPU_SPEC_TYPES,
    ("launch_year", sa.Integer()),
    ("score_capacity", sa.Float()),
    ("score_features", sa.Float()),
    ("score_efficiency", sa.Float()),
)
SPECS = [name for name, _ in SPEC_TYPES]
# The listing's own columns and their types, in table order (a migration keeps its own copy:
# the pipeline's columns may change later). The table puts unit_price after the first five
# (HEAD) and spec_set before the last four (TAIL); MIDDLE is the rest.
LISTING_TYPES: dict[str, sa.types.TypeEngine] = {
    "title": sa.Text(),
    "price": sa.Float(),
    "currency": sa.String(length=8),
    "condition": sa.String(length=32),
    "quantity": sa.Integer(),
    "seller": sa.Text(),
    "region": sa.Text(),
    "source_url": sa.Text(),
    "source_type": sa.Text(),
    "listing_age": sa.Text(),
    "model_hint": sa.Text(),
    "brand_hint": sa.Text(),
    "bulk_notes": sa.Text(),
    "canonical_model": sa.String(length=64),
    "match_type": sa.String(length=16),
    "match_score": sa.Float(),
    "vendor": sa.String(length=16),
    "is_gpu": sa.Boolean(),
    "reject_reason": sa.String(length=32),
    "listing_key": sa.String(length=24),
    "match_alternatives": sa.Text(),
    "warnings": sa.Text(),
    "score": sa.Float(),
    "score_value": sa.Float(),
    "client_score": sa.Float(),
}
_NAMES = list(LISTING_TYPES)
HEAD, MIDDLE, TAIL = _NAMES[:5], _NAMES[5:-4], _NAMES[-4:]
OLD_INDEXES = (
    "ix_listings_import_score_desc",
    "ix_listings_import_model",
    "ix_listings_vendor_score",
    "ix_listings_model_score",
    "ix_listings_key_import",
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _score() -> sa.TextClause:
    return sa.text("score DESC NULLS LAST" if _postgres() else "score DESC")


def _listing_columns(key: str) -> list[sa.Column]:
    """The lean listings table's columns, ``key`` being import_key."""
    plain = LISTING_TYPES
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(key, sa.Integer(), nullable=False),
        sa.Column("import_index", sa.Integer(), nullable=False),
        *[sa.Column(n, plain[n], nullable=True) for n in HEAD],
        sa.Column("unit_price", sa.Float(), nullable=True),
        *[sa.Column(n, plain[n], nullable=True) for n in MIDDLE],
        sa.Column("spec_set", sa.Integer(), nullable=True),
        *[sa.Column(n, plain[n], nullable=True) for n in TAIL],
    ]


def _create_listing_indexes(key: str, partial: bool) -> None:
    """The listing indexes on ``key`` (import_key at 0012, import_id at 0011); ``partial``:
    the model and vendor indexes leave out rows without a model (vendor), as at 0012."""
    score = _score()

    def where(condition: str) -> dict[str, sa.TextClause]:
        clause = sa.text(condition)
        return {"sqlite_where": clause, "postgresql_where": clause} if partial else {}

    has_model = where("canonical_model IS NOT NULL")
    op.create_index("ix_listings_import_score_desc", "listings", [key, score, "import_index"])
    op.create_index(
        "ix_listings_import_model",
        "listings",
        [key, "canonical_model", "import_index"],
        **has_model,
    )
    op.create_index(
        "ix_listings_vendor_score",
        "listings",
        [sa.text("lower(vendor)"), score, key, "import_index"],
        **where("lower(vendor) IS NOT NULL"),
    )
    op.create_index(
        "ix_listings_model_score",
        "listings",
        ["canonical_model", score, key, "import_index"],
        **has_model,
    )
    op.create_index("ix_listings_key_import", "listings", ["listing_key", key])


def _number_imports() -> None:
    """imports.import_key: 1, 2, ... in order of creation (import_id breaks ties)."""
    op.add_column("imports", sa.Column("import_key", sa.Integer(), nullable=True))
    numbered = (
        "SELECT import_id, row_number() OVER (ORDER BY created_at, import_id) AS n FROM imports"
    )
    if _postgres():
        op.execute(
            f"UPDATE imports SET import_key = r.n FROM ({numbered}) AS r"
            " WHERE r.import_id = imports.import_id"
        )
        op.alter_column("imports", "import_key", nullable=False)
    else:
        op.execute(f"CREATE TEMPORARY TABLE _imports_0012 AS {numbered}")
        op.execute("CREATE UNIQUE INDEX temp._imports_0012_id ON _imports_0012 (import_id)")
        op.execute(
            "UPDATE imports SET import_key = (SELECT n FROM _imports_0012 r"
            " WHERE r.import_id = imports.import_id)"
        )
        op.execute("DROP TABLE _imports_0012")
    op.create_index("uq_imports_import_key", "imports", ["import_key"], unique=True)


def _create_spec_sets() -> None:
    op.create_table(
        "spec_sets",
        sa.Column("spec_id", sa.Integer(), autoincrement=True, nullable=False),
        *[sa.Column(name, type_, nullable=True) for name, type_ in SPEC_TYPES],
        sa.PrimaryKeyConstraint("spec_id"),
    )
    specs = ", ".join(SPECS)
    anything = " OR ".join(f"{name} IS NOT NULL" for name in SPECS)
    op.execute(
        f"INSERT INTO spec_sets ({specs}) SELECT DISTINCT {specs} FROM listings WHERE {anything}"
    )


def _unit_price(alias: str) -> str:
    return f"CASE WHEN {alias}.unit_price = {alias}.price THEN NULL ELSE {alias}.unit_price END"


def _rebuild_row_errors(key: str, type_: TypeEngine, key_of: str) -> None:
    """SQLite: ``row_errors`` again, its import named by ``key`` (of ``type_``), each row's
    value given by the SQL ``key_of`` over the old row ``e``; filled in id order, renamed."""
    op.create_table(
        "_row_errors_new",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(key, type_, nullable=False),
        sa.Column("import_index", sa.Integer(), nullable=False),
        *row_error_columns(),
        sa.ForeignKeyConstraint([key], [f"imports.{key}"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(key, "import_index", name="uq_row_errors_import_row"),
    )
    op.execute(
        f"INSERT INTO _row_errors_new (id, {key}, import_index, stage, field, reason, raw_row)"
        f" SELECT e.id, {key_of}, e.import_index, e.stage, e.field, e.reason, e.raw_row"
        " FROM row_errors e ORDER BY e.id"
    )
    op.execute("DROP TABLE row_errors")
    op.execute("ALTER TABLE _row_errors_new RENAME TO row_errors")


def _upgrade_sqlite() -> None:
    # The old tables are read in id order and written to new ones, which are then renamed.
    # Each row's import_key and spec set are looked up by index (SQLite's IS is NULL-safe).
    op.execute(f"CREATE INDEX ix_spec_sets_0012 ON spec_sets ({', '.join(SPECS)})")
    op.create_table(
        "_listings_0012",
        *_listing_columns("import_key"),
        sa.ForeignKeyConstraint(["import_key"], ["imports.import_key"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["spec_set"], ["spec_sets.spec_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("import_key", "import_index", name="uq_listings_import_row"),
    )
    same_set = " AND ".join(f"s.{name} IS l.{name}" for name in SPECS)
    key = "(SELECT i.import_key FROM imports i WHERE i.import_id = l.import_id)"
    spec = f"(SELECT s.spec_id FROM spec_sets s WHERE {same_set} LIMIT 1)"
    written = ["id", "import_key", "import_index", *HEAD, "unit_price", *MIDDLE, "spec_set", *TAIL]
    read = [
        "l.id",
        key,
        "l.import_index",
        *[f"l.{n}" for n in HEAD],
        _unit_price("l"),
        *[f"l.{n}" for n in MIDDLE],
        spec,
        *[f"l.{n}" for n in TAIL],
    ]
    op.execute(
        f"INSERT INTO _listings_0012 ({', '.join(written)}) "
        f"SELECT {', '.join(read)} FROM listings l ORDER BY l.id"
    )
    op.execute("DROP TABLE listings")
    op.execute("ALTER TABLE _listings_0012 RENAME TO listings")
    op.execute("DROP INDEX ix_spec_sets_0012")

    _rebuild_row_errors(
        "import_key",
        sa.Integer(),
        "(SELECT i.import_key FROM imports i WHERE i.import_id = e.import_id)",
    )


def _upgrade_postgres() -> None:
    # The new values first (a hash join on each set's text form, which is NULL-safe and exact
    # for floats), then the old columns go, then one UPDATE writes every row without them.
    spec_row = ", ".join(f"s.{name}" for name in SPECS)
    listing_row = ", ".join(f"l.{name}" for name in SPECS)
    op.execute(
        "CREATE TEMPORARY TABLE _listings_0012 ON COMMIT DROP AS"
        f" SELECT l.id, i.import_key, s.spec_id, {_unit_price('l')} AS unit_price"
        " FROM listings l JOIN imports i ON i.import_id = l.import_id"
        f" LEFT JOIN spec_sets s ON ROW({spec_row})::text = ROW({listing_row})::text"
    )
    op.execute("CREATE INDEX ON _listings_0012 (id)")
    op.execute("ANALYZE _listings_0012")
    op.execute(
        "CREATE TEMPORARY TABLE _row_errors_0012 ON COMMIT DROP AS SELECT e.id, i.import_key"
        " FROM row_errors e JOIN imports i ON i.import_id = e.import_id"
    )
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="listings")
    for table in ("listings", "row_errors"):
        op.drop_constraint(f"uq_{table}_import_row", table, type_="unique")
        op.drop_column(table, "import_id")
        op.add_column(table, sa.Column("import_key", sa.Integer(), nullable=True))
    for name in SPECS:
        op.drop_column("listings", name)
    op.add_column("listings", sa.Column("spec_set", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE listings SET import_key = m.import_key, spec_set = m.spec_id,"
        " unit_price = m.unit_price FROM _listings_0012 m WHERE m.id = listings.id"
    )
    op.execute(
        "UPDATE row_errors SET import_key = m.import_key FROM _row_errors_0012 m"
        " WHERE m.id = row_errors.id"
    )
    for table in ("listings", "row_errors"):
        op.alter_column(table, "import_key", nullable=False)
        op.create_foreign_key(
            f"{table}_import_key_fkey",
            table,
            "imports",
            ["import_key"],
            ["import_key"],
            ondelete="CASCADE",
        )
        op.create_unique_constraint(f"uq_{table}_import_row", table, ["import_key", "import_index"])
    op.create_foreign_key(
        "listings_spec_set_fkey", "listings", "spec_sets", ["spec_set"], ["spec_id"]
    )


def upgrade() -> None:
    _number_imports()
    _create_spec_sets()
    if _postgres():
        _upgrade_postgres()
    else:
        _upgrade_sqlite()
    _create_listing_indexes("import_key", partial=True)


# --- downgrade: the listings and row errors of 0011, every value as it was read -------------

OLD_SCORE_ORDER = ["score", "score_capacity", "score_features", "score_efficiency", "score_value"]


def _downgrade_sqlite() -> None:
    op.create_table(
        "_listings_0011",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("import_index", sa.Integer(), nullable=False),
        *[c for c in _listing_columns("unused") if c.name in HEAD],
        *[c for c in _listing_columns("unused") if c.name in MIDDLE[:14]],
        *[sa.Column(n, t, nullable=True) for n, t in SPEC_TYPES[:10]],
        sa.Column("warnings", sa.Text(), nullable=True),
        *[sa.Column(n, sa.Float(), nullable=True) for n in OLD_SCORE_ORDER],
        sa.Column("client_score", sa.Float(), nullable=True),
        sa.Column("listing_key", sa.String(length=24), nullable=True),
        sa.Column("unit_price", sa.Float(), nullable=True),
        sa.Column("match_alternatives", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["import_id"], ["imports.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("import_id", "import_index", name="uq_listings_import_row"),
    )
    columns = [
        "id",
        "import_id",
        "import_index",
        *HEAD,
        *MIDDLE[:14],
        *SPECS[:10],
        "warnings",
        *OLD_SCORE_ORDER,
        "client_score",
        "listing_key",
        "unit_price",
        "match_alternatives",
    ]
    values = {
        "import_id": "i.import_id",
        "unit_price": "coalesce(l.unit_price, l.price)",
        **{name: f"s.{name}" for name in SPECS},
    }
    op.execute(
        f"INSERT INTO _listings_0011 ({', '.join(columns)}) "
        f"SELECT {', '.join(values.get(c, f'l.{c}') for c in columns)} FROM listings l"
        " JOIN imports i ON i.import_key = l.import_key"
        " LEFT JOIN spec_sets s ON s.spec_id = l.spec_set ORDER BY l.id"
    )
    op.execute("DROP TABLE listings")
    op.execute("ALTER TABLE _listings_0011 RENAME TO listings")
    _rebuild_row_errors(
        "import_id",
        sa.String(length=36),
        "(SELECT i.import_id FROM imports i WHERE i.import_key = e.import_key)",
    )


def _downgrade_postgres() -> None:
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="listings")
    for table in ("listings", "row_errors"):
        op.add_column(table, sa.Column("import_id", sa.String(length=36), nullable=True))
        op.execute(
            f"UPDATE {table} SET import_id = i.import_id FROM imports i"
            f" WHERE i.import_key = {table}.import_key"
        )
    for name, type_ in SPEC_TYPES:
        op.add_column("listings", sa.Column(name, type_, nullable=True))
    assigned = ", ".join(f"{name} = s.{name}" for name in SPECS)
    op.execute(
        f"UPDATE listings SET {assigned} FROM spec_sets s WHERE s.spec_id = listings.spec_set"
    )
    op.execute("UPDATE listings SET unit_price = price WHERE unit_price IS NULL")
    op.drop_column("listings", "spec_set")
    for table in ("listings", "row_errors"):
        op.drop_constraint(f"uq_{table}_import_row", table, type_="unique")
        op.drop_column(table, "import_key")
        op.alter_column(table, "import_id", nullable=False)
        op.create_foreign_key(
            f"{table}_import_id_fkey",
            table,
            "imports",
            ["import_id"],
            ["import_id"],
            ondelete="CASCADE",
        )
        op.create_unique_constraint(f"uq_{table}_import_row", table, ["import_id", "import_index"])


def downgrade() -> None:
    if _postgres():
        _downgrade_postgres()
    else:
        _downgrade_sqlite()
    op.drop_table("spec_sets")
    op.drop_index("uq_imports_import_key", table_name="imports")
    op.drop_column("imports", "import_key")
    _create_listing_indexes("import_id", partial=False)
