"""Pieces shared by the routers: error responses for the OpenAPI document, JSON answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import orjson
from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from pydantic import BaseModel

from glyph_assets.store.pages import BadQuery, BadSort
from glyphd_api.errors import ApiError
from glyphd_api.schemas import ErrorResponse

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000


def errors(*codes: int, database: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer with (all one shape); every
    route that reads the database may answer 503 when it is unreachable."""
    wanted = sorted({*codes, 503} if database else set(codes))
    return {code: {"model": ErrorResponse} for code in wanted}


def sort_pattern(names: Iterable[str]) -> str:
    """The sorts a list accepts, as a pattern the OpenAPI document carries (``-`` descending,
    several comma-separated): a client can see every valid value before sending one."""
    one = "[-+]?(?:" + "|".join(sorted(names)) + ")"
    return f"^{one}(?:,{one})*$"


def sort_query(names: Iterable[str], description: str) -> Any:
    """A list's ``sort`` query parameter, its valid values in the OpenAPI document."""
    return Query(description=description, pattern=sort_pattern(names))


def bare_array(items: list[Any], headers: dict[str, str] | None = None) -> Response:
    """An established answer: a bare JSON array (orjson, no second validation pass), what glyph
    adds to it in headers (``X-Total-Count``, ``Link``)."""
    return Response(orjson.dumps(items), media_type="application/json", headers=headers)


def answer(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    """The model serialized by pydantic-core in one step (NaN and infinities as null), returned
    as a finished response so FastAPI does not validate and encode it a second time."""
    return Response(
        model.model_dump_json(),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def limit_param() -> Any:
    return Query(ge=1, le=MAX_LIMIT, description=f"Page size (1 to {MAX_LIMIT})")


def offset_param() -> Any:
    return Query(ge=0, le=MAX_OFFSET, description=f"Items to skip (0 to {MAX_OFFSET})")


# A page's window as every list declares it (each route sets its own default).
Limit = Annotated[int, limit_param()]
Offset = Annotated[int, offset_param()]


def sorted_page(call: Any) -> Any:
    """Run a query; an unknown sort field or an unusable filter is the client's mistake (422)."""
    try:
        return call()
    except BadSort as exc:
        raise ApiError(422, str(exc), code="invalid_sort") from exc
    except BadQuery as exc:
        raise ApiError(422, str(exc), code="invalid_request") from exc


_KNOWN_QUERY: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter name a route declares, through its dependencies and query models."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        for param in current.query_params:
            annotation = param.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                # A query model's fields are the parameters; its own name is none.
                for name, info in annotation.model_fields.items():
                    names.add(info.alias or name)
            else:
                names.add(param.alias)
        stack.extend(current.dependencies)
    return frozenset(names)


def reject_unknown_query(request: Request) -> None:
    """A query parameter the endpoint does not know is a 422 naming it: a typo such as
    ``canonical_modle`` must not silently return every row as if no filter had been asked."""
    given = request.query_params
    if not given:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _KNOWN_QUERY.get(id(route))
    if known is None:
        known = _KNOWN_QUERY[id(route)] = _query_names(dependant)
    unknown = sorted({name for name in given if name not in known})
    if unknown:
        raise ApiError(
            422,
            "unknown query parameter" + ("s " if len(unknown) > 1 else " ") + ", ".join(unknown),
            code="unknown_parameter",
            problems=[f"{name}: not a parameter of this endpoint" for name in unknown],
            details={"unknown": unknown, "known": sorted(known)},
        )
