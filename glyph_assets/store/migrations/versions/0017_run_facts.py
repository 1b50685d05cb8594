"""import_runs.parent_run_id, started_at, ended_at: Dagster's facts of each run, kept

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 23:00:00

An import's summary lists its runs with their parent (a retry's or re-execution's) and their
start and end times. Those came from Dagster only, and a final import's summary is served from
glyph's database without asking Dagster, so they read empty once the import had ended. They are
now written with the run's final status, by whoever records it (the run-status sensors, or the
API when it reconciles), and by the launch or the run's first step for the parent. Runs recorded
before this revision keep NULL: Dagster may no longer hold them, and asking it for every run of
the warehouse would make the migration as long as the history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COLUMNS = ("parent_run_id", "started_at", "ended_at")


def upgrade() -> None:
    op.add_column("import_runs", sa.Column("parent_run_id", sa.String(64), nullable=True))
    op.add_column("import_runs", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("import_runs", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
