-- Runs once, when the PostgreSQL volume is created: Dagster gets its own database beside glyph's
-- (both keep an Alembic `alembic_version` table, so they cannot share one schema).
CREATE DATABASE dagster OWNER glyph;
