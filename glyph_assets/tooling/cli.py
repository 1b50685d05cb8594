"""``glyph``: run the local stack, ingest files through the API, and run the pipeline offline."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from glyph_assets.settings import Settings, get_settings
from glyph_assets.store.status import PERSISTED_STATUSES, TERMINAL_STATUSES

app = typer.Typer(help="glyph: GPU market listings ingestion.", no_args_is_help=True)
console = Console()


def _apply_ports(api_port: int | None, dagster_port: int | None) -> None:
    import os

    from glyph_assets.settings import reset_settings_cache

    if api_port:
        os.environ["GLYPH_API_PORT"] = str(api_port)
    if dagster_port:
        os.environ["GLYPH_DAGSTER_PORT"] = str(dagster_port)
    reset_settings_cache()


def _checked_settings() -> Settings:
    """The settings, or a clear message and exit status 2 when they contradict each other
    (``GLYPH_EXECUTOR=celery`` without ``GLYPH_DAGSTER_POSTGRES_URL``)."""
    from pydantic import ValidationError

    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            console.print(f"glyph: invalid settings: {error['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from None


def _stop_on_signals() -> threading.Event:
    """SIGTERM, SIGINT and SIGHUP ask the supervisor to stop: set an event rather than raise, so
    that a signal in the middle of starting a child never loses track of it."""
    stop_event = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop_event.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, request_stop)
    return stop_event


@app.command()
def dev(
    api_port: Annotated[int | None, typer.Option(help="API port (GLYPH_API_PORT)")] = None,
    dagster_port: Annotated[int | None, typer.Option(help="UI port (GLYPH_DAGSTER_PORT)")] = None,
) -> None:
    """Start the stack in the foreground and supervise it: a process that dies is restarted;
    Ctrl-C or SIGTERM stops everything within 5 s."""
    stop_event = _stop_on_signals()  # first: a stop during start-up must not orphan anything
    from glyph_assets.logs import configure_logging
    from glyph_assets.stack_state import read_state, state_path
    from glyph_assets.tooling.supervisor import StopRequested, Supervisor, log, urls

    _apply_ports(api_port, dagster_port)
    _checked_settings()
    configure_logging()
    running = read_state()
    if running is not None:
        console.print(f"the stack is already running (supervisor pid {running['pid']})")
        raise typer.Exit(1)
    supervisor = Supervisor(stop_event=stop_event)
    supervisor.write_state("starting")
    try:
        supervisor.start()
        supervisor.write_state("running")
        if supervisor.settings.log_format == "json":  # every line a JSON object
            u = urls(supervisor.settings)
            log.info("stack running", extra={"dagster_ui": u.dagster, "api": u.api})
        else:
            _print_urls(supervisor.settings)
        seen = supervisor.state("running")
        while not stop_event.wait(0.25):
            supervisor.check()
            if (now := supervisor.state("running")) != seen:  # a death or a restart
                seen = now
                supervisor.write_state("running")
    except StopRequested:
        pass
    finally:
        seconds = supervisor.stop()
        state_path(supervisor.home).unlink(missing_ok=True)
        log.info("stack stopped in %.1f s", seconds)


@app.command()
def up(
    api_port: Annotated[int | None, typer.Option(help="API port (GLYPH_API_PORT)")] = None,
    dagster_port: Annotated[int | None, typer.Option(help="UI port (GLYPH_DAGSTER_PORT)")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the stack")] = 180.0,
) -> None:
    """Start the stack in the background under its supervisor (``glyph dev`` detached, logging to
    DAGSTER_HOME/stack/supervisor.log); ``glyph down`` stops it."""
    import subprocess
    import sys

    from glyph_assets.stack_state import dagster_home, read_state
    from glyph_assets.tooling.supervisor import stop

    _apply_ports(api_port, dagster_port)
    _checked_settings()
    running = read_state()
    if running is not None:
        console.print(
            f"the stack is already running (supervisor pid {running['pid']}); glyph down stops it"
        )
        return
    stack_dir = dagster_home() / "stack"
    stack_dir.mkdir(parents=True, exist_ok=True)
    with open(stack_dir / "supervisor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "glyph_assets.tooling.cli", "dev"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, by design
        )
    deadline = time.monotonic() + timeout
    with console.status("starting Dagster code server, webserver, daemon and the API..."):
        while (state := read_state()) is None or state["status"] != "running":
            if proc.poll() is not None or time.monotonic() > deadline:
                stop()
                tail = (stack_dir / "supervisor.log").read_text(errors="replace")[-3000:]
                console.print(f"[red]the stack did not start[/red]\n{tail}")
                raise typer.Exit(1)
            time.sleep(0.2)
    console.print(f"[green]stack is up[/green] (supervisor pid {proc.pid})")
    _print_urls()


@app.command()
def worker(
    name: Annotated[
        str | None, typer.Option(help="Celery node name, before @host (default: <queue>-<host>)")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Steps run at once")] = 1,
) -> None:
    """Run a Celery worker for glyph's steps (GLYPH_EXECUTOR=celery) in the foreground, from any
    directory of any machine with the package and the stack's GLYPH_* settings."""
    from glyph_assets.tooling.worker import default_worker_name, run_worker

    settings = _checked_settings()
    run_worker(settings, name or default_worker_name(settings), concurrency)


@app.command()
def down() -> None:
    """Stop a stack started with ``glyph up`` (or a ``glyph dev`` of the same DAGSTER_HOME)."""
    from glyph_assets.tooling.supervisor import stop

    stopped = stop()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "no stack was running")


def _print_urls(settings: Settings | None = None) -> None:
    from glyph_assets.tooling.supervisor import urls as stack_urls

    u = stack_urls(settings)
    console.print(f"Dagster UI: {u.dagster}")
    console.print(f"API docs:   {u.api_docs}")


@app.command()
def urls() -> None:
    """Print where the Dagster UI and the API docs are."""
    _print_urls()


def _summary_table(summary: dict) -> Table:
    from glyph_assets.store.repository import COUNT_KEYS

    table = Table(title="import summary", show_header=False)
    for key in ("import_id", "status", "total_rows", *COUNT_KEYS):
        table.add_row(key, str(summary.get(key)))
    runs = summary.get("runs") or []
    table.add_row("run ids", ", ".join(r.get("run_id", "") for r in runs))
    for error in (summary.get("first_errors") or [])[:5]:
        table.add_row(
            f"row error {error.get('import_index')}", f"{error.get('field')}: {error.get('reason')}"
        )
    return table


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, TSV or JSON")],
    wait: Annotated[bool, typer.Option(help="Wait for the run and show its progress")] = False,
    source: Annotated[str, typer.Option(help="Source label recorded with the import")] = "cli",
    description: Annotated[str | None, typer.Option()] = None,
    api_url: Annotated[str | None, typer.Option(help="Defaults to the local API")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run")] = 600.0,
) -> None:
    """Submit FILE through the REST API as a new import."""
    settings = get_settings()
    base = api_url or f"http://{settings.api_host}:{settings.api_port}"
    headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
    data = {"source": source, **({"description": description} if description else {})}
    with open(file, "rb") as fh:
        response = httpx.post(
            f"{base}/api/imports",
            files={"file": (file.name, fh)},
            data=data,
            headers=headers,
            timeout=120,
        )
    body = response.json()
    if response.status_code >= 400:
        console.print_json(json.dumps(body))
        raise typer.Exit(1)
    import_id = body["import_id"]
    console.print(f"import_id {import_id}  run {body.get('run_id')}  status {body.get('status')}")
    if not wait:
        return
    summary = _wait_with_progress(base, import_id, body.get("run_id"), timeout)
    console.print(_summary_table(summary))
    if summary.get("status") not in PERSISTED_STATUSES:
        raise typer.Exit(1)


def _wait_with_progress(base: str, import_id: str, run_id: str | None, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("ingesting", total=5, detail="")
        while time.monotonic() < deadline:
            summary = httpx.get(f"{base}/api/imports/{import_id}", timeout=30).json()
            if run_id:
                job = httpx.get(f"{base}/api/jobs/{run_id}/status", timeout=30)
                if job.status_code == 200:
                    info = job.json().get("progress") or {}
                    progress.update(
                        task,
                        completed=info.get("assets_done", 0),
                        detail=f"{info.get('rows_processed') or 0} rows",
                    )
            if summary.get("status") in TERMINAL_STATUSES:
                progress.update(task, completed=5)
                return summary
            time.sleep(0.5)
    raise typer.Exit(2)


@app.command()
def pipeline(
    input: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, TSV or JSON")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output CSV")],
    report: Annotated[bool, typer.Option(help="Print match and reject distributions")] = False,
    kind: Annotated[str | None, typer.Option(help="raw or scored (detected by default)")] = None,
    helpers: Annotated[
        int | None,
        typer.Option(
            "--title-helpers",
            min=0,
            help="Processes that share the analysis of new titles (default: 1 on two cores)",
        ),
    ] = None,
) -> None:
    """Run clean -> normalize -> enrich -> score on INPUT with no Dagster and no database."""
    from glyph_assets.offline import default_title_helpers, write_offline_outputs

    helpers = default_title_helpers() if helpers is None else helpers
    result = write_offline_outputs(input, output, kind=kind, helpers=helpers)
    console.print(
        f"{result.rows} rows -> {output} ({result.listings} listings, "
        f"{result.errors} row errors -> {result.errors_path})"
    )
    if report:
        for title, counts in result.report.items():
            table = Table(title=title)
            table.add_column("value")
            table.add_column("rows", justify="right")
            for key, count in counts.items():
                table.add_row(str(key), str(count))
            console.print(table)


@app.command()
def prune(
    days: Annotated[
        float | None, typer.Option(help="Retention in days (default GLYPH_STAGING_RETENTION_DAYS)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be removed")] = False,
) -> None:
    """Remove the staging Parquet parts of imports that succeeded more than the retention ago.

    Imports whose latest Dagster run did not succeed keep their parts (a retry from failure
    re-reads them); the landing zone, with every original upload, is never touched."""
    from datetime import timedelta

    from dagster import DagsterInstance

    from glyph_assets.staging import latest_run_succeeded, prune_staging
    from glyph_assets.store.db import migrate
    from glyph_assets.store.repository import utcnow
    from glyph_assets.store.retention import persisted_before

    settings = get_settings()
    retention = settings.staging_retention_days if days is None else days
    if retention < 0:
        console.print("[red]--days must be 0 or more[/red]")
        raise typer.Exit(2)
    engine = migrate(settings.sqlalchemy_url)
    expired = persisted_before(engine, utcnow() - timedelta(days=retention))
    with DagsterInstance.get() as instance:
        result = prune_staging(
            settings.staging_dir, expired, latest_run_succeeded(instance), dry_run=dry_run
        )
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {result.directories} staging directories of {len(result.pruned)} imports "
        f"({result.bytes / 2**20:.1f} MiB) older than {retention:g} days"
    )
    for import_id in result.kept_for_retry:
        console.print(f"kept {import_id}: its latest run did not succeed (a retry needs it)")


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="100,000 rows instead of 1,000,000")] = False,
    output: Annotated[Path | None, typer.Option(help="Where to write the figures as JSON")] = None,
    latency: Annotated[
        bool,
        typer.Option(
            help="Only the established clients' synchronous imports (3-row persist, 4-row CSV, "
            "100,000-row persist) on a stack of their own"
        ),
    ] = False,
) -> None:
    """Measure every performance figure against a baseline from the same run; print one table."""
    from glyph_assets.tooling.bench.suite import run_bench, run_latency_bench

    if latency:
        run_latency_bench(output=output)
    else:
        run_bench(quick=quick, output=output)


@app.command(name="eval")
def eval_labels(
    labels: Annotated[Path, typer.Argument(help="CSV with title, expected (and source) columns")],
    show: Annotated[int, typer.Option(help="How many wrong rows to list")] = 50,
) -> None:
    """Measure the title matcher on your own labelled titles: exact id, non-GPU rejected and
    unknown-GPU accuracy per source, plus the confusions (see glyph_assets/sieve/evaluate.py)."""
    from glyph_assets.sieve.evaluate import evaluate, format_report, read_labels

    try:
        frame = read_labels(labels)
    except (OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    print(format_report(evaluate(frame), show_wrong=show))


if __name__ == "__main__":
    app()
