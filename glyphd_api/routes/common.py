"""Pieces shared by the routers: error responses for the OpenAPI document, JSON answers."""

from __future__ import annotations

from typing import Any

from fastapi import Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from glyphd_api.errors import ApiError
from glyphd_api.queries import BadSort
from glyphd_api.schemas import ErrorResponse

MAX_LIMIT = 1000


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer with (all one shape)."""
    return {code: {"model": ErrorResponse} for code in codes}


def answer(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


def limit_param() -> Any:
    return Query(ge=1, le=MAX_LIMIT, description=f"Page size (1 to {MAX_LIMIT})")


def offset_param() -> Any:
    return Query(ge=0, description="Items to skip")


def sorted_page(call: Any) -> Any:
    """Run a query; an unknown sort field is the client's mistake (422), not a crash."""
    try:
        return call()
    except BadSort as exc:
        raise ApiError(422, str(exc), code="invalid_sort") from exc
