"""Pure domain logic for glyph: clean, normalize, enrich and score listings.

Nothing in this package imports Dagster or the database: the assets, the API and the offline
``glyph pipeline`` command all call the same functions.
"""
