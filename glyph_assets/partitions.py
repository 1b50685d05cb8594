"""The one partitioning of glyph's pipeline: one dynamic partition per import_id."""

from dagster import DynamicPartitionsDefinition

IMPORTS_PARTITIONS_NAME = "imports"
imports_partitions = DynamicPartitionsDefinition(name=IMPORTS_PARTITIONS_NAME)
