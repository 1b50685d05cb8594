"""What every upload route declares: the fields a client may give as query parameters, how it
asks to be answered, and the request bodies and answers the OpenAPI document shows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query

from glyph_assets.sieve.scored import DTO_REQUIRED
from glyphd_api.routes.common import errors
from glyphd_api.schemas import ImportAccepted, ImportResult, JsonImportRequest, ScoreScaleName
from glyphd_api.uploads import Submission

_FORM_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "source": {"type": "string", "maxLength": 200, "default": "api"},
        "description": {"type": "string"},
        "kind": {"type": "string", "enum": ["raw", "scored"]},
        "score_scale": {
            "type": "string",
            "enum": ["0-100", "0-1"],
            "description": "Scored rows: the scale of their score",
        },
        "campaign_id": {"type": "string"},
        "metadata": {"type": "string", "description": "A JSON object, kept with the import"},
        "run_config": {
            "type": "string",
            "description": "Dagster run config as JSON (only when the server allows it)",
        },
        "file": {
            "type": "string",
            "format": "binary",
            "description": "CSV, TSV or JSON; send it after the other fields",
        },
    },
}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "A multipart form with the file (fields before the file), a JSON body with "
            "`listings`, or the CSV/TSV itself as the body (fields as query parameters)."
        ),
        "content": {
            "multipart/form-data": {"schema": _FORM_SCHEMA},
            "application/json": {
                "schema": JsonImportRequest.model_json_schema(
                    ref_template="#/components/schemas/{model}"
                )
            },
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "text/tab-separated-values": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
UPLOAD_ERRORS = errors(400, 401, 403, 409, 413, 415, 422, 502, 503, 507)
# The established paths answer when the import is done (or 202 when asked to, or late).
ESTABLISHED_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": ImportResult, "description": "The finished import (ImportResultDTO)"},
    202: {"model": ImportAccepted, "description": "wait=false, or not done in time"},
}
# /api/persist/listings: a bare array of the established GPUListingDTO.
PERSIST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": list(DTO_REQUIRED),
                        "properties": {
                            "canonical_model": {"type": "string"},
                            "vram_gb": {"type": "integer"},
                            "mig_support": {"type": "integer", "minimum": 0, "maximum": 7},
                            "nvlink": {"type": "boolean"},
                            "tdp_watts": {"type": "integer"},
                            "price": {"type": "number"},
                            "score": {"type": "number"},
                            "import_id": {"type": "string"},
                            "import_index": {"type": "integer"},
                        },
                    },
                },
                "example": [
                    {
                        "canonical_model": "H100_PCIE_80GB",
                        "vram_gb": 80,
                        "mig_support": 7,
                        "nvlink": False,
                        "tdp_watts": 350,
                        "price": 27450.0,
                        "score": 0.92,
                    }
                ],
            }
        },
    }
}


class Fields:
    """Query parameters that describe an upload (form fields or JSON keys take precedence)."""

    def __init__(
        self,
        source: Annotated[str, Query(min_length=1, max_length=200)] = "api",
        description: Annotated[str | None, Query(max_length=10_000)] = None,
        kind: Annotated[str | None, Query(pattern="^(raw|scored)$")] = None,
        campaign_id: Annotated[str | None, Query(max_length=200)] = None,
        filename: Annotated[
            str | None, Query(max_length=500, description="Name of a raw-body upload")
        ] = None,
        score_scale: Annotated[
            ScoreScaleName | None,
            Query(
                description="Scored rows: the scale of their score (0-100 default; an "
                "undeclared import whose every score is within [0, 1.5] is read as 0-1, "
                "with a warning). The client's score is stored as sent either way"
            ),
        ] = None,
    ) -> None:
        self.submission = Submission(
            source=source,
            description=description,
            kind=kind,
            campaign_id=campaign_id,
            filename=filename,
            score_scale=score_scale,
        )


WaitParam = Annotated[bool, Query(description="Answer with the final summary (200) when done")]
SyncParam = Annotated[
    bool,
    Query(
        description="Established paths answer when the import is done (200, ImportResultDTO); "
        "wait=false (or the header Prefer: respond-async) answers 202 at once"
    ),
]
SyncTimeout = Annotated[
    float, Query(ge=0, le=3600, description="Seconds to wait before answering 202 instead")
]
PreferHeader = Annotated[
    str | None, Header(alias="Prefer", description="respond-async: answer 202 at once")
]


class Synchronous:
    """How an established path answers: when the import is done (its clients' expectation),
    unless ``wait=false`` or ``Prefer: respond-async`` ask for the 202 at once (RFC 7240)."""

    def __init__(
        self, wait: SyncParam = True, timeout: SyncTimeout = 600.0, prefer: PreferHeader = None
    ) -> None:
        self.wait = wait and not (prefer is not None and "respond-async" in prefer.lower())
        self.timeout = timeout


TimeoutParam = Annotated[
    float, Query(ge=0, le=3600, description="Seconds to wait with wait=true before answering 202")
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a submission safely: the same key answers with the same import",
    ),
]


FieldsDep = Annotated[Fields, Depends()]
AnswerWhen = Annotated[Synchronous, Depends()]
