"""glyph's database: every SQL statement the code location and the API run, and nothing else.

- ``models``, ``migrations``, ``db``: the schema, its Alembic revisions, engines and the two
  small readers (``fetch_all``, ``fetch_first``) the other modules share;
- ``status``: ``ImportStatus`` and its named sets;
- ``repository``: imports, runs, the bulk write of an import's rows, its row counts and
  ``finish_import()``; ``sqlite_bulk``: the SQLite file's native bulk writer;
- ``pages``: the paged lists the API serves (imports, row errors, listings);
- ``summaries``: an import summary's edge and top models;
- ``warehouse``: figures over every listing and import (models, market, metrics);
- ``market`` and ``changes``: the tables the market and listing-change assets write and read;
- ``audit``: what the asset checks read back; ``health``: the database ping;
- ``errors``: the failures callers catch, by name.

No module here imports Dagster or the API.
"""
