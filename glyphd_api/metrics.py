"""``GET /metrics``: the Prometheus text format, from two sources chosen for correctness.

- **Import figures come from the database at scrape time** (``DatabaseCollector``): imports by
  status, rows persisted and rejected, landed upload bytes, processing durations. The database is
  the one place that sees every import, whichever of the API's uvicorn workers took the upload,
  whether the inbox sensor or an operator started it, and across restarts; counters kept in an
  API process would lose all of that. The queries read only the ``imports`` table (a few columns,
  one row per import), never the listings.
- **Request latency by route is measured in the API processes** (``RequestMetrics``, a pure ASGI
  middleware). The API runs several uvicorn workers, so prometheus-client's multiprocess mode is
  used when ``PROMETHEUS_MULTIPROC_DIR`` is set (the stack sets it to a directory under the data
  dir that it empties before every start of the API): each worker writes its observations to its
  own memory-mapped file and a scrape, answered by any worker, adds them all up. Without the
  variable (one process, unit tests) the metrics live in the process.

The route label is the route's template (``/api/imports/{import_id}``), never the raw path, so
the label set stays bounded; requests that match no route share one label.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glyph_assets.store.db import Engine
from glyph_assets.store.status import IMPORT_STATUSES
from glyph_assets.store.warehouse import import_totals

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Created once per process; in multiprocess mode the values go to this process's mmap file.
REQUEST_SECONDS = Histogram(
    "glyph_http_request_duration_seconds",
    "API request latency by method, route template and status class",
    ("method", "route", "status"),
    buckets=LATENCY_BUCKETS,
)


class DatabaseCollector(Collector):
    """Import figures read from the ``imports`` table on every scrape (see the module doc)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        totals = import_totals(self.engine)
        by_status = totals.by_status
        imports = GaugeMetricFamily("glyph_imports", "Imports by status", labels=["status"])
        for status in sorted({str(s) for s in IMPORT_STATUSES} | set(by_status)):
            imports.add_metric([status], by_status.get(status, 0))
        yield imports
        rows = GaugeMetricFamily(
            "glyph_import_rows", "Rows of all imports, persisted or rejected", labels=["kind"]
        )
        rows.add_metric(["persisted"], totals.persisted_rows)
        rows.add_metric(["error"], totals.error_rows)
        yield rows
        yield CounterMetricFamily(
            "glyph_upload_bytes",
            "Bytes of every landed and registered upload",
            totals.uploaded_bytes,
        )
        yield CounterMetricFamily("glyph_uploads", "Landed and registered uploads", totals.uploads)
        yield _duration_histogram(totals.processing_seconds)


def _duration_histogram(seconds: list[float]) -> HistogramMetricFamily:
    buckets = [
        (str(bound), sum(1 for s in seconds if s <= bound)) for bound in DURATION_BUCKETS
    ] + [("+Inf", len(seconds))]
    return HistogramMetricFamily(
        "glyph_import_processing_seconds",
        "From an import's first step to its final status (its last attempt's run), per import",
        buckets=buckets,
        sum_value=sum(seconds),
    )


def exposition(engine: Engine) -> tuple[bytes, str]:
    """The whole scrape: the database figures and every API process's request metrics."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(DatabaseCollector(engine))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _status_class(status: int) -> str:
    return f"{status // 100}xx"


class RequestMetrics:
    """Pure ASGI middleware timing every HTTP request by route template (no task, no stream per
    request, unlike ``@app.middleware("http")``). The labelled child of each (method, route,
    status class) is cached, so a request costs a monotonic clock read and one observation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            key = (scope["method"], template, _status_class(status))
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = REQUEST_SECONDS.labels(*key)
            child.observe(time.perf_counter() - started)
