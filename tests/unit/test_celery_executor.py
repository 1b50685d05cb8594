"""GLYPH_EXECUTOR=celery: settings, the executor choice, the workers' Celery app, the stack's
worker children and where a step ran, without a broker (the integration test has one)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from dagster import in_process_executor
from dagster_celery.make_app import make_app
from pydantic import ValidationError
from typer.testing import CliRunner

from glyph_assets import contract
from glyph_assets.assets.placement import current_worker
from glyph_assets.jobs import executor_for
from glyph_assets.settings import Settings, reset_settings_cache
from glyph_assets.tooling import supervisor
from glyph_assets.tooling.cli import app
from glyph_assets.tooling.worker import worker_app, worker_argv
from glyphd_api.dagster_client import _metadata_values

PG = "postgresql://postgres@127.0.0.1:5432/dagster"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **overrides)  # type: ignore


def test_celery_without_a_postgres_instance_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="GLYPH_DAGSTER_POSTGRES_URL"):
        _settings(tmp_path, executor="celery")


def test_cli_refuses_celery_on_sqlite_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLYPH_EXECUTOR", "celery")
    monkeypatch.delenv("GLYPH_DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    reset_settings_cache()
    try:
        for command in (["dev"], ["worker"]):
            result = CliRunner().invoke(app, command)
            assert result.exit_code == 2, result.output
            assert "GLYPH_EXECUTOR=celery needs GLYPH_DAGSTER_POSTGRES_URL" in result.output
    finally:
        reset_settings_cache()
    assert not (tmp_path / "home").exists()  # refused before anything was started


def test_default_executor_is_todays(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.executor == "multiprocess"
    assert executor_for(settings) is in_process_executor
    assert settings.supervised_workers == 0


def test_celery_executor_sends_to_the_configured_queue(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, executor="celery", dagster_postgres_url=PG, celery_queue="glyph-test"
    )
    definition = executor_for(settings)
    assert definition.name == "celery"
    resolved = definition.config_schema.resolve_config({})  # configured: nothing left to set
    assert resolved.success, resolved.errors
    config = resolved.value["config"]
    executor = definition.executor_creation_fn(SimpleNamespace(executor_config=config))
    sent = make_app(executor.app_args())  # the app the executor submits steps with
    assert sent.conf.broker_url == "pyamqp://guest:guest@127.0.0.1:5672//"
    assert sent.conf.result_backend == "rpc://"
    assert sent.conf.task_default_queue == "glyph-test"
    assert settings.supervised_workers == 2
    assert _settings(tmp_path, executor="celery", dagster_postgres_url=PG, celery_workers=0)
    assert (
        _settings(
            tmp_path, executor="celery", dagster_postgres_url=PG, celery_workers=0
        ).supervised_workers
        == 0
    )


def test_worker_app_redelivers_a_killed_workers_steps(tmp_path: Path) -> None:
    """Acks late + reject on worker lost in the workers' own Celery config: with Celery's
    defaults a SIGKILLed worker's step is lost and its run hangs."""
    settings = _settings(
        tmp_path,
        executor="celery",
        dagster_postgres_url=PG,
        celery_queue="glyph-q",
        celery_broker_url="pyamqp://guest:guest@127.0.0.1:5672/vhost",
    )
    worker = worker_app(settings)
    assert worker.conf.task_acks_late is True
    assert worker.conf.task_reject_on_worker_lost is True
    assert worker.conf.worker_prefetch_multiplier == 1
    assert worker.conf.task_default_queue == "glyph-q"
    assert worker.conf.broker_url == settings.celery_broker_url
    assert "execute_plan" in worker.tasks
    argv = worker_argv(settings, "w1", 3)
    assert argv[argv.index("--queues") + 1] == "glyph-q"
    assert argv[argv.index("--hostname") + 1] == "w1@%h"
    assert argv[argv.index("--concurrency") + 1] == "3"


def test_stack_supervises_the_configured_workers(tmp_path: Path) -> None:
    settings = supervisor.resolved(
        _settings(tmp_path, executor="celery", dagster_postgres_url=PG, celery_workers=3)
    )
    commands = supervisor._commands(settings, tmp_path)
    names = list(commands)
    assert names[:4] == ["code-server", "webserver", "daemon", "api"]
    assert names[4:] == ["worker-1", "worker-2", "worker-3"]
    assert commands["worker-2"][-3:] == ["worker", "--name", "glyph-2"]
    default = supervisor.resolved(_settings(tmp_path))
    assert not [n for n in supervisor._commands(default, tmp_path) if n.startswith("worker")]


def test_worker_outside_celery_is_host_and_process() -> None:
    import os
    import socket

    assert current_worker() == f"{socket.gethostname()}:{os.getpid()}"


@pytest.mark.parametrize(
    ("entries", "worker"),
    [
        ([{"label": contract.STEP_WORKER, "text": "w1@vm"}], "w1@vm"),
        (
            [{"label": "Celery worker", "text": "w2@vm"}, {"label": "step_keys", "text": "x"}],
            "w2@vm",
        ),
        ([{"label": "glyph/rows_done", "intRepr": "5"}], None),
        ([], None),
    ],
)
def test_worker_read_back_from_event_metadata(
    entries: list[dict[str, str]], worker: str | None
) -> None:
    """What a step writes (``contract.worker_metadata``) and what dagster-celery's engine
    event says, as the gateway reads them from GraphQL."""
    assert contract.worker_from_metadata(_metadata_values(entries)) == worker
    if worker:
        assert contract.worker_from_metadata(contract.worker_metadata(worker)) == worker
