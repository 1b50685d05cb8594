"""glyphd_api: the REST front door of glyph (FastAPI); ``create_app`` builds it."""
