"""The one partitioning of glyph's pipeline: one dynamic partition per import_id."""

from dagster import DynamicPartitionsDefinition

from glyph_assets.contract import IMPORTS_PARTITIONS_NAME

imports_partitions = DynamicPartitionsDefinition(name=IMPORTS_PARTITIONS_NAME)
