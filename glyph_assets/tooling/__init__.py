"""Tooling around glyph, outside the Dagster code location: the ``glyph`` command line, the local
stack's supervisor, the generated Dagster instance configuration and the benchmarks.

Nothing of the code location (assets, sensors, definitions) or of the API imports this package;
it imports them, to run and measure them. The layer contracts in pyproject.toml
(``[tool.importlinter]``) keep it that way.
"""
