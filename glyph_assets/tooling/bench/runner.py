"""Measuring helpers: run a task in a fresh process, read its wall time and peak memory."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table


@dataclass
class Figure:
    """One line of the benchmark table: a figure, its baseline from the same run, the ratio."""

    figure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    peak_mem_mb: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def run_task(task: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``glyph_assets.tooling.bench.tasks <task> ...`` in a new interpreter; its JSON."""
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "glyph_assets.tooling.bench.tasks", task, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench task {task} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_of(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def median_get_ms(client: httpx.Client, path: str, repeat: int, warmup: int = 1) -> float:
    """Median wall time in ms of ``repeat`` sequential GETs of ``path``, after ``warmup`` GETs
    whose times are dropped (they fill the server's and the database's caches). Every answer
    must be 200: a figure of error pages would be fast and mean nothing."""
    times = []
    for attempt in range(warmup + repeat):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        if attempt >= warmup:
            times.append(elapsed)
    return median_of(times)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def print_table(figures: list[Figure], title: str = "glyph benchmarks") -> None:
    table = Table(title=title)
    for column in ("figure", "value", "baseline", "ratio", "target", "peak MB"):
        table.add_column(column, justify="left" if column in ("figure", "target") else "right")
    for f in figures:
        baseline = f"{_fmt(f.baseline, f.unit)} ({f.baseline_name})" if f.baseline else "-"
        table.add_row(
            f.figure,
            _fmt(f.value, f.unit),
            baseline,
            f"{f.ratio:.2f}x" if f.ratio is not None else "-",
            f.target,
            _fmt(f.peak_mem_mb),
        )
    Console(width=200).print(table)


def save(figures: list[Figure], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([f.as_dict() for f in figures], indent=2))
