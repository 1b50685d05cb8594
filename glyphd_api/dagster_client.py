"""The only place in glyph that speaks GraphQL to Dagster.

``DagsterGraphQLClient`` is not thread-safe (one shared client failed 197 of 200 calls from 8
threads on this machine), so a ``DagsterGateway`` is created per request and never shared.
Dagster is the source of truth for run state; this module only translates its answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from glyph_assets import contract
from glyph_assets.contract import (
    ATTEMPT_TAG,
    IMPORT_TAG,
    IMPORTS_PARTITIONS_NAME,
    INGEST_JOB_NAME,
    PARTITION_TAG,
    RESUME_RETRY_TAG,
    SOURCE_TAG,
)
from glyph_assets.settings import Settings

REPOSITORY_NAME = "__repository__"
STAGES = list(contract.PIPELINE_STAGES)
RUN_TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


class DagsterUnavailable(RuntimeError):
    """Dagster's GraphQL endpoint could not be reached (or did not answer in time)."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def _unreachable(base_url: str, exc: BaseException) -> DagsterUnavailable:
    timed_out = isinstance(exc, requests.exceptions.Timeout)
    return DagsterUnavailable(f"Dagster at {base_url} is unreachable: {exc}", timed_out)


class DagsterError(RuntimeError):
    """Dagster answered, but with an error (kind is the GraphQL result type)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass
class StepStat:
    step_key: str
    status: str | None
    start_time: float | None
    end_time: float | None


@dataclass
class RunInfo:
    run_id: str
    status: str
    job_name: str
    tags: dict[str, str]
    creation_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    parent_run_id: str | None = None
    root_run_id: str | None = None
    step_keys_to_execute: list[str] | None = None
    step_stats: list[StepStat] = field(default_factory=list)

    @property
    def import_id(self) -> str | None:
        return contract.import_of(self.tags)

    @property
    def terminal(self) -> bool:
        return self.status in RUN_TERMINAL


@dataclass
class StageRows:
    done: int
    total: int | None


@dataclass
class RunEvents:
    """What the run's event log tells beyond its status: row progress and the failure."""

    progress: dict[str, StageRows] = field(default_factory=dict)
    last_stage: str | None = None
    # (step, its error) in the order they failed
    step_failures: list[tuple[str, str]] = field(default_factory=list)
    retry_errors: dict[str, str] = field(default_factory=dict)
    run_failure: str | None = None
    # step key -> the worker that last ran it (contract.worker_from_metadata)
    workers: dict[str, str] = field(default_factory=dict)

    @property
    def failure_message(self) -> str | None:
        """``step <name>: <error>``, by the rule the run-status sensors store too
        (``contract.failure_message``)."""
        return contract.failure_message(self.step_failures, self.retry_errors, self.run_failure)


def _metadata_values(entries: list[dict[str, Any]] | None) -> dict[str, object]:
    """An event's GraphQL ``metadataEntries`` (text and int entries) -> label -> value."""
    values: dict[str, object] = {}
    for entry in entries or []:
        value = entry.get("text", entry.get("intRepr"))
        if value is not None:
            values[entry["label"]] = value
    return values


def progress_event(entries: list[dict[str, Any]] | None) -> contract.ProgressEvent | None:
    """An event's GraphQL ``metadataEntries`` -> the stage's progress, when it is a progress
    event (``contract.progress_metadata`` wrote them: text and int entries)."""
    return contract.progress_from_metadata(_metadata_values(entries))


def to_datetime(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


_RUN_FIELDS = """
fragment GlyphRunFields on Run {
  runId status jobName creationTime startTime endTime parentRunId rootRunId
  stepKeysToExecute
  tags { key value }
  stepStats { stepKey status startTime endTime }
}
"""

_RUN_QUERY = """
query GlyphRun($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { ...GlyphRunFields }
    ... on Error { message }
  }
}
""" + _RUN_FIELDS

_RUNS_QUERY = """
query GlyphRuns($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { ...GlyphRunFields } }
    ... on Error { message }
  }
}
""" + _RUN_FIELDS

_LOGS_QUERY = """
query GlyphRunLogs($runId: ID!, $cursor: String, $limit: Int) {
  logsForRun(runId: $runId, afterCursor: $cursor, limit: $limit) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on ObservationEvent {
          metadataEntries {
            label
            ... on TextMetadataEntry { text }
            ... on IntMetadataEntry { intRepr }
          }
        }
        ... on EngineEvent { metadataEntries { label ... on TextMetadataEntry { text } } }
        ... on ExecutionStepFailureEvent { error { message cause { message } } }
        ... on ExecutionStepUpForRetryEvent { error { message cause { message } } }
        ... on RunFailureEvent { error { message } }
      }
    }
    ... on Error { message }
  }
}
"""

_ADD_PARTITION = """
mutation GlyphAddPartition(
  $selector: RepositorySelector!, $name: String!, $key: String!
) {
  addDynamicPartition(
    repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key
  ) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on Error { message }
  }
}
"""

_TERMINATE = """
mutation GlyphTerminate($runId: String!, $policy: TerminateRunPolicy) {
  terminateRun(runId: $runId, terminatePolicy: $policy) {
    __typename
    ... on TerminateRunSuccess { run { runId status } }
    ... on TerminateRunFailure { message }
    ... on Error { message }
  }
}
"""

_REEXECUTE = """
mutation GlyphReexecute(
  $reexecutionParams: ReexecutionParams, $executionParams: ExecutionParams
) {
  launchRunReexecution(
    reexecutionParams: $reexecutionParams, executionParams: $executionParams
  ) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on Error { message }
  }
}
"""


class DagsterGateway:
    """One request's conversation with Dagster's webserver (never share an instance)."""

    def __init__(self, settings: Settings, timeout: int = 60) -> None:
        self.settings = settings
        self.location = settings.dagster_location
        self.base_url = f"http://{settings.dagster_host}:{settings.dagster_port}"
        self._client = DagsterGraphQLClient(
            settings.dagster_host, port_number=settings.dagster_port, timeout=timeout
        )

    # -- plumbing -------------------------------------------------------------------------------
    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return self._client._execute(query, variables)
        except DagsterGraphQLClientError as exc:
            raise self._translate(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise _unreachable(self.base_url, exc) from exc

    def _translate(self, exc: DagsterGraphQLClientError) -> Exception:
        cause = exc.__cause__
        while cause is not None:
            if isinstance(cause, requests.exceptions.RequestException):
                return _unreachable(self.base_url, cause)
            cause = cause.__cause__
        kind = str(exc.args[0]) if exc.args else "DagsterGraphQLClientError"
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        return DagsterError(kind.splitlines()[0][:200], message[:2000])

    def limit_tags(self) -> dict[str, str]:
        """The processing-time limit every ingest run carries (GLYPH_MAX_RUN_SECONDS)."""
        return contract.runtime_limit_tags(self.settings.max_run_seconds)

    @property
    def repository_selector(self) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": REPOSITORY_NAME}

    # -- reads ----------------------------------------------------------------------------------
    def version(self) -> str:
        return str(self.execute("query GlyphVersion { version }")["version"])

    def run(self, run_id: str) -> RunInfo | None:
        """The run, or None when Dagster does not know it."""
        result = self.execute(_RUN_QUERY, {"runId": run_id})["runOrError"]
        if result["__typename"] == "Run":
            return _run_info(result)
        if result["__typename"] == "RunNotFoundError":
            return None
        raise DagsterError(result["__typename"], result.get("message", ""))

    def runs(self, run_ids: list[str]) -> dict[str, RunInfo]:
        """Several runs in one call (missing ones are left out)."""
        if not run_ids:
            return {}
        result = self.execute(_RUNS_QUERY, {"filter": {"runIds": run_ids}, "limit": len(run_ids)})[
            "runsOrError"
        ]
        if result["__typename"] != "Runs":
            raise DagsterError(result["__typename"], result.get("message", ""))
        return {r["runId"]: _run_info(r) for r in result["results"]}

    def runs_of_import(self, import_id: str, limit: int = 100) -> list[RunInfo]:
        """Runs tagged with the import (newest first), including ones launched elsewhere."""
        result = self.execute(
            _RUNS_QUERY,
            {"filter": {"tags": [{"key": IMPORT_TAG, "value": import_id}]}, "limit": limit},
        )["runsOrError"]
        if result["__typename"] != "Runs":
            raise DagsterError(result["__typename"], result.get("message", ""))
        return [_run_info(r) for r in result["results"]]

    def events(self, run_id: str, page: int = 1000, max_pages: int = 50) -> RunEvents:
        """Progress events, failures and where each step ran, from the run's event log."""
        out = RunEvents()
        cursor: str | None = None
        for _ in range(max_pages):
            result = self.execute(_LOGS_QUERY, {"runId": run_id, "cursor": cursor, "limit": page})
            conn = result["logsForRun"]
            if conn["__typename"] != "EventConnection":
                if conn["__typename"] == "RunNotFoundError":
                    return out
                raise DagsterError(conn["__typename"], conn.get("message", ""))
            for event in conn["events"]:
                kind = event["__typename"]
                if kind in ("ObservationEvent", "EngineEvent"):
                    values = _metadata_values(event.get("metadataEntries"))
                    worker = contract.worker_from_metadata(values)
                    if worker and event.get("stepKey"):
                        out.workers[event["stepKey"]] = worker
                if kind == "ObservationEvent":
                    progress = contract.progress_from_metadata(values)
                    if progress:
                        out.progress[progress.stage] = StageRows(progress.done, progress.total)
                        out.last_stage = progress.stage
                elif kind == "ExecutionStepFailureEvent":
                    error = _root_cause(event.get("error")) or event.get("message") or "failed"
                    out.step_failures.append((event.get("stepKey") or "step", error.strip()))
                elif kind == "ExecutionStepUpForRetryEvent":
                    error = _root_cause(event.get("error"))
                    if error:
                        out.retry_errors[event.get("stepKey") or "step"] = error.strip()
                elif kind == "RunFailureEvent":
                    error = (event.get("error") or {}).get("message")
                    message = (error or event.get("message") or "run failed").strip()
                    if contract.RUNTIME_LIMIT_MARK not in (out.run_failure or ""):
                        out.run_failure = message
            cursor = conn["cursor"]
            if not conn["hasMore"]:
                break
        return out

    # -- writes ---------------------------------------------------------------------------------
    def add_partition(self, import_id: str) -> None:
        """Register the import as a key of the ``imports`` partitions (idempotent)."""
        result = self.execute(
            _ADD_PARTITION,
            {
                "selector": self.repository_selector,
                "name": IMPORTS_PARTITIONS_NAME,
                "key": import_id,
            },
        )["addDynamicPartition"]
        if result["__typename"] in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            return
        raise DagsterError(result["__typename"], result.get("message", ""))

    def submit_ingest(
        self,
        import_id: str,
        source: str,
        run_config: dict[str, Any] | None = None,
        attempt: int = 1,
        size_bytes: int | None = None,
        job_name: str = INGEST_JOB_NAME,
        waited_on: bool = False,
    ) -> str:
        """Launch ``job_name`` (``ingest_import``, or ``ingest_import_chunked`` for a large
        import: ``contract.ingest_job_for``) for the import's partition; returns the run id. A
        small import (``size_bytes``), or one a client waits for in its request (``waited_on``),
        is tagged to skip the run queue while it has room (``contract.launch_tags``)."""
        tags = {
            PARTITION_TAG: import_id,
            IMPORT_TAG: import_id,
            SOURCE_TAG: source,
            ATTEMPT_TAG: str(attempt),
            **self.limit_tags(),
            **contract.launch_tags(size_bytes, self.settings.express_max_bytes, waited_on),
        }
        try:
            return self._client.submit_job_execution(
                job_name,
                repository_location_name=self.location,
                repository_name=REPOSITORY_NAME,
                run_config=run_config or {},
                tags=tags,
            )
        except DagsterGraphQLClientError as exc:
            raise self._translate(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise _unreachable(self.base_url, exc) from exc

    def terminate(self, run_id: str) -> str:
        """Terminate a run; a run still STARTING is marked canceled at once (SAFE fails then)."""
        result = self.execute(_TERMINATE, {"runId": run_id, "policy": "SAFE_TERMINATE"})
        outcome = result["terminateRun"]
        if outcome["__typename"] == "TerminateRunFailure":
            result = self.execute(
                _TERMINATE, {"runId": run_id, "policy": "MARK_AS_CANCELED_IMMEDIATELY"}
            )
            outcome = result["terminateRun"]
        if outcome["__typename"] != "TerminateRunSuccess":
            raise DagsterError(outcome["__typename"], outcome.get("message", ""))
        return str(outcome["run"]["status"])

    def reexecute(
        self,
        parent_run_id: str,
        strategy: str = "FROM_FAILURE",
        extra_tags: dict[str, str] | None = None,
    ) -> str:
        """Dagster re-execution of a run with its own config and tags; returns the new run id."""
        params: dict[str, Any] = {"parentRunId": parent_run_id, "strategy": strategy}
        if extra_tags:
            params["extraTags"] = [{"key": k, "value": v} for k, v in extra_tags.items()]
        return self._launch_result(self.execute(_REEXECUTE, {"reexecutionParams": params}))

    def reexecute_with_config(
        self,
        parent: RunInfo,
        run_config: dict[str, Any],
        from_failure: bool = True,
        extra_tags: dict[str, str] | None = None,
    ) -> str:
        """Re-execute with a new run config: Dagster resumes from the failed step itself when
        the ``dagster/is_resume_retry`` tag is set, exactly as its own from-failure does."""
        tags = {k: v for k, v in parent.tags.items() if _inheritable(k)}
        tags.update(extra_tags or {})
        if from_failure:
            tags[RESUME_RETRY_TAG] = "true"
        params = {
            "selector": {**self.repository_selector, "jobName": parent.job_name},
            "runConfigData": run_config,
            "mode": "default",
            "executionMetadata": {
                "parentRunId": parent.run_id,
                "rootRunId": parent.root_run_id or parent.run_id,
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
            },
        }
        return self._launch_result(self.execute(_REEXECUTE, {"executionParams": params}))

    @staticmethod
    def _launch_result(result: dict[str, Any]) -> str:
        outcome = result["launchRunReexecution"]
        kind = outcome["__typename"]
        if kind == "LaunchRunSuccess":
            return str(outcome["run"]["runId"])
        if kind == "RunConfigValidationInvalid":
            message = "; ".join(e["message"] for e in outcome.get("errors", []))
        elif kind == "InvalidStepError":
            message = f"invalid step {outcome.get('invalidStepKey')}"
        elif kind == "InvalidOutputError":
            message = f"invalid output {outcome.get('invalidOutputName')} of {outcome['stepKey']}"
        else:
            message = outcome.get("message", "")
        raise DagsterError(kind, message)


def _root_cause(error: dict[str, Any] | None) -> str | None:
    """The user's exception rather than Dagster's wrapper (e.g. RetryRequestedFromPolicy)."""
    if not error:
        return None
    return contract.root_cause(error.get("message"), (error.get("cause") or {}).get("message"))


def _inheritable(key: str) -> bool:
    """Tags a re-execution carries over: ours and the partition, not Dagster's bookkeeping."""
    return key == PARTITION_TAG or not (key.startswith("dagster/") or key.startswith("."))


def _run_info(data: dict[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=data["runId"],
        status=data["status"],
        job_name=data["jobName"],
        tags={t["key"]: t["value"] for t in data.get("tags") or []},
        creation_time=data.get("creationTime"),
        start_time=data.get("startTime"),
        end_time=data.get("endTime"),
        parent_run_id=data.get("parentRunId"),
        root_run_id=data.get("rootRunId"),
        step_keys_to_execute=data.get("stepKeysToExecute"),
        step_stats=[
            StepStat(s["stepKey"], s.get("status"), s.get("startTime"), s.get("endTime"))
            for s in data.get("stepStats") or []
        ],
    )


__all__ = [
    "DagsterError",
    "DagsterGateway",
    "DagsterUnavailable",
    "RunEvents",
    "RunInfo",
    "STAGES",
    "progress_event",
]
