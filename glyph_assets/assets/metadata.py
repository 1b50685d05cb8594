"""Metadata a person reads at a glance on a materialization."""

from __future__ import annotations

from typing import Any

import pandas as pd
from dagster import MetadataValue


def distribution_table(counts: dict[str, int], label: str) -> MetadataValue:
    total = sum(counts.values()) or 1
    lines = [f"| {label} | rows | share |", "| --- | ---: | ---: |"]
    for key, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {key} | {count} | {count / total:.1%} |")
    return MetadataValue.md("\n".join(lines))


def preview(frame: pd.DataFrame, columns: list[str], rows: int = 10) -> MetadataValue:
    subset = frame.reindex(columns=columns).head(rows)
    return MetadataValue.md(subset.to_markdown(index=False) if len(subset) else "(no rows)")


def add_counts(target: dict[str, int], series: pd.Series) -> None:
    for key, count in series.fillna("(none)").astype(str).value_counts().items():
        target[str(key)] = target.get(str(key), 0) + int(count)


def stage_metadata(rows: int, errors: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rows": MetadataValue.int(rows),
        "row_errors": MetadataValue.int(errors),
    }
    data.update(extra or {})
    return data
