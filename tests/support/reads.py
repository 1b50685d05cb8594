"""The read tests' warehouse: three imports seeded with rows whose expected figures are worked
out by hand (in the read tests), behind the app. The read tests and the console's tests both
check their figures against it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import update

from glyph_assets.settings import Settings
from glyph_assets.sieve.columns import ERROR_COLUMNS, SCORED_COLUMNS
from glyph_assets.store import repository
from glyph_assets.store.db import migrate
from glyph_assets.store.models import Import
from glyphd_api.app import create_app
from tests.support.stack import free_port
from tests.support.warehouse import record_import

A = "00000000-0000-4000-8000-0000000000a1"
B = "00000000-0000-4000-8000-0000000000b2"
C = "00000000-0000-4000-8000-0000000000c3"


def frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows).reindex(columns=SCORED_COLUMNS + ERROR_COLUMNS)
    return out.astype(object).where(out.notna(), None)


def listing(index: int, model: str | None, price: float | None, score: float | None, **extra):
    return {
        "import_index": index,
        "title": f"listing {index}",
        "price": price,
        "currency": extra.pop("currency", "USD"),
        "canonical_model": model,
        "is_gpu": extra.pop("is_gpu", model is not None),
        "reject_reason": extra.pop("reject_reason", None),
        "score": score,
        **extra,
    }


def row_error(index: int, field: str, reason: str, stage: str = "clean") -> dict:
    return {
        "import_index": index,
        "error_stage": stage,
        "error_field": field,
        "error_reason": reason,
        "raw_row": '{"title": "x"}',
    }


ROWS_A = [
    listing(0, "H100_PCIE_80GB", 1600.0, 10.0, unit_price=400.0),  # a lot of 4
    listing(1, "H100_PCIE_80GB", 100.0, 90.0),
    listing(2, "H100_PCIE_80GB", 300.0, None),
    listing(3, "H100_PCIE_80GB", 200.0, 55.0),
    listing(4, "B200", 50.0, 70.0),
    listing(5, None, 10.0, None, is_gpu=False, reject_reason="not_gpu"),
    listing(6, None, 999.0, None, is_gpu=True, reject_reason="unknown_model"),
    row_error(7, "price", "price is missing"),
    row_error(8, "title", "title is empty"),
    listing(9, "H100_PCIE_80GB", 5000.0, 20.0, currency="EUR"),
]
ROWS_B = [
    listing(0, "B200", 70.0, 40.0),
    listing(1, "B200", 60.0, 45.0),
    listing(2, "NOT_IN_REGISTRY_X", 5.0, 1.0),
]


def seed(
    settings: Settings,
    import_id: str,
    rows: list[dict],
    source: str,
    status: str,
    created: datetime,
) -> None:
    engine = migrate(settings.sqlalchemy_url)
    record_import(engine, import_id, source=source, filename=f"{source}.csv", size_bytes=123)
    counts = repository.replace_import_rows(engine, import_id, [frame(rows)])
    repository.set_import_status(engine, import_id, status, total_rows=len(rows), **counts)
    with engine.begin() as conn:
        conn.execute(update(Import).where(Import.import_id == import_id).values(created_at=created))


@contextmanager
def seeded_client(glyph_env: Settings) -> Iterator[TestClient]:
    """The app (Dagster out of reach) over three imports seeded with the rows above: A
    (partially succeeded, two days old), B (succeeded, a day old) and C (failed, empty, now)."""
    settings = glyph_env.model_copy(update={"dagster_port": free_port()})
    now = datetime.now(UTC)
    seed(settings, A, ROWS_A, "feed-a", "partially_succeeded", now - timedelta(days=2))
    seed(settings, B, ROWS_B, "feed-b", "succeeded", now - timedelta(days=1))
    seed(settings, C, [], "feed-b", "failed", now)
    with TestClient(create_app(settings)) as test_client:
        yield test_client
