"""The console's pages; each gathers what the JSON routes answer and renders one template."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt

from glyph_assets.store.status import ACTIVE_STATUSES, RETRYABLE_STATUSES
from glyphd_api import service
from glyphd_api.deps import ContextDep
from glyphd_api.errors import ApiError
from glyphd_api.report import build_report
from glyphd_api.routes.common import Offset
from glyphd_api.routes.import_rows import errors_page, listing_page
from glyphd_api.routes.imports import imports_page
from glyphd_api.routes.listing_query import ListingQuery, ListingsAcrossImports, next_after_index
from glyphd_api.routes.listings import find_listings
from glyphd_api.routes.models import market_models
from glyphd_api.routes.prices import model_price_history
from glyphd_api.security import TOKEN_COOKIE, console_reads_allowed

HERE = Path(__file__).parent
STATIC_PATH = "/static"
PAGE_SIZE = 50
# Columns of a listing table: (column, heading); the sorts offered are the API's.
LISTING_COLUMNS = [
    ("import_index", "#"),
    ("title", "Title"),
    ("canonical_model", "Model"),
    ("price", "Price"),
    ("currency", "Cur."),
    ("score", "Score"),
    ("vendor", "Vendor"),
    ("vram_gb", "VRAM GB"),
    ("reject_reason", "Rejected as"),
]
SORTS = [
    ("import_index", "Import order"),
    ("-score", "Score, best first"),
    ("score", "Score, worst first"),
    ("price", "Price, lowest first"),
    ("-price", "Price, highest first"),
    ("canonical_model", "Model"),
    ("-vram_gb", "VRAM, largest first"),
    ("-match_score", "Match score, best first"),
]


def query_string(params: Any, **changes: Any) -> str:
    """The page's own query with ``changes`` (None drops a parameter): the links that page
    through a table keep its filters."""
    pairs = [(k, v) for k, v in params.multi_items() if k not in changes and v != ""]
    pairs += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urlencode(pairs)


def script_json(value: Any) -> str:
    """JSON to embed in a ``<script type="application/json">``: no ``<`` that could close it."""
    return json.dumps(value).replace("<", "\\u003c")


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    static=STATIC_PATH, listing_columns=LISTING_COLUMNS, sorts=SORTS, qs=query_string
)
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def install_console(app: FastAPI) -> None:
    """Serve the pages at the root and their files under ``/static``."""
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="console-static")


def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    settings = request.app.state.settings
    context.setdefault("token_cookie", TOKEN_COOKIE)
    context.setdefault("token_needed", bool(settings.api_token))
    context.setdefault("dagster_ui", f"http://{settings.dagster_host}:{settings.dagster_port}")
    return templates.TemplateResponse(request, template, context, status_code=status)


def _error_page(request: Request, status: int, message: str, problems: list[str]) -> Response:
    return _render(request, "error.html", status, code=status, message=message, problems=problems)


def _drop_empty_fields(request: Request) -> None:
    """A form sends its empty fields too (``min_score=``): on a page they mean "no filter", as
    an absent parameter does in the API, so they are dropped before the query is read."""
    raw = request.scope.get("query_string", b"")
    if raw:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
        request.scope["query_string"] = urlencode([(k, v) for k, v in pairs if v]).encode()


class ConsoleRoute(APIRoute):
    """A page route: an error the API would answer as JSON (an unknown import, a filter out of
    range, an unknown parameter) is shown as a page with the same status and every problem."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            _drop_empty_fields(request)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problems = [
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
                    for e in exc.errors()
                ]
                return _error_page(request, 422, "the request is not valid", problems)
            except ApiError as exc:
                return _error_page(request, exc.status, exc.message, exc.problems)

        return page


router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


def _page(request: Request, template: str, build: Callable[[], dict[str, Any]]) -> Response:
    """Render ``template`` with what ``build()`` gathers, once the reader may see it."""
    settings = request.app.state.settings
    if not console_reads_allowed(
        settings, request.headers.get("authorization"), request.cookies.get(TOKEN_COOKIE, "")
    ):
        message = "This server asks for its API token on reads: enter it above."
        return _error_page(request, 401, message, [])
    return _render(request, template, **build())


@router.get("/", response_class=HTMLResponse)
def imports_view(request: Request, ctx: ContextDep, offset: Offset = 0) -> Response:
    def build() -> dict[str, Any]:
        page = imports_page(ctx, limit=PAGE_SIZE, offset=offset)
        return {"page": page, "active": [s.value for s in ACTIVE_STATUSES]}

    return _page(request, "imports.html", build)


@router.get("/imports/{import_id}", response_class=HTMLResponse)
def import_view(
    request: Request,
    import_id: str,
    ctx: ContextDep,
    query: Annotated[ListingQuery, Query()],
    errors_offset: Offset = 0,
) -> Response:
    def build() -> dict[str, Any]:
        summary = service.build_summary(ctx, service.load_state(ctx, import_id))
        row_errors = errors_page(ctx, import_id, limit=PAGE_SIZE, offset=errors_offset)
        items, total = listing_page(ctx, import_id, query)
        return {
            "summary": summary,
            "row_errors": row_errors,
            "listings": items,
            "total": total,
            "query": query,
            "next_after": next_after_index(query, items),
            "filters": request.query_params,
            "active": summary.status in ACTIVE_STATUSES,
            "retryable": summary.status in RETRYABLE_STATUSES,
            "latest_run": summary.runs[-1] if summary.runs else None,
        }

    return _page(request, "import.html", build)


@router.get("/models", response_class=HTMLResponse)
def models_view(
    request: Request,
    ctx: ContextDep,
    currency: Annotated[str, Query(min_length=3, max_length=8)] = "USD",
) -> Response:
    return _page(
        request,
        "models.html",
        lambda: {"models": market_models(ctx, currency), "currency": currency.upper()},
    )


@router.get("/models/{canonical_model}", response_class=HTMLResponse)
def model_view(
    request: Request, canonical_model: str, ctx: ContextDep, offset: Offset = 0
) -> Response:
    def build() -> dict[str, Any]:
        history = model_price_history(ctx, canonical_model)
        figures = [
            m for m in market_models(ctx, listed_only=False) if m.canonical_model == canonical_model
        ]
        if not figures and not history.points:
            raise ApiError(404, f"no model {canonical_model}", code="model_not_found")
        query = ListingsAcrossImports(
            canonical_model=[canonical_model], sort="-score", limit=PAGE_SIZE, offset=offset
        )
        page = find_listings(ctx, query)
        return {
            "model": figures[0] if figures else None,
            "canonical_model": canonical_model,
            "history": history,
            "history_json": script_json(history.model_dump(mode="json")["points"]),
            "listings": page.items,
            "total": page.total,
            "total_exact": page.exact,
            "offset": offset,
        }

    return _page(request, "model.html", build)


@router.get("/report", response_class=HTMLResponse)
def report_view(request: Request, ctx: ContextDep) -> Response:
    def build() -> dict[str, Any]:
        report = build_report(ctx)
        return {"report": report, "report_html": _markdown.render(report.markdown)}

    return _page(request, "report.html", build)
