"""Health: which of the stack's components is up, and which versions.

``database`` and ``dagster`` (the webserver's GraphQL) are the established fields; ``components``
has every component, those two plus the code server and the daemon, and ``down`` names the ones
that are not ok. Under the supervisor (``glyph dev``/``glyph up``) a process's death is seen at
once from its state file; otherwise the code server is probed on its port and the daemon by its
heartbeats in the instance (Dagster's own ``healthy`` flag tolerates a silent daemon for a long
time, so a heartbeat older than ``DAEMON_HEARTBEAT_MAX_AGE`` counts as down).
"""

from __future__ import annotations

import platform
import socket
import time
from importlib import metadata
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from glyph_assets.settings import Settings
from glyph_assets.store.health import ping
from glyphd_api.dagster_client import DagsterError, DagsterGateway, DagsterUnavailable
from glyphd_api.deps import settings_of
from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import SCHEMA_VERSION, ComponentHealth, Health

router = APIRouter(tags=["health"])


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _database(settings: Settings) -> ComponentHealth:
    found = ping(settings.sqlalchemy_url)
    if found.ok:
        return ComponentHealth(ok=True, version=found.revision, detail=found.dialect)
    return ComponentHealth(ok=False, detail=(found.error or "unreachable")[:300])


def _unknown(reason: str) -> ComponentHealth:
    return ComponentHealth(ok=False, detail=f"not checked: {reason}")


def _dagster(settings: Settings) -> ComponentHealth:
    gateway = DagsterGateway(settings, timeout=5)
    try:
        return ComponentHealth(ok=True, version=gateway.version(), url=gateway.base_url)
    except (DagsterUnavailable, DagsterError) as exc:
        return ComponentHealth(ok=False, detail=str(exc)[:300], url=gateway.base_url)


DAEMON_HEARTBEAT_MAX_AGE = 90.0  # seconds: three of the daemon's 30 s heartbeat intervals
_DAEMONS = """
query GlyphDaemons {
  instance { daemonHealth { allDaemonStatuses { daemonType required healthy lastHeartbeatTime } } }
}
"""


def _supervised() -> dict[str, Any] | None:
    """The supervisor's view of its children, when this API runs under one."""
    from glyph_assets.stack_state import read_state

    state = read_state()
    return state if state and state.get("children") else None


def _process(state: dict[str, Any], name: str) -> ComponentHealth | None:
    from glyph_assets.stack_state import alive

    child = state["children"].get(name)
    if child is None:
        return None
    restarts = child.get("restarts", 0)
    if alive(int(child["pid"])):
        return ComponentHealth(ok=True, detail=f"pid {child['pid']}, restarts {restarts}")
    return ComponentHealth(
        ok=False, detail=f"process {child['pid']} exited; the supervisor restarts it"
    )


def _code_server(settings: Settings, state: dict[str, Any] | None) -> ComponentHealth:
    port = (state or {}).get("code_server_port") or settings.code_server_port
    url = f"grpc://{settings.dagster_host}:{port}" if port else None
    seen = _process(state, "code-server") if state else None
    if seen is not None and not seen.ok:
        return seen.model_copy(update={"url": url})
    if not port:
        return ComponentHealth(ok=True, detail="port not known here; not probed")
    with socket.socket() as sock:
        sock.settimeout(1.0)
        if sock.connect_ex((settings.dagster_host, int(port))) != 0:
            return ComponentHealth(ok=False, detail="its port does not accept connections", url=url)
    return ComponentHealth(ok=True, detail=seen.detail if seen else None, url=url)


def _daemon(settings: Settings, state: dict[str, Any] | None) -> ComponentHealth:
    seen = _process(state, "daemon") if state else None
    if seen is not None and not seen.ok:
        return seen
    try:
        result = DagsterGateway(settings, timeout=5).execute(_DAEMONS)
    except (DagsterUnavailable, DagsterError) as exc:
        return ComponentHealth(ok=False, detail=f"heartbeats unknown: {exc}"[:300])
    statuses = result["instance"]["daemonHealth"]["allDaemonStatuses"]
    now = time.time()
    stale = [
        s["daemonType"]
        for s in statuses
        if s["required"]
        and (not s["healthy"] or now - (s["lastHeartbeatTime"] or 0) > DAEMON_HEARTBEAT_MAX_AGE)
    ]
    if stale:
        return ComponentHealth(ok=False, detail=f"no recent heartbeat: {', '.join(sorted(stale))}")
    return seen or ComponentHealth(ok=True, detail=f"{len(statuses)} daemons heartbeating")


@router.get(
    "/api/health",
    response_model=Health,
    summary="Each component's state (database, Dagster webserver, code server, daemon), "
    "naming those that are down, with versions (503 when degraded)",
    responses={
        503: {"model": Health, "description": "A dependency is unreachable"},
        **errors(500, database=False),
    },
)
def health(settings: Annotated[Settings, Depends(settings_of)]) -> Any:
    database = _database(settings)
    dagster = _dagster(settings)
    state = _supervised()
    components = {
        "database": database,
        "dagster": dagster,
        "code_server": _code_server(settings, state),
        "daemon": _daemon(settings, state) if dagster.ok else _unknown("the webserver is down"),
    }
    down = [name for name, component in components.items() if not component.ok]
    ok = not down
    body = Health(
        status="ok" if ok else "degraded",
        database=database,
        dagster=dagster,
        components=components,
        down=down,
        versions={
            "glyph": _version("glyph"),
            "api_schema": SCHEMA_VERSION,
            "dagster_graphql": _version("dagster-graphql"),
            "fastapi": _version("fastapi"),
            "python": platform.python_version(),
        },
    )
    return answer(body, 200 if ok else 503)
