"""listing_changes: what changed in an import against the previous import of its source.

Partitioned by import like the pipeline, after ``persisted_listings`` and in the same
``ingest_import`` run: counts of new, gone, repriced and unchanged listings (by
``listing_key``) are kept in ``import_diffs`` for the API and shown as the asset's metadata in the
Dagster UI ("312 new, 95 gone, 41 repriced").
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from glyph_assets.assets.placement import record_worker
from glyph_assets.contract import PERSISTED_LISTINGS
from glyph_assets.conventions import OWNERS, layer_tags
from glyph_assets.memory import give_back_freed_memory
from glyph_assets.partitions import imports_partitions
from glyph_assets.resources import StoreResource
from glyph_assets.store import changes


@asset(
    partitions_def=imports_partitions,
    deps=[AssetKey(PERSISTED_LISTINGS)],
    group_name="ingestion",
    kinds={"sqlite", "postgresql"},
    owners=OWNERS,
    tags=layer_tags("warehouse"),
    description=(
        "New, gone, repriced and unchanged listings (by listing_key) against the previous "
        "import of the same source."
    ),
)
def listing_changes(context: AssetExecutionContext, store: StoreResource) -> MaterializeResult:
    give_back_freed_memory()  # what the run's pipeline steps freed (glyph_assets.memory)
    record_worker(context)
    engine = store.engine
    import_id = context.partition_key
    against = changes.previous_import(engine, import_id)
    found = changes.record_diff(engine, import_id, against)
    summary = (
        f"{found['new_listings']} new, {found['gone_listings']} gone, "
        f"{found['repriced_listings']} repriced, {found['unchanged_listings']} unchanged"
        if against
        else f"first import of its source: {found['new_listings']} listings"
    )
    context.log.info(summary)
    return MaterializeResult(
        metadata={
            "against_import_id": MetadataValue.text(against or "none"),
            "summary": MetadataValue.text(summary),
            **{
                name: MetadataValue.int(int(found[name]))
                for name in (
                    "new_listings",
                    "gone_listings",
                    "repriced_listings",
                    "unchanged_listings",
                    "unkeyed_listings",
                )
            },
        }
    )


CHANGE_ASSETS = [listing_changes]
