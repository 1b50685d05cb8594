"""Schema versions: which ones this service speaks and how a client asks for one.

glyph's own paths speak schema ``SCHEMA_VERSION`` (every answer says so in ``schema_version``
and the ``X-Glyph-Schema-Version`` header; a request carrying that header with a version glyph
does not speak is refused with 406). The established glyphd paths answer in the established
shapes, whose DTOs carry ``schema_version`` ``v1.1`` (``v1.0`` rows are read the same way).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from glyphd_api.routes.common import answer, errors
from glyphd_api.schemas import (
    ESTABLISHED_SCHEMA_VERSION,
    ESTABLISHED_SCHEMA_VERSIONS,
    SCHEMA_VERSION,
    EstablishedVersionCheck,
    EstablishedVersions,
    SchemaVersions,
)

# Answered from constants: a refused token (401) is the only error, the database is not read.
router = APIRouter(tags=["schema"], responses=errors(401, database=False))
SUPPORTED_VERSIONS = (SCHEMA_VERSION,)
REQUEST_HEADER = "X-Glyph-Schema-Version"


# What this service speaks is fixed when it starts: the two version reads hand out one answer.
VERSIONS = SchemaVersions(
    current_version=SCHEMA_VERSION,
    supported_versions=list(SUPPORTED_VERSIONS),
    established_versions=list(ESTABLISHED_SCHEMA_VERSIONS),
    established_default_version=ESTABLISHED_SCHEMA_VERSION,
    how_to_ask=(
        f"Send the header '{REQUEST_HEADER}: <version>' with any request: a version "
        "this service does not speak answers 406 with the supported ones. Every answer "
        f"carries its version in 'schema_version' and in the {REQUEST_HEADER} header. "
        "The established glyphd paths (/api/persist/listings, /api/import/csv, "
        "/api/imports/from-pipeline) answer ImportResultDTO with schema_version "
        f"'{ESTABLISHED_SCHEMA_VERSION}'; see /api/schema/versions."
    ),
)
ESTABLISHED_VERSIONS = EstablishedVersions(
    supported_versions=list(ESTABLISHED_SCHEMA_VERSIONS),
    default_version=ESTABLISHED_SCHEMA_VERSION,
    current_version=ESTABLISHED_SCHEMA_VERSION,
)


@router.get(
    "/api/schema-version",
    response_model=SchemaVersions,
    summary="The schema versions this service speaks, and how a client asks for one",
)
def schema_version() -> Any:
    return answer(VERSIONS)


@router.get(
    "/api/schema/versions",
    response_model=EstablishedVersions,
    summary="The established glyphd schema versions (its SchemaVersionInfo)",
)
def established_versions() -> Any:
    return ESTABLISHED_VERSIONS


@router.get(
    "/api/schema/versions/{version}",
    response_model=EstablishedVersionCheck,
    summary="Is this established schema version supported (always 200, as established)",
)
def established_version(version: str) -> Any:
    supported = version in ESTABLISHED_SCHEMA_VERSIONS
    return EstablishedVersionCheck(
        version=version,
        supported=supported,
        message=f"Schema version '{version}' is {'supported' if supported else 'not supported'}",
        supported_versions=None if supported else list(ESTABLISHED_SCHEMA_VERSIONS),
    )
