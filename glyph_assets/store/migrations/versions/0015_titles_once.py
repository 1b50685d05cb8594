"""titles kept once: listings.title becomes a reference to titles

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 18:00:00

A scrape repeats each title across many rows and every re-scrape (about 6,000 distinct titles
per 100,000 realistic rows), and the title was the largest column of a listing: 42 of its 218
bytes on SQLite. This revision keeps each distinct title once in ``titles`` (found by
``digest``, 16 bytes of BLAKE2b of its text: an index on the text would store every title
again, and PostgreSQL's B-tree refuses entries over 2,704 bytes) and gives each listing its
``title_id`` instead; ``store.listing_rows`` reads the text back. NULL stays NULL, "" is a title.

An existing warehouse is converted in place: its distinct titles are read, then inserted in
batches, each with its digest (computed here, in Python, as the writer computes it); every
listing gets its ``title_id`` by text in one UPDATE (SQLite: through a temporary index on the
text; PostgreSQL: a hash join) and the ``title`` column is dropped (SQLite rewrites the table;
PostgreSQL marks the column dropped, ``VACUUM FULL`` returns its space). The downgrade writes
every title back onto its listings and drops ``titles``.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DIGEST_BYTES = 16  # store.models.TITLE_DIGEST_BYTES when this revision was written
BATCH = 10_000


def _digest(text: str) -> bytes:
    """``store.models.title_digest`` as of this revision (the writer's key must not drift)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    titles = op.create_table(
        "titles",
        sa.Column("title_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.LargeBinary(length=DIGEST_BYTES), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("title_id"),
        sa.UniqueConstraint("digest"),
    )
    bind = op.get_bind()
    distinct = bind.execute(
        sa.text("SELECT DISTINCT title FROM listings WHERE title IS NOT NULL")
    ).scalars()
    pending: list[dict[str, object]] = []
    for title in distinct.all():  # read first: one statement at a time on the connection
        pending.append({"digest": _digest(title), "text": title})
        if len(pending) == BATCH:
            bind.execute(titles.insert(), pending)
            pending = []
    if pending:
        bind.execute(titles.insert(), pending)
    op.add_column("listings", sa.Column("title_id", sa.Integer(), nullable=True))
    if _postgres():
        op.execute(
            "UPDATE listings AS l SET title_id = t.title_id FROM titles AS t WHERE t.text = l.title"
        )
    else:
        op.execute("CREATE INDEX _titles_text_0015 ON titles (text)")
        op.execute(
            "UPDATE listings SET title_id = "
            "(SELECT t.title_id FROM titles AS t WHERE t.text = listings.title) "
            "WHERE title IS NOT NULL"
        )
        op.execute("DROP INDEX _titles_text_0015")
    op.drop_column("listings", "title")


def downgrade() -> None:
    op.add_column("listings", sa.Column("title", sa.Text(), nullable=True))
    op.execute(
        "UPDATE listings SET title = "
        "(SELECT t.text FROM titles AS t WHERE t.title_id = listings.title_id) "
        "WHERE title_id IS NOT NULL"
    )
    op.drop_column("listings", "title_id")
    op.drop_table("titles")
