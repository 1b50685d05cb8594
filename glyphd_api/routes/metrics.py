"""``GET /metrics`` for Prometheus (see ``glyphd_api.metrics`` for where each figure comes from)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from glyphd_api.deps import ContextDep
from glyphd_api.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(ctx: ContextDep) -> Response:
    """Prometheus text format; the database is read in a worker thread."""
    body, content_type = await run_in_threadpool(exposition, ctx.engine)
    return Response(body, media_type=content_type)
