"""``glyph bench``: every performance figure of glyph beside a baseline measured in the same run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import psutil

from glyph_assets.settings import PROJECT_ROOT, get_settings
from glyph_assets.tooling.bench.console import console_figures
from glyph_assets.tooling.bench.datagen import generate_csv, generate_realistic_csv
from glyph_assets.tooling.bench.runner import Figure, median_of, print_table, run_task, save
from glyph_assets.tooling.supervisor import api_command, free_port

CORPUS_EXPORT = PROJECT_ROOT.parent / "shared" / "corpus" / "shopify_store_export.csv"


def offline_figures(
    path: Path,
    label: str,
    repeat: int = 1,
    stages: bool = True,
    target: str = "< 5x",
    split: bool = False,
) -> list[Figure]:
    """Rows/s of each stage (``stages``), and the whole ``glyph pipeline`` (output files
    written) against pandas.read_csv of the same file, each run right after its baseline.

    ``split``: also the run's two halves against the same baseline, to show where its ratio
    comes from: the analysis of the file's distinct titles alone (one core, the ``file_titles``
    task), and the whole run with every title analysed beforehand (``pipeline_rows``: all the
    rest, as with a title matcher that took no time)."""
    baseline: list[dict] = []
    runs: list[dict] = []
    rest: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="glyph-offline-") as out:
        for _ in range(repeat):
            baseline.append(run_task("read_csv", str(path)))
            runs.append(run_task("pipeline", str(path), str(Path(out) / "listings.csv")))
            if split:
                rest.append(run_task("pipeline_rows", str(path), str(Path(out) / "rest.csv")))
    rows = runs[0]["rows"]
    # seconds of a run, as a ratio to the median read_csv of the same file in this run
    against_read = partial(
        Figure,
        unit="s",
        baseline=median_of([b["seconds"] for b in baseline]),
        baseline_name="pandas.read_csv",
    )
    figures = []
    if stages:
        timed = [run_task("offline", str(path)) for _ in range(repeat)]
        for stage in ("read", "clean", "titles", "normalize", "keys", "enrich", "score"):
            seconds = median_of([r["stages"][stage] for r in timed])
            figures.append(Figure(f"{label}: {stage} rows/s", rows / max(seconds, 1e-9), "rows/s"))
    figures.append(
        against_read(
            f"{label}: whole offline pipeline ({rows:,} rows)",
            median_of([r["seconds"] for r in runs]),
            target=target if rows >= 1_000_000 else "",
            peak_mem_mb=max(r["peak_mb"] + r["helpers_peak_mb"] for r in runs),
        )
    )
    if split:
        titles = run_task("file_titles", str(path))
        figures.append(
            against_read(
                f"{label}: its {titles['titles']:,} distinct titles analysed (one core)",
                titles["seconds"],
            )
        )
        figures.append(
            against_read(
                f"{label}: whole offline pipeline, every title analysed beforehand",
                median_of([r["seconds"] for r in rest]),
                peak_mem_mb=max(r["peak_mb"] for r in rest),
            )
        )
    return figures


TITLES_BEFORE_ISSUE_15 = 19_500.0  # titles/s of the same task on the pre-issue-15 normalizer


def title_figures(distinct: int = 20_000) -> list[Figure]:
    """Distinct titles per second through the title matcher on a cold cache (issue 15 asks
    that it never gets slower per distinct title); the baseline is the pre-change figure
    measured with the same task on the development machine."""
    result = run_task("titles", str(distinct))
    return [
        Figure(
            f"normalizer: distinct titles/s ({result['titles']:,} generated titles, cold cache)",
            result["titles_per_s"],
            "titles/s",
            baseline=TITLES_BEFORE_ISSUE_15,
            baseline_name="before issue 15",
            target=">= 1x",
        )
    ]


def ingest_figures(path: Path, workdir: Path, label: str) -> tuple[list[Figure], dict]:
    """One import through a real Dagster run into SQLite, against read_csv + bulk insert."""
    workdir.mkdir(parents=True, exist_ok=True)
    floor = run_task("sqlite_floor", str(path), str(workdir / "floor.db"))
    env = {
        "GLYPH_DATA_DIR": str(workdir / "data"),
        "DAGSTER_HOME": str(workdir / "dagster_home"),
    }
    (workdir / "dagster_home").mkdir(parents=True, exist_ok=True)
    result = run_task("ingest", str(path), env=env)
    if not result["success"] or result["persisted_rows"] + result["error_rows"] != floor["rows"]:
        raise RuntimeError(f"ingest lost rows: {result} vs {floor['rows']}")
    figure = Figure(
        f"{label}: ingest end to end through Dagster into SQLite ({floor['rows']:,} rows)",
        result["seconds"],
        "s",
        baseline=floor["seconds"],
        baseline_name="read_csv + bulk insert",
        target="< 8x, peak < 1536 MB",
        peak_mem_mb=result["peak_mb"],
    )
    return [figure, *_step_figures(result.get("steps", {}), label)], {**result, **env}


def _step_figures(steps: dict[str, float], label: str) -> list[Figure]:
    """Where the run's time went: each asset step, and the asset checks together."""
    checks = sum(v for k, v in steps.items() if "check" in k)
    assets = {k: v for k, v in steps.items() if "check" not in k}
    out = [Figure(f"{label}: ingest step {key}", value, "s") for key, value in assets.items()]
    if checks:
        out.append(Figure(f"{label}: ingest asset checks (all steps)", checks, "s"))
    return out


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


# wrk script: pages spread over the whole import, as operators browse it: half the first 10,000
# rows in import order, a quarter best-first by score, a quarter anywhere by keyset.
RANDOM_PAGES_LUA = """
math.randomseed(os.time())
local base = "/api/imports/%(import_id)s/listings?limit=100"
request = function()
  local r = math.random()
  local path
  if r < 0.5 then
    path = base .. "&offset=" .. math.random(0, 9900)
  elseif r < 0.75 then
    path = base .. "&sort=-score&offset=" .. math.random(0, 9900)
  else
    path = base .. "&after_index=" .. math.random(-1, %(last)d)
  end
  return wrk.format("GET", path)
end
"""


def listing_latency(env: dict, import_id: str, seconds: int = 10) -> list[Figure]:
    """Page-of-100 reads of a big import under 32 concurrent clients, measured with wrk: one
    page asked again and again, then pages spread over the import."""
    if not wrk_available():
        return [Figure("listings page latency: wrk not installed (make bench installs it)", 0, "")]
    port = free_port()
    workers = max(1, get_settings().api_workers)
    proc = subprocess.Popen(
        api_command(
            "127.0.0.1",
            port,
            "--log-level",
            "warning",
            # The stack's own worker count (GLYPH_API_WORKERS), so the figure is the stack's.
            "--workers",
            str(workers),
        ),
        env={**os.environ, **{k: v for k, v in env.items() if k.isupper()}},
        cwd=PROJECT_ROOT,
    )
    figures: list[Figure] = []
    try:
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/api/imports/{import_id}/listings?limit=100&offset=500"
        _wait(lambda: httpx.get(url, timeout=2).status_code == 200, 60)
        total = httpx.get(url, timeout=10).json()["total"]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(RANDOM_PAGES_LUA % {"import_id": import_id, "last": max(0, total - 101)})
        try:
            for label, extra in (("one page", []), ("random pages", ["-s", script.name])):
                out, spread = _wrk_watching(url, seconds, extra, proc.pid, port)
                print(f"listings, {label}: {spread}", flush=True)
                figures += _latency_figures(out, f"{label}, {workers} API workers")
        finally:
            os.unlink(script.name)
    finally:
        proc.terminate()
        proc.wait(10)
    return figures


def _wrk_watching(
    url: str, seconds: int, extra: list[str], server_pid: int, port: int
) -> tuple[str, str]:
    """wrk's output, and how its connections and the CPU were spread over the API's worker
    processes: a worker that took most connections halves the throughput, and says so here."""
    workers = psutil.Process(server_pid).children(recursive=True) or [psutil.Process(server_pid)]
    before = {w.pid: _cpu_seconds(w) for w in workers}
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "--timeout", "5s", *extra, url]
    load = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(min(2.0, seconds / 2))
        connections = {w.pid: _served_connections(w, port) for w in workers}
        out, err = load.communicate()
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    if load.returncode != 0:
        raise RuntimeError(f"wrk failed: {err}")
    cpu = {w.pid: max(0.0, _cpu_seconds(w) - before[w.pid]) for w in workers}
    spread = ", ".join(  # uvicorn's helper processes serve nothing and are left out
        f"worker {pid}: {connections[pid]} connections, {cpu[pid]:.1f} s CPU"
        for pid in before
        if connections[pid] or cpu[pid] > 0.1
    )
    return _checked(out), spread


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:  # gone, or not ours to read
        return 0.0
    return float(times.user + times.system)


def _served_connections(process: psutil.Process, port: int) -> int:
    try:
        connections = process.net_connections(kind="tcp")
    except psutil.Error:
        return 0
    return sum(1 for c in connections if c.status == "ESTABLISHED" and c.laddr.port == port)


def _checked(out: str) -> str:
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if failed:
        raise RuntimeError(f"{failed.group(1)} listing requests failed:\n{out}")
    return out


def _latency_figures(out: str, label: str) -> list[Figure]:
    p50 = _wrk_percentile(out, "50")
    p99 = _wrk_percentile(out, "99")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    name = f"GET listings page of 100, 32 clients ({label})"
    return [
        Figure(f"{name}: median", p50, "ms", target="< 50 ms"),
        Figure(f"{name}: p99", p99, "ms", target="< 200 ms"),
        Figure(f"{name}: throughput", rps, "req/s"),
    ]


def _wrk_percentile(output: str, pct: str) -> float:
    match = re.search(rf"\s{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s)", output)
    if not match:
        raise RuntimeError(f"no {pct}% line in wrk output:\n{output}")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError("service did not become ready")


def run_bench(quick: bool = False, output: Path | None = None) -> list[Figure]:
    rows = 100_000 if quick else 1_000_000
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="glyph-bench-") as tmp:
        work = Path(tmp)
        if CORPUS_EXPORT.exists():
            figures += offline_figures(CORPUS_EXPORT, "shopify_store_export.csv", repeat=3)
        figures += title_figures(5_000 if quick else 20_000)
        big = generate_csv(work / f"generated_{rows}.csv", rows)
        figures += offline_figures(big, f"generated {rows:,} rows (wide, 11 columns)")
        # Shaped like real uploads (six narrow columns, 60,000 distinct titles a million rows):
        # read_csv is cheaper there, so the pipeline's ratio to it is the honest one.
        realistic = generate_realistic_csv(work / f"realistic_{rows}.csv", rows)
        label = f"realistic {rows:,} rows (6 columns)"
        # three interleaved runs (the ratio's median): read_csv alone moves by a fifth here
        figures += offline_figures(
            realistic, label, 3, stages=False, target="<= 3x, peak < 1024 MB", split=True
        )
        realistic.unlink()
        ingest, env = ingest_figures(big, work / "ingest", f"generated {rows:,} rows")
        figures += ingest
        figures += listing_latency(env, env["import_id"], seconds=5 if quick else 10)
        figures += console_figures(env, env["import_id"])
        for extra in _optional_suites(quick):
            figures += extra
    print_table(figures, title=f"glyph benchmarks ({'quick' if quick else 'full'})")
    save(figures, output or PROJECT_ROOT / "bench-results" / "latest.json")
    return figures


def run_latency_bench(output: Path | None = None) -> list[Figure]:
    """``glyph bench --latency``: what an established client waits for on a synchronous import,
    beside the established service's reference figures."""
    from glyph_assets.tooling.bench.api import bench_latency

    figures = [_as_figure(row) for row in bench_latency()]
    print_table(figures, title="glyph: established clients' synchronous imports")
    save(figures, output or PROJECT_ROOT / "bench-results" / "latency.json")
    return figures


def _optional_suites(quick: bool) -> list[list[Figure]]:
    """API, storage and warehouse-read benchmarks, each measured against its own baseline."""
    results: list[list[Figure]] = []
    for module, function in (
        ("api", "bench_api"),
        ("storage", "bench_storage"),
        ("executors", "bench_executors"),
        ("changes", "bench_changes"),
        ("warehouse", "bench_warehouse"),
    ):
        try:
            bench = getattr(
                __import__(f"glyph_assets.tooling.bench.{module}", fromlist=[function]), function
            )
        except (ImportError, AttributeError):
            continue
        rows = bench(quick)
        results.append([_as_figure(row) for row in rows])
    return results


def _as_figure(row: dict | Figure) -> Figure:
    if isinstance(row, Figure):
        return row
    return Figure(
        figure=row["figure"],
        value=row["value"],
        unit=row.get("unit", ""),
        baseline=row.get("baseline"),
        baseline_name=row.get("baseline_name", ""),
        target=row.get("target", ""),
        peak_mem_mb=row.get("peak_mem_mb"),
    )
