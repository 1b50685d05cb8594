"""Helpers the tests share, so that no test module imports another test module or a conftest:

- ``pg``: fresh PostgreSQL databases for a session or a module;
- ``stack``: a real stack (code server, Dagster webserver and daemon, API) started for tests;
- ``launched``: a stack started by the ``glyph`` command, found again by its environment;
- ``imports``: files submitted through a stack's API, waited for, and counted in its database;
- ``reliability``: extra API processes, a stack a test may break, run workers, and the bad-input
  corpus uploaded once per session (the ``corpus_run`` fixture);
- ``bad_inputs``: what each file of the bad-input corpus must come to.
- ``warehouse``: the glyph database for unit tests: migrated with an import, counted, or left
  at an older revision for a migration test.
"""
