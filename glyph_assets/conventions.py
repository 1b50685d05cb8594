"""How glyph declares its Dagster definitions, written once: the owner, the tags the UI filters
on (one domain, a layer per part of the flow) and the retry policy of the assets that write
the database (a busy or restarting database is worth a few tries before a run fails)."""

from dagster import Backoff, RetryPolicy

OWNERS = ["team:glyph"]
DOMAIN = "gpu_market"
DATABASE_WRITE_RETRY = RetryPolicy(max_retries=3, delay=1.0, backoff=Backoff.EXPONENTIAL)


def layer_tags(layer: str) -> dict[str, str]:
    """The tags of a definition in ``layer`` of glyph's domain."""
    return {"domain": DOMAIN, "layer": layer}
