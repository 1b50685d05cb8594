"""How glyph declares its Dagster definitions, written once: the owner, the tags the UI filters
on (one domain, a layer per part of the flow) and the retry policy of the assets that write
the database (a busy or restarting database is worth a few tries before a run fails)."""

from typing import Any

from dagster import Backoff, RetryPolicy, asset

OWNERS = ["team:glyph"]
DOMAIN = "gpu_market"
DATABASE_WRITE_RETRY = RetryPolicy(max_retries=3, delay=1.0, backoff=Backoff.EXPONENTIAL)


def layer_tags(layer: str) -> dict[str, str]:
    """The tags of a definition in ``layer`` of glyph's domain."""
    return {"domain": DOMAIN, "layer": layer}


def versioned_asset(group_name: str, description: str, **options: Any) -> Any:
    """``@asset`` in ``group_name`` owned by glyph at code version "1": Dagster marks a
    materialization stale when an asset's code version changes, so it moves with the asset's
    logic, not with every commit. ``options`` are the asset's own (partitions, deps, tags...)."""
    return asset(
        group_name=group_name, owners=OWNERS, code_version="1", description=description, **options
    )
