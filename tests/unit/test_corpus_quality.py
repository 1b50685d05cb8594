"""Match quality on the real listing corpus, against the hand-labelled fixture.

The corpus is third-party data that lives outside the project (``../shared/corpus``); it is read in
place at run time and the test is skipped when it is absent. The labels name rows by file and
0-based data row; the listing text is the ``title`` column (``Model`` for price sheets).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from glyph_assets.sieve.normalize import UNKNOWN_MODEL, match_title
from glyph_assets.sieve.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
LABELS = ROOT / "tests" / "fixtures" / "labels" / "corpus_labels.csv"

GPU_ACCURACY = 0.97
NOT_GPU_ACCURACY = 0.98

pytestmark = [
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}"),
    pytest.mark.skipif(not LABELS.is_file(), reason=f"label fixture not found at {LABELS}"),
]


def _rows(relative: str) -> list[dict[str, str]]:
    """The file's data rows as the pipeline numbers them (CSV via pandas, JSON array order)."""
    path = CORPUS / relative
    if path.suffix == ".json":
        records = json.loads(path.read_text(encoding="utf-8"))
        return [{str(k): "" if v is None else str(v) for k, v in r.items()} for r in records]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.to_dict("records")


def _listing(row: dict[str, str]) -> tuple[str, str | None, str | None, str | None]:
    """(title, model_hint, brand_hint, notes) the way clean maps these headers."""
    lowered = {k.strip().lower(): v for k, v in row.items()}
    if "title" in lowered:
        title, hint = lowered["title"], lowered.get("model")
    else:
        title, hint = lowered.get("model", ""), None
    notes = lowered.get("bulk_notes")
    brand = lowered.get("brand") or lowered.get("vendor")
    return title, hint, brand, notes


@pytest.fixture(scope="module")
def outcomes() -> pd.DataFrame:
    labels = pd.read_csv(LABELS, dtype=str, keep_default_na=False)
    registry = load_registry()
    cache: dict[str, list[dict[str, str]]] = {}
    records = []
    for label in labels.itertuples(index=False):
        if label.file not in cache:
            cache[label.file] = _rows(label.file)
        rows = cache[label.file]
        title, hint, brand, notes = _listing(rows[int(label.row_index)])
        match = match_title(title, hint, brand, notes, registry=registry)
        vendor_of = registry.specs["vendor"]
        expected_vendor = (
            vendor_of.get(label.expected) if label.expected not in ("NOT_GPU", "UNKNOWN") else None
        )
        records.append(
            {
                "file": label.file,
                "row": int(label.row_index),
                "title": title,
                "expected": label.expected,
                "expected_vendor": expected_vendor,
                "got": match.canonical_model,
                "vendor": match.vendor,
                "is_gpu": match.is_gpu,
                "reason": match.reject_reason,
                "detail": match.detail,
            }
        )
    return pd.DataFrame(records)


def _correct(row: pd.Series) -> bool:
    if row["expected"] == "NOT_GPU":
        return row["is_gpu"] is False
    if row["expected"] == "UNKNOWN":
        return row["got"] is None and row["reason"] == UNKNOWN_MODEL
    return row["got"] == row["expected"]


def _report(frame: pd.DataFrame) -> str:
    wrong = frame[~frame.apply(_correct, axis=1)]
    confusion = Counter(zip(wrong["expected"], wrong["got"].fillna(wrong["reason"]), strict=True))
    lines = [f"{n:3d}  expected {e:<30} got {g}" for (e, g), n in confusion.most_common()]
    lines += [
        f"  {r.file}:{r.row} {r.title[:80]!r} -> {r.got or r.reason} ({r.detail})"
        for r in wrong.itertuples()
    ]
    return "\n".join(lines)


def test_gpu_rows_get_the_labelled_model(outcomes: pd.DataFrame) -> None:
    gpu = outcomes[outcomes["expected"] != "NOT_GPU"]
    accuracy = gpu.apply(_correct, axis=1).mean()
    print(f"GPU rows: {len(gpu)}, exact-id accuracy {accuracy:.2%}")
    assert accuracy >= GPU_ACCURACY, _report(gpu)


def test_not_gpu_rows_are_rejected(outcomes: pd.DataFrame) -> None:
    rejected = outcomes[outcomes["expected"] == "NOT_GPU"]
    accuracy = rejected.apply(_correct, axis=1).mean()
    print(f"NOT_GPU rows: {len(rejected)}, rejected {accuracy:.2%}")
    assert accuracy >= NOT_GPU_ACCURACY, _report(rejected)


def test_no_cross_vendor_matches(outcomes: pd.DataFrame) -> None:
    mapped = outcomes[outcomes["got"].notna() & outcomes["expected_vendor"].notna()]
    crossed = mapped[mapped["vendor"] != mapped["expected_vendor"]]
    assert crossed.empty, _report(crossed)
