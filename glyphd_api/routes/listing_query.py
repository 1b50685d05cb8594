"""The listing filters and paging shared by ``/api/listings`` and an import's listings, and the
one serializer of a listing page."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field

from glyph_assets.store import pages
from glyphd_api.errors import ApiError
from glyphd_api.routes.common import Limit, Offset, sort_pattern
from glyphd_api.schemas import SCHEMA_VERSION

# The parameters that filter as they are given (the models and the import are resolved first).
FILTERS = ("min_score", "max_score", "min_price", "max_price", "is_gpu", "vendor", "reject_reason")


class ListingQuery(BaseModel):
    """Filters shared by /api/listings and /api/imports/{id}/listings, as one query-parameter
    model: FastAPI validates it in one pydantic pass instead of twelve (the import page is the
    API's hottest read). A parameter it does not know is a 422 (``reject_unknown_query``)."""

    canonical_model: list[str] | None = Field(
        None, description="Exact canonical_model (repeat for several)"
    )
    model: list[str] | None = Field(None, description="The same as canonical_model (its alias)")
    min_score: float | None = Field(None, ge=0, le=100)
    max_score: float | None = Field(None, ge=0, le=100)
    min_price: float | None = Field(None, allow_inf_nan=False)
    max_price: float | None = Field(None, allow_inf_nan=False)
    is_gpu: bool | None = None
    vendor: str | None = None
    reject_reason: str | None = None
    sort: str = Field(
        "import_index",
        description="import_index, score, price, canonical_model, match_score or vram_gb; "
        "'-' for descending; comma-separated for several",
        pattern=sort_pattern(pages.LISTING_SORTS),
    )
    limit: Limit = 50
    offset: Offset = 0
    after_index: int | None = Field(
        None,
        ge=-1,
        le=2**31 - 1,  # import_index is a 32-bit INTEGER column
        description="Keyset paging of one import (sort=import_index): only listings after this "
        "import_index; the previous page's next_after_index",
    )

    def filters(
        self, import_id: str | None, models: list[str] | None = None
    ) -> pages.ListingFilters:
        low, high = self.min_price, self.max_price
        if low is not None and high is not None and low > high:
            raise ApiError(
                422, "min_price cannot be greater than max_price", code="invalid_request"
            )
        if models is None:
            models = [*(self.canonical_model or []), *(self.model or [])]
        given = {name: getattr(self, name) for name in FILTERS}
        return pages.ListingFilters(import_id=import_id, models=models or None, **given)

    def window(self) -> pages.ListingWindow:
        """Order and page of the answer, as the query functions take them."""
        return pages.ListingWindow(self.sort, self.limit, self.offset, self.after_index)


class ListingsAcrossImports(ListingQuery):
    """/api/listings: glyph's filters, the import, and the established glyphd filters (its
    fuzzy ``model``, ``quantized``, ``limit`` 100 by default)."""

    import_id: str | None = Field(None, max_length=36)
    model: list[str] | None = Field(
        None,
        description="The established fuzzy filter: the closest canonical model id among the "
        "listed ones (exact when an id is given); canonical_model is always exact",
    )
    quantized: bool | None = Field(None, description="MIG-capable listings (mig_support > 0)")
    min_price: float | None = Field(None, ge=0, allow_inf_nan=False)
    max_price: float | None = Field(None, ge=0, allow_inf_nan=False)
    limit: Limit = 100


def next_after_index(query: ListingQuery, items: list[dict[str, Any]]) -> int | None:
    """The keyset to continue a full page sorted by import_index with (None: no such page)."""
    keyset = query.sort.strip() in ("import_index", "+import_index")
    full = keyset and len(items) == query.limit and bool(items)
    return items[-1]["import_index"] if full else None


def listing_page_json(items: list[dict[str, Any]], **window: Any) -> bytes:
    """The API's hottest answer, serialized by orjson without a validation pass: the rows come
    from the listings table whose column types ListingOut mirrors one for one (a unit test holds
    the two equal); validating 100 rows cost more than the query, and orjson writes them in a
    third of pydantic-core's time. NaN and infinities become null, as in every other answer."""
    return orjson.dumps({"schema_version": SCHEMA_VERSION, "items": items, **window})
