"""The API routers, one module per resource or concern; each route parses the request, calls a
service and shapes the answer.

- ``submissions``: submit an import (glyph's path and the established synchronous ones);
  ``validate``: dry-run one; ``imports``: list them, one import's summary;
  ``import_rows``: an import's row errors, listings and CSV export; ``jobs``: retry an import,
  a run's status, cancel a run.
- ``listings``, ``changes``, ``models``, ``prices``: reads across imports; ``established``: the
  established endpoints without a glyph counterpart; ``schema``, ``health``, ``metrics``: the
  service itself.
- ``common``, ``upload_params``, ``listing_query``: what several routers declare alike.

The services they call: ``glyphd_api.submit`` (submissions), ``glyphd_api.service`` (an import's
state, summary, runs), ``glyphd_api.report``, ``glyphd_api.artifacts`` and
``glyphd_api.pipeline_files``.
The console's pages (``glyphd_api.console``) call the same functions the routes here call.
Errors travel as exceptions to the app's handlers (``glyphd_api.errors``).
"""
