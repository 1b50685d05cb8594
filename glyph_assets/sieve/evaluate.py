"""Evaluate the title matcher on an operator's own labelled titles (``glyph eval LABELS.csv``).

Why: match quality on the corpus glyph was tuned on says little about listings nobody here has
seen. An operator who labels a few hundred of their own titles can measure glyph on them with
the same three figures the project reports:

- exact id: of the rows labelled with a model id, the share matched to exactly that id;
- non-GPU rejected: of the rows labelled ``NOT_GPU``, the share with ``is_gpu`` false;
- unknown GPU: of the rows labelled ``UNKNOWN`` (a GPU the registry has no id for, or a title
  that cannot name the model), the share left without an id (a GPU row with no model);

and cross-vendor errors (a row matched to a model of another vendor than the label's).

Label file: CSV with a ``title`` and an ``expected`` column; optional ``source`` (figures are
broken down by it) and the evidence columns ``model_hint``, ``brand_hint``, ``bulk_notes``.
``expected`` is a canonical id, several ids joined by ``|`` when the title cannot tell between
them and the reference rules allow each (``GTX_1060_6GB|GTX_1060_3GB``: any of them counts),
``NOT_GPU`` or ``UNKNOWN``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from glyph_assets.sieve.normalize import match_title
from glyph_assets.sieve.registry import Registry, load_registry

NOT_GPU_LABEL = "NOT_GPU"
UNKNOWN_LABEL = "UNKNOWN"
EVIDENCE_COLUMNS = ("model_hint", "brand_hint", "bulk_notes")


@dataclass
class SourceScore:
    """Counts for one source (or for all of them)."""

    gpu: int = 0
    exact: int = 0
    not_gpu: int = 0
    rejected: int = 0
    unknown: int = 0
    unknown_ok: int = 0
    cross_vendor: int = 0

    @staticmethod
    def _share(hit: int, total: int) -> float | None:
        return hit / total if total else None

    @property
    def exact_rate(self) -> float | None:
        return self._share(self.exact, self.gpu)

    @property
    def rejected_rate(self) -> float | None:
        return self._share(self.rejected, self.not_gpu)

    @property
    def unknown_rate(self) -> float | None:
        return self._share(self.unknown_ok, self.unknown)


@dataclass
class EvalReport:
    """Per-source scores, the total, and every wrong row (for the confusion listing)."""

    sources: dict[str, SourceScore]
    total: SourceScore
    wrong: pd.DataFrame
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)


def read_labels(path: Path | str) -> pd.DataFrame:
    """A label CSV as text columns; raises ValueError when ``title``/``expected`` are missing."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("title", "expected") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    if "source" not in frame.columns:
        frame["source"] = Path(path).stem
    return frame


def _outcome(expected: str, got: str | None, is_gpu: bool) -> bool:
    if expected == NOT_GPU_LABEL:
        return not is_gpu
    if expected == UNKNOWN_LABEL:
        return is_gpu and got is None
    return got in expected.split("|")


def evaluate(labels: pd.DataFrame, registry: Registry | None = None) -> EvalReport:
    """Match every labelled title and count exact ids, rejections and unknowns per source."""
    registry = registry or load_registry()
    vendor_of = registry.specs["vendor"]
    sources: dict[str, SourceScore] = {}
    total = SourceScore()
    wrong: list[dict[str, object]] = []
    confusions: Counter[tuple[str, str]] = Counter()
    for row in labels.to_dict("records"):
        expected = str(row["expected"]).strip()
        hints = [row.get(c) or None for c in EVIDENCE_COLUMNS]
        match = match_title(row["title"], *hints, registry=registry)
        score = sources.setdefault(str(row.get("source") or ""), SourceScore())
        ok = _outcome(expected, match.canonical_model, match.is_gpu)
        for counts in (score, total):
            if expected == NOT_GPU_LABEL:
                counts.not_gpu += 1
                counts.rejected += ok
            elif expected == UNKNOWN_LABEL:
                counts.unknown += 1
                counts.unknown_ok += ok
            else:
                counts.gpu += 1
                counts.exact += ok
                vendors = {vendor_of.get(e) for e in expected.split("|")}
                if match.canonical_model is not None and match.vendor not in vendors:
                    counts.cross_vendor += 1
        if not ok:
            got = match.canonical_model or (match.reject_reason or "none")
            confusions[(expected, got)] += 1
            wrong.append(
                {
                    "source": row.get("source"),
                    "title": row["title"],
                    "expected": expected,
                    "got": got,
                    "match_type": match.match_type,
                    "detail": match.detail,
                }
            )
    return EvalReport(sources, total, pd.DataFrame(wrong), confusions)


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.1%}"


def format_report(report: EvalReport, show_wrong: int = 50) -> str:
    """A plain-text table per source, the most frequent confusions and some wrong rows."""
    lines = [
        f"{'source':<28} {'GPU rows':>8} {'exact':>7} {'not-GPU':>8} {'rejected':>8} "
        f"{'unknown':>8} {'no id':>7} {'x-vendor':>8}"
    ]
    for name, s in [*sorted(report.sources.items()), ("ALL", report.total)]:
        lines.append(
            f"{name[:28]:<28} {s.gpu:>8} {_pct(s.exact_rate):>7} {s.not_gpu:>8} "
            f"{_pct(s.rejected_rate):>8} {s.unknown:>8} {_pct(s.unknown_rate):>7} "
            f"{s.cross_vendor:>8}"
        )
    if report.confusions:
        lines.append("")
        lines.append("confusions (expected -> got):")
        lines += [f"{n:4d}  {e} -> {g}" for (e, g), n in report.confusions.most_common(30)]
    if show_wrong and not report.wrong.empty:
        lines.append("")
        lines.append("wrong rows:")
        for r in report.wrong.head(show_wrong).itertuples():
            lines.append(f"  [{r.source}] {str(r.title)[:90]!r} expected {r.expected}, got {r.got}")
            lines.append(f"      {r.detail}")
    return "\n".join(lines)


__all__ = ["EvalReport", "SourceScore", "evaluate", "format_report", "read_labels"]
