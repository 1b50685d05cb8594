"""The deploy/ files, checked as far as this machine can without Docker, Helm or a cluster.

The compose files are parsed and cross-checked (services, images, commands, ports, volumes, the
workspace the webserver and daemon load), and their environment is fed to glyph's own dagster.yaml
generator, so a setting name that glyph does not know or a storage that would stay on SQLite fails
here. The Dockerfile's COPY sources must exist and its install line must use the lock file. The
Helm values are checked for the K8sRunLauncher, external PostgreSQL and the code location glyph's
API addresses. What cannot run here (building the image, `docker compose up`, `helm install` and
the chart's values.schema.json) is listed in deploy/README.md as not tested here.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from glyph_assets.settings import Settings
from glyph_assets.tooling.dagster_instance import instance_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GLYPH_SERVICES = {"migrate", "code-server", "webserver", "daemon", "api"}
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR:-default} substitution, enough for these files."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    return value


def _compose(*names: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Load compose files and merge them the way ``docker compose -f a -f b`` does (maps)."""
    merged: dict[str, Any] = {}
    for name in names:
        data = _interpolate(yaml.safe_load((DEPLOY / name).read_text()), env or {})
        for service, spec in data.get("services", {}).items():
            target = merged.setdefault("services", {}).setdefault(service, {})
            for key, value in spec.items():
                if key == "environment" and isinstance(value, dict):
                    target.setdefault("environment", {}).update(value)
                elif key in ("volumes", "group_add") and isinstance(value, list):
                    target[key] = [*target.get(key, []), *value]
                else:
                    target[key] = value
        for key in ("volumes", "networks", "name"):
            if key in data:
                merged[key] = data[key]
    return merged


def _settings_from(environment: dict[str, str]) -> Settings:
    """Settings as a container with this environment would build them."""
    known = {f"GLYPH_{name.upper()}" for name in Settings.model_fields}
    glyph = {k: v for k, v in environment.items() if k.startswith("GLYPH_")}
    assert set(glyph) <= known, f"unknown settings: {sorted(set(glyph) - known)}"
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith("GLYPH_")]:
            del os.environ[key]
        os.environ.update(glyph)
        return Settings(_env_file=None)  # type: ignore[call-arg]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _command(spec: dict[str, Any]) -> list[str]:
    command = spec["command"]
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_compose_has_the_five_processes_on_postgres() -> None:
    compose = _compose("docker-compose.yml")
    services = compose["services"]
    assert {"postgres", "code-server", "webserver", "daemon", "api"} <= set(services)
    images = {services[name]["image"] for name in GLYPH_SERVICES}
    assert images == {"glyph:latest"}, "every glyph process runs the one image"
    for name in GLYPH_SERVICES:
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        )
        for dependency in services[name].get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"

    pg_env = services["postgres"]["environment"]
    for name in GLYPH_SERVICES:
        settings = _settings_from(services[name]["environment"])
        config = instance_config(settings)
        url = config["storage"]["postgres"]["postgres_url"]
        assert url.startswith(f"postgresql://{pg_env['POSTGRES_USER']}:")
        assert url.endswith("@postgres:5432/dagster")
        assert settings.sqlalchemy_url.endswith(f"@postgres:5432/{pg_env['POSTGRES_DB']}")
        assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")
        assert settings.max_concurrent_runs > 1
        assert "run_launcher" not in config
    # Dagster's database is created next to glyph's when the volume is first initialized.
    init = (DEPLOY / "postgres-init.sql").read_text()
    assert re.search(r"CREATE DATABASE dagster\b", init)
    mounts = services["postgres"]["volumes"]
    assert any(m.startswith("./postgres-init.sql:/docker-entrypoint-initdb.d/") for m in mounts)


def test_compose_processes_find_each_other() -> None:
    services = _compose("docker-compose.yml")["services"]
    module = _pyproject()["tool"]["dagster"]["module_name"]
    location = _pyproject()["tool"]["dagster"]["code_location_name"]

    code = _command(services["code-server"])
    assert code[:3] == ["dagster", "api", "grpc"]
    assert code[code.index("-m") + 1] == module
    assert code[code.index("--location-name") + 1] == location
    port = int(code[code.index("-p") + 1])

    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    assert entry["grpc_server"] == {"host": "code-server", "port": port, "location_name": location}
    for name in ("webserver", "daemon"):
        command = _command(services[name])
        assert command[command.index("-w") + 1] == "/opt/glyph/deploy/workspace.yaml"

    web = _command(services["webserver"])
    web_port = web[web.index("-p") + 1]
    api = _command(services["api"])
    assert "glyphd_api.app:create_app" in api and "--factory" in api
    api_env = services["api"]["environment"]
    assert (api_env["GLYPH_DAGSTER_HOST"], api_env["GLYPH_DAGSTER_PORT"]) == ("webserver", web_port)
    assert api_env["GLYPH_DAGSTER_LOCATION"] == location
    for name, inside in (("webserver", web_port), ("api", api[api.index("--port") + 1])):
        (published,) = services[name]["ports"]
        assert published == f"127.0.0.1:{inside}:{inside}", "published on loopback only"


def test_every_process_that_touches_files_shares_the_data_volume() -> None:
    compose = _compose("docker-compose.yml")
    services = compose["services"]
    for name in ("code-server", "daemon", "api"):
        data_dir = services[name]["environment"]["GLYPH_DATA_DIR"]
        assert f"glyph-data:{data_dir}" in services[name]["volumes"], name
    assert compose["volumes"]["glyph-data"]["name"] == "glyph-data"


def test_docker_launcher_override_gives_runs_image_network_and_volume() -> None:
    pytest.importorskip("dagster_docker")
    compose = _compose("docker-compose.yml", "docker-compose.docker-launcher.yml")
    services = compose["services"]
    for name in ("daemon", "webserver"):
        assert "/var/run/docker.sock:/var/run/docker.sock" in services[name]["volumes"]
    settings = _settings_from(services["daemon"]["environment"])
    launcher = instance_config(settings)["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    config = launcher["config"]
    assert config["image"] == services["code-server"]["image"]
    assert config["network"] == compose["networks"]["default"]["name"]
    assert config["container_kwargs"]["volumes"] == ["glyph-data:/data"]
    env = dict(item.split("=", 1) for item in config["env_vars"])
    assert env["GLYPH_DATABASE_URL"] == services["daemon"]["environment"]["GLYPH_DATABASE_URL"]
    assert env["GLYPH_DATA_DIR"] == "/data"


def test_compose_password_comes_from_the_environment() -> None:
    services = _compose("docker-compose.yml", env={"GLYPH_PG_PASSWORD": "s3cret"})["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "s3cret"
    assert ":s3cret@postgres:" in services["api"]["environment"]["GLYPH_DATABASE_URL"]


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()))
    out = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def test_dockerfile_installs_from_the_lock_and_runs_unprivileged() -> None:
    steps = _dockerfile()
    base = [rest for op, rest in steps if op == "FROM"]
    python = _pyproject()["project"]["requires-python"]
    assert base == ["python:3.11-slim-bookworm"] and ">=3.11" in python
    for op, rest in steps:
        if op == "COPY":
            *sources, _target = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY source {source} missing"
    runs = " ".join(rest for op, rest in steps if op == "RUN")
    assert "-c requirements.lock" in runs and "--extra deploy" in runs
    assert "deploy" in _pyproject()["project"]["optional-dependencies"]
    users = [rest for op, rest in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    exposed = {int(p) for op, rest in steps if op == "EXPOSE" for p in rest.split()}
    assert {4266, 3000, 8000} <= exposed
    (entrypoint,) = [rest for op, rest in steps if op == "ENTRYPOINT"]
    script = DEPLOY / "entrypoint.sh"
    assert "/opt/glyph/deploy/entrypoint.sh" in entrypoint
    assert os.access(script, os.X_OK)
    assert "python -m glyph_assets.tooling.dagster_instance" in script.read_text()


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = set((DEPLOY / "Dockerfile.dockerignore").read_text().split())
    assert {".venv", ".dagster", "data/landing", "data/warehouse", ".env"} <= ignored


def _helm() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def test_helm_values_use_k8s_run_launcher_and_external_postgres() -> None:
    values = _helm()
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert set(launcher["config"]) == {"k8sRunLauncher"}
    k8s = launcher["config"]["k8sRunLauncher"]
    mounts = {m["name"]: m["mountPath"] for m in k8s["volumeMounts"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in k8s["volumes"]}
    assert mounts == {"glyph-data": "/data"} and claims == {"glyph-data": "glyph-data"}

    postgres = values["postgresql"]
    assert postgres["enabled"] is False and postgres["postgresqlHost"]
    assert postgres["postgresqlDatabase"] == "dagster"
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]

    queue = values["dagsterDaemon"]["runCoordinator"]
    assert queue["enabled"] and queue["type"] == "QueuedRunCoordinator"
    assert queue["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] > 1


def test_helm_code_location_matches_the_project_and_the_api_manifest() -> None:
    values = _helm()
    dagster = _pyproject()["tool"]["dagster"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["name"] == dagster["code_location_name"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("-m") + 1] == dagster["module_name"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    mounts = {m["mountPath"] for m in deployment["volumeMounts"]}
    assert env["GLYPH_DATA_DIR"] in mounts

    documents = list(yaml.safe_load_all((DEPLOY / "k8s" / "glyph-api.yaml").read_text()))
    kinds = {d["kind"]: d for d in documents}
    assert set(kinds) == {"PersistentVolumeClaim", "Deployment", "Service"}
    assert kinds["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    claim = kinds["PersistentVolumeClaim"]["metadata"]["name"]
    assert {v["persistentVolumeClaim"]["claimName"] for v in deployment["volumes"]} == {claim}
    (container,) = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    api_env = {e["name"]: e["value"] for e in container["env"]}
    assert api_env["GLYPH_DAGSTER_LOCATION"] == deployment["name"]
    assert api_env["GLYPH_DATA_DIR"] == env["GLYPH_DATA_DIR"]
    assert container["image"].rsplit(":", 1) == [
        deployment["image"]["repository"],
        deployment["image"]["tag"],
    ]
    _settings_from({k: v for k, v in api_env.items() if k.startswith("GLYPH_")})


def test_compose_workers_take_the_steps_the_runs_send_over_rabbitmq() -> None:
    services = _compose("docker-compose.yml")["services"]
    worker = services["worker"]
    assert _command(worker)[-3:] == ["worker", "--concurrency", "1"]
    assert int(worker["deploy"]["replicas"]) == 2
    assert "glyph-data:/data" in worker["volumes"]
    rabbit = services["rabbitmq"]["environment"]
    sent = _settings_from(services["code-server"]["environment"])
    taken = _settings_from(worker["environment"])
    assert sent.executor == taken.executor == "celery"
    assert sent.celery_broker_url == taken.celery_broker_url
    assert sent.celery_broker_url.startswith(
        f"pyamqp://{rabbit['RABBITMQ_DEFAULT_USER']}:{rabbit['RABBITMQ_DEFAULT_PASS']}@rabbitmq:"
    )
    assert sent.celery_queue == taken.celery_queue
    assert sent.dagster_postgres_url == taken.dagster_postgres_url  # workers reach the instance


def test_k8s_workers_share_the_code_locations_settings_and_volume() -> None:
    values = _helm()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["rabbitmq"]["enabled"] is True
    location_env = {e["name"]: e["value"] for e in deployment["env"]}
    (manifest,) = yaml.safe_load_all((DEPLOY / "k8s" / "glyph-worker.yaml").read_text())
    spec = manifest["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["command"][-3:-1] == ["worker", "--concurrency"]
    worker_env = {e["name"]: e["value"] for e in container["env"]}
    for name in ("GLYPH_EXECUTOR", "GLYPH_CELERY_QUEUE", "GLYPH_DATA_DIR"):
        assert worker_env[name] == location_env[name], name
    assert {v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]} == {"glyph-data"}
    assert container["image"].rsplit(":", 1) == [
        deployment["image"]["repository"],
        deployment["image"]["tag"],
    ]
