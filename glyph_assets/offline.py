"""``glyph pipeline``: the offline run's output files (listings CSV + row-errors CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from glyph_assets.sieve.columns import SCORED_COLUMNS
from glyph_assets.sieve.pipeline import run_offline

ERROR_OUTPUT_COLUMNS = ["import_index", "stage", "field", "reason", "raw_row"]


@dataclass
class OfflineResult:
    rows: int
    listings: int
    errors: int
    errors_path: Path
    report: dict[str, dict[str, int]] = field(default_factory=dict)


def errors_path_for(output: Path) -> Path:
    return output.with_name(output.stem + ".errors.csv")


def write_offline_outputs(input: Path, output: Path, kind: str | None = None) -> OfflineResult:
    frame = run_offline(input, filename=input.name, kind=kind)
    failed = frame["error_stage"].notna()
    listings = frame.loc[~failed, SCORED_COLUMNS]
    errors = frame.loc[failed].rename(columns={"error_stage": "stage", "error_field": "field"})
    errors = errors.assign(reason=errors["error_reason"])[ERROR_OUTPUT_COLUMNS]
    output.parent.mkdir(parents=True, exist_ok=True)
    listings.to_csv(output, index=False)
    errors_path = errors_path_for(output)
    errors.to_csv(errors_path, index=False)
    good = frame.loc[~failed]
    top = good["canonical_model"].dropna().value_counts().head(15)
    report = {
        "match_type": good["match_type"].fillna("none").value_counts().to_dict(),
        "reject_reason": good["reject_reason"].fillna("(matched)").value_counts().to_dict(),
        "top models": {str(k): int(v) for k, v in top.items()},
        "row errors": errors["reason"].str.slice(0, 60).value_counts().head(10).to_dict(),
    }
    return OfflineResult(
        rows=len(frame),
        listings=int((~failed).sum()),
        errors=int(failed.sum()),
        errors_path=errors_path,
        report={k: {str(a): int(b) for a, b in v.items()} for k, v in report.items()},
    )


__all__ = ["OfflineResult", "write_offline_outputs"]
