"""Dry run of an import: the file-level checks and every pipeline stage, nothing persisted.

It runs the same code as the assets (``inspect_file`` and the stage runner of
``glyph_assets.sieve.pipeline``, reading the file as a run does), on a temporary copy outside the
landing zone, and never touches the database: what it reports is what an import of the same
bytes would produce.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from glyph_assets.imports import check_row_limit
from glyph_assets.sieve.inspect import inspect_file
from glyph_assets.sieve.pipeline import Stages, read_chunks
from glyph_assets.sieve.read import FileRejected, TooManyRows
from glyph_assets.sieve.scored import ScoreScale
from glyphd_api.schemas import DetectedFormat, RowErrorOut, RowWarningOut, ValidationReport


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    return str(value)


def validate_file(
    path: Path,
    filename: str | None,
    kind: str | None,
    *,
    chunk_rows: int = 50_000,
    max_field_chars: int = 4096,
    max_listed: int = 100,
    max_rows: int | None = None,
    score_scale: str | None = None,
) -> ValidationReport:
    """Inspect the file, then run normalize/enrich/score over it and count what would happen."""
    try:
        inspection = inspect_file(path, filename, kind)
    except FileRejected as exc:
        return ValidationReport(valid=False, problems=exc.problems)
    except (UnicodeError, OSError) as exc:
        return ValidationReport(valid=False, problems=[f"the file cannot be read: {exc}"])
    try:
        check_row_limit(path, filename, inspection, max_rows)
    except TooManyRows as exc:
        return ValidationReport(valid=False, problems=exc.problems)
    detected = DetectedFormat.of(inspection)
    report = ValidationReport(valid=True, detected=detected)

    def note_scale(scale: ScoreScale) -> None:
        report.score_scale = scale.scale  # type: ignore[assignment]
        report.import_warnings = [scale.warning] if scale.warning else []

    stages = Stages(inspection.kind, max_field_chars, score_scale=score_scale, on_scale=note_scale)
    try:
        enriched = stages.enrich_all(read_chunks(path, filename, chunk_rows))
    except FileRejected as exc:
        return ValidationReport(valid=False, problems=exc.problems, detected=detected)
    reasons: Counter[str] = Counter()
    for frame in stages.score(lambda _columns: enriched):
        failed = frame["error_stage"].notna()
        good = frame.loc[~failed]
        bad = frame.loc[failed]
        report.total_rows += len(frame)
        report.error_rows += len(bad)
        report.valid_rows += len(good)
        report.not_gpu_rows += int((good["is_gpu"] == False).sum())  # noqa: E712 (not_gpu:*)
        report.unknown_model_rows += int((good["reject_reason"] == "unknown_model").sum())
        warned = good.loc[good["warnings"].notna()] if "warnings" in good else good.iloc[0:0]
        report.warning_rows += len(warned)
        reasons.update(str(r)[:120] for r in bad["error_reason"])
        for row in bad.head(max(0, max_listed - len(report.errors))).itertuples(index=False):
            report.errors.append(
                RowErrorOut(
                    import_index=int(row.import_index),
                    stage=str(row.error_stage),
                    field=_text(row.error_field),
                    reason=str(row.error_reason),
                    raw_row=_text(row.raw_row),
                )
            )
        for row in warned.head(max(0, max_listed - len(report.warnings))).itertuples(index=False):
            report.warnings.append(
                RowWarningOut(import_index=int(row.import_index), warning=str(row.warnings))
            )
    report.error_reasons = dict(reasons.most_common(50))
    return report
