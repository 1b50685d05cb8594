"""Is this title a GPU? The pipeline's own decision for one title, with a confidence in [0, 1].

The established glyphd service answered ``/api/ml/is-gpu`` with a learned title classifier.
glyph answers with the same rules the pipeline applies to every listing (``normalize``), so the
endpoint and an import never disagree about a title. The confidence is a documented function of
how the rules decided, not a probability a model learned:

- a title the rules reject for a named reason (a box, a cooler, a whole PC, a wanted ad, ...):
  0.0; nothing in it names a GPU at all: 0.05;
- a GPU whose model is known: 0.5 + 0.5 x ``match_score`` (1.0 for an exact id, 0.8 for an
  inferred variant at 0.6);
- a GPU whose model the rules cannot name (an unknown or laptop GPU): 0.6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glyph_assets.sieve.normalize import match_title

UNNAMED_REJECTION = 0.05
UNKNOWN_GPU = 0.6


@dataclass(frozen=True)
class GpuDecision:
    is_gpu: bool
    confidence: float
    canonical_model: str | None
    reason: str | None  # reject_reason, or None for a GPU with a model


def classify_title(title: Any) -> GpuDecision:
    """The pipeline's decision for one title (never raises)."""
    match = match_title(title)
    if not match.is_gpu:
        named = bool(match.reject_reason and ":" in match.reject_reason)
        return GpuDecision(False, 0.0 if named else UNNAMED_REJECTION, None, match.reject_reason)
    if match.canonical_model is None:
        return GpuDecision(True, UNKNOWN_GPU, None, match.reject_reason)
    score = min(1.0, max(0.0, float(match.match_score or 0.0)))
    return GpuDecision(True, round(0.5 + 0.5 * score, 4), match.canonical_model, None)


__all__ = ["GpuDecision", "classify_title"]
