"""Schemathesis against the API's own OpenAPI document: no 5xx, no answer outside its schema.

A second, smaller run has Dagster unreachable: there every answer is 4xx or 503, never 500.

The app runs in-process (ASGI) with the running stack's settings, so every call reaches the real
database and the real Dagster; run config passthrough is off, as on a production server.
Bounded: 50 generated examples per operation (positive and negative), no coverage phase, and a
pytest timeout.

Checks: server errors, status codes, content types, response schemas and headers, and that
schema-valid requests are accepted. A schema-valid upload may still be refused for its content
(422 no title column, 413, 415) or its state (409), which the schema cannot express; those
statuses count as accepted. ``negative_data_rejection`` is off: every query value is a string,
so a "number where a string belongs" cannot be told apart from a string, and repeated scalar
query parameters are accepted (the last one wins) as in any FastAPI app.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from glyph_assets.settings import Settings
from glyphd_api.app import create_app
from tests.support.stack import RunningStack, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

MAX_EXAMPLES = 50
ACCEPTED_STATUSES = ["2xx", "401", "403", "404", "409", "413", "415", "422"]


def _config(max_examples: int, **checks: dict[str, Any]) -> Any:
    return schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": max_examples, "mode": "all"},
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
            "checks": {
                "negative_data_rejection": {"enabled": False},
                "positive_data_acceptance": {"expected-statuses": ACCEPTED_STATUSES},
                **checks,
            },
        }
    )


@pytest.fixture(scope="module")
def app_schema(running_stack: RunningStack) -> Any:
    settings = running_stack.settings.model_copy(update={"allow_run_config": False})
    app = create_app(settings)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(MAX_EXAMPLES))


@pytest.fixture(scope="module")
def app_without_dagster_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Dagster unreachable (nothing listens on its port): answers are 503, never 500 or 502."""
    root = tmp_path_factory.mktemp("no-dagster")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=root / "data",
        pipeline_root=root / "pipeline",
        dagster_port=free_port(),
    )
    app = create_app(settings)
    config = _config(
        15,
        not_a_server_error={"expected-statuses": ["2xx", "3xx", "4xx", "503"]},
        positive_data_acceptance={"expected-statuses": [*ACCEPTED_STATUSES, "503"]},
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("app_schema")
schema_without_dagster = schemathesis.pytest.from_fixture("app_without_dagster_schema")


# Established paths answer when the run is done unless told wait=false.
SYNCHRONOUS_PATHS = {"/api/persist/listings", "/api/import/csv", "/api/imports/from-pipeline"}


def no_waiting(case: Any) -> Any:
    """wait=true holds the request until a real run ends; schemathesis is not the judge of run
    time (the other suites are), so a generated wait is dropped, and the established paths,
    synchronous by default, are asked to answer at once."""
    if (case.query and "wait" in case.query) or case.path in SYNCHRONOUS_PATHS:
        case.query = {**(case.query or {}), "wait": False}
    return case


@schema.parametrize()
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    no_waiting(case).call_and_validate()


@schema_without_dagster.parametrize()
def test_api_without_dagster_answers_503_not_500(case: Any) -> None:
    no_waiting(case).call_and_validate()
