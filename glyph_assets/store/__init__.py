"""glyph's database: schema (models), migrations, engine and the writers/readers on top."""
