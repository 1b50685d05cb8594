"""Receiving a submission: multipart, raw CSV/TSV or JSON bodies, streamed without buffering.

The upload's bytes go straight from the socket to ``register_import`` (which lands and hashes
them) running in a worker thread: the thread pulls each chunk from the event loop as it needs it,
so memory stays at one chunk and the size limit stops the transfer as soon as it is passed.
Multipart form fields must therefore come before the file part (every common client sends them
in that order); a known field after the file is refused rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any, Generic, TypeVar

import anyio
from anyio import from_thread
from fastapi import Request
from pydantic import ValidationError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from glyph_assets.landing import UploadTooLarge
from glyph_assets.sieve.columns import SCORE_SCALES
from glyph_assets.sieve.read import FileRejected, JsonDocument, json_document, parse_json
from glyphd_api.errors import UPLOAD_REFUSALS, ApiError
from glyphd_api.schemas import JsonImportRequest

T = TypeVar("T")

FORM_FIELDS = (
    "source",
    "description",
    "kind",
    "campaign_id",
    "metadata",
    "run_config",
    "score_scale",
    "save_to_disk",
)
JSON_TYPES = {"application/json", "text/json"}
RAW_TYPES = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "text/plain": ".csv",
    "application/octet-stream": None,
}
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 50
DRAIN_AFTER_ERROR_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Submission:
    """What a client says about its upload (form fields, JSON keys or query parameters)."""

    source: str = "api"
    description: str | None = None
    kind: str | None = None
    campaign_id: str | None = None
    metadata: dict[str, Any] | None = None
    run_config: dict[str, Any] | None = None
    filename: str | None = None
    content_type: str | None = None
    score_scale: str | None = None
    save_to_disk: bool = False  # the artifact validator keeps the upload when asked
    # A JSON body's listing records as the API parsed them before landing the same bytes: the
    # landed file's inspection takes them instead of parsing the file again. Not recorded.
    records: list[Any] | None = field(default=None, repr=False, compare=False)

    def recorded(self) -> dict[str, Any]:
        """What the import's record keeps of the submission (run config goes to the launch,
        save_to_disk to the artifact validator, the parsed records to the inspection)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("run_config", "save_to_disk", "records")
        }

    def checked(self, allow_run_config: bool) -> Submission:
        """Every problem with the fields at once, before a byte of the file is read."""
        problems: list[str] = []
        if not self.source or len(self.source) > 200:
            problems.append("source: must be 1 to 200 characters")
        if self.kind not in (None, "raw", "scored"):
            problems.append(f"kind: must be 'raw' or 'scored', not {self.kind!r}")
        if self.score_scale not in (None, *SCORE_SCALES):
            problems.append(
                f"score_scale: must be {' or '.join(SCORE_SCALES)}, not {self.score_scale!r}"
            )
        if self.description is not None and len(self.description) > 10_000:
            problems.append("description: at most 10000 characters")
        if self.campaign_id is not None and len(self.campaign_id) > 200:
            problems.append("campaign_id: at most 200 characters")
        if problems:
            raise ApiError(
                422,
                "the submission's fields are not valid",
                code="invalid_request",
                problems=problems,
            )
        if self.run_config is not None and not allow_run_config:
            raise ApiError(
                403,
                "run_config is not accepted by this server (set GLYPH_ALLOW_RUN_CONFIG=1 to allow)",
                code="run_config_not_allowed",
            )
        return self


def safe_filename(name: str | None) -> str | None:
    """The client's name without any directory part (it is recorded, never used as a path)."""
    if not name:
        return None
    base = PurePath(name.replace("\\", "/")).name.replace("\x00", "")
    return base[:500] or None


def _json_field(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            422, f"{name} must be a JSON object: {exc.msg}", code="invalid_request"
        ) from exc
    if not isinstance(value, dict):
        raise ApiError(422, f"{name} must be a JSON object", code="invalid_request")
    return value


def with_fields(base: Submission, fields: dict[str, str]) -> Submission:
    changes: dict[str, Any] = {}
    for name in ("source", "description", "kind", "campaign_id", "score_scale"):
        if name in fields:
            changes[name] = fields[name] if fields[name] != "" or name == "source" else None
    for name in ("metadata", "run_config"):
        if fields.get(name):
            changes[name] = _json_field(name, fields[name])
    if "save_to_disk" in fields:
        flag = fields["save_to_disk"].strip().lower()
        if flag not in ("true", "false", "1", "0", "yes", "no", ""):
            raise ApiError(422, "save_to_disk must be true or false", code="invalid_request")
        changes["save_to_disk"] = flag in ("true", "1", "yes")
    return replace(base, **changes)


class LateField(ApiError):
    def __init__(self, name: str) -> None:
        super().__init__(
            422,
            f"form field {name!r} came after the file; send form fields before the file part",
            code="field_after_file",
        )


class _MultipartEvents:
    """Turns python-multipart's callbacks into a queue of (kind, ...) events."""

    def __init__(self, boundary: bytes) -> None:
        self.events: deque[tuple[Any, ...]] = deque()
        self._headers: dict[str, str] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._name: str | None = None
        self._is_file = False
        self._data = bytearray()
        self.fields = 0
        self.parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": lambda d, s, e: self._field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": lambda: self.events.append(("end",)),
            },
        )

    def _part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._is_file = False
        self._data = bytearray()

    def _header_end(self) -> None:
        key = bytes(self._field).decode("latin-1").strip().lower()
        # latin-1 keeps every byte: parse_options_header gives them back, and names and
        # filenames are decoded as UTF-8 only then (a UTF-8 name is not latin-1 text).
        self._headers[key] = bytes(self._value).decode("latin-1").strip()
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", ""))
        name = options.get(b"name")
        self._name = name.decode("utf-8", "replace") if name is not None else None
        filename = options.get(b"filename")
        self._is_file = filename is not None
        if self._is_file:
            self.events.append(
                (
                    "file_start",
                    self._name,
                    filename.decode("utf-8", "replace") if filename else None,
                    self._headers.get("content-type"),
                )
            )
        else:
            self.fields += 1
            if self.fields > MAX_FIELDS:
                raise ApiError(422, f"more than {MAX_FIELDS} form fields", code="invalid_request")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            if end > start:
                self.events.append(("data", bytes(data[start:end])))
            return
        self._data.extend(data[start:end])
        if len(self._data) > MAX_FIELD_BYTES:
            raise ApiError(
                422,
                f"form field {self._name!r} is larger than {MAX_FIELD_BYTES} bytes",
                code="invalid_request",
            )

    def _part_end(self) -> None:
        if self._is_file:
            self.events.append(("file_end",))
        else:
            self.events.append(("field", self._name, bytes(self._data).decode("utf-8", "replace")))


async def _multipart_events(request: Request, boundary: bytes) -> AsyncIterator[tuple[Any, ...]]:
    state = _MultipartEvents(boundary)
    async for chunk in request.stream():
        if chunk:
            try:
                state.parser.write(chunk)
            except ApiError:
                raise
            except Exception as exc:  # python-multipart's own parse errors
                raise ApiError(400, f"malformed multipart body: {exc}", code="bad_request") from exc
        while state.events:
            yield state.events.popleft()
    try:
        state.parser.finalize()
    except Exception as exc:
        raise ApiError(400, f"malformed multipart body: {exc}", code="bad_request") from exc
    while state.events:
        yield state.events.popleft()


def _puller(iterator: AsyncIterator[Any]) -> Callable[[], Any]:
    """A function a worker thread calls to get the next item from the event loop (None at end)."""

    async def step() -> Any:
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            return None

    return lambda: from_thread.run(step)


async def _drain(request: Request, limit: int = DRAIN_AFTER_ERROR_BYTES) -> None:
    """Read (and drop) what is left of a refused body, so the client can read our answer."""
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                return
    except Exception:  # noqa: BLE001 - the stream may already be consumed or broken
        return


def _check_length(request: Request, max_bytes: int, overhead: int = 0) -> None:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + overhead:
        raise UploadTooLarge(max_bytes)


def media_type(request: Request) -> str:
    mime, _ = parse_options_header(request.headers.get("content-type", ""))
    return mime.decode("latin-1").lower()


async def receive(
    request: Request,
    base: Submission,
    consume: Callable[[Submission, Iterator[bytes]], T],
    *,
    max_bytes: int,
    allow_run_config: bool,
    check_json: Callable[[JsonDocument], None] | None = None,
    json_only: bool = False,
) -> T:
    """Read the submission in whatever form it came and hand its bytes to ``consume`` (run in a
    worker thread). Errors raised by ``consume`` propagate unchanged.

    ``check_json`` sees a JSON body's records before anything is landed (a path with a stricter
    contract refuses there); ``json_only`` paths take nothing but a JSON body."""
    mime = media_type(request)
    if json_only and mime not in JSON_TYPES:
        raise ApiError(
            415,
            f"unsupported content type {mime!r}: send the listings as application/json",
            code="unsupported_media_type",
        )
    upload = _Upload(request, base, consume, allow_run_config)
    try:
        if mime == "multipart/form-data":
            _check_length(request, max_bytes, overhead=1024 * 1024)
            return await _receive_multipart(upload)
        if mime in JSON_TYPES:
            _check_length(request, max_bytes)
            return await _receive_json(upload, max_bytes, check_json)
        if mime in RAW_TYPES or mime == "":
            _check_length(request, max_bytes)
            return await _receive_raw(upload, mime)
    except UPLOAD_REFUSALS:
        await _drain(request)
        raise
    except ClientDisconnect as exc:
        raise ApiError(
            400,
            "the client disconnected during the upload; nothing was kept",
            code="client_disconnected",
        ) from exc
    raise ApiError(
        415,
        f"unsupported content type {mime!r}: send multipart/form-data with a 'file' part, "
        "application/json with 'listings', or the CSV/TSV itself (text/csv)",
        code="unsupported_media_type",
    )


@dataclass(frozen=True)
class _Upload(Generic[T]):
    """One upload being received: its request, what the client said before the bytes, who
    consumes them, and whether run config may be given."""

    request: Request
    base: Submission
    consume: Callable[[Submission, Iterator[bytes]], T]
    allow_run_config: bool

    async def hand_over(self, submission: Submission, chunks: Iterator[bytes]) -> T:
        """Check the submission's fields, then let ``consume`` pull the bytes in a worker."""
        checked = submission.checked(self.allow_run_config)
        return await anyio.to_thread.run_sync(self.consume, checked, chunks)


async def _receive_multipart(upload: _Upload[T]) -> T:
    request = upload.request
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "multipart body without a boundary", code="bad_request")
    events = _multipart_events(request, boundary)
    pull = _puller(events)
    fields: dict[str, str] = {}
    submission: Submission | None = None
    try:
        async for event in events:
            if event[0] == "field" and event[1]:
                fields[event[1]] = event[2]
            elif event[0] == "file_start":
                if event[1] != "file":
                    raise ApiError(
                        422,
                        f"file part named {event[1]!r}; send the upload as 'file'",
                        code="invalid_request",
                    )
                submission = replace(
                    with_fields(upload.base, fields),
                    filename=safe_filename(event[2]),
                    content_type=event[3],
                )
                break
        if submission is None:
            raise ApiError(422, "no file part named 'file' in the form", code="invalid_request")

        def chunks() -> Iterator[bytes]:
            while True:
                event = pull()
                if event is None or event[0] == "end":
                    raise ApiError(
                        400, "the multipart body ended inside the file", code="bad_request"
                    )
                if event[0] == "file_end":
                    break
                if event[0] == "data":
                    yield event[1]
            while True:  # the rest of the body: nothing we use may follow the file
                event = pull()
                if event is None or event[0] == "end":
                    return
                if event[0] == "field" and event[1] in FORM_FIELDS:
                    raise LateField(event[1])
                if event[0] == "file_start":
                    raise ApiError(422, "one file per import", code="invalid_request")

        return await upload.hand_over(submission, chunks())
    finally:
        await events.aclose()


async def _receive_raw(upload: _Upload[T], mime: str) -> T:
    base = upload.base
    _, options = parse_options_header(upload.request.headers.get("content-disposition", ""))
    header_name = options.get(b"filename")
    filename = base.filename or (header_name.decode("utf-8", "replace") if header_name else None)
    suffix = RAW_TYPES.get(mime)
    if filename is None and suffix:
        filename = f"upload{suffix}"
    submission = replace(base, filename=safe_filename(filename), content_type=mime or None)
    stream = upload.request.stream().__aiter__()
    pull = _puller(stream)

    def chunks() -> Iterator[bytes]:
        while (chunk := pull()) is not None:
            if chunk:
                yield chunk

    return await upload.hand_over(submission, chunks())


async def _receive_json(
    upload: _Upload[T],
    max_bytes: int,
    check_json: Callable[[JsonDocument], None] | None = None,
) -> T:
    """A JSON body is spooled (its keys decide the import's fields), then landed as sent."""
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        size = 0
        async for chunk in upload.request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(max_bytes)
            spool.write(chunk)
        spool.seek(0)
        body, document = await anyio.to_thread.run_sync(read_json_body, spool.read())
        if check_json is not None:  # a check of every record: off the event loop too
            await anyio.to_thread.run_sync(check_json, document)
        given = {name: getattr(body, name) for name in FORM_FIELDS if name in body.model_fields_set}
        submission = replace(
            upload.base,
            **given,
            filename="listings.json",
            content_type="application/json",
            records=document.records,
        )

        def chunks() -> Iterator[bytes]:
            spool.seek(0)
            while block := spool.read(1 << 20):
                yield block

        return await upload.hand_over(submission, chunks())


@contextmanager
def _refused_as(message: str, code: str) -> Iterator[None]:
    """The reader's refusal of a JSON body answered as a 422 carrying its problems."""
    try:
        yield
    except FileRejected as exc:
        raise ApiError(422, message, code=code, problems=exc.problems) from exc


def read_json_body(data: bytes) -> tuple[JsonImportRequest, JsonDocument]:
    """A JSON body read by the same grammar as a landed JSON file (``sieve.read``), so every
    shape one accepts the other accepts too: a bare array, ``{"listings": [...]}`` with glyph's
    submission fields (unknown keys refused), another system's export (``items``, ``data``,
    ``results``, ``rows``, Shopify ``products``; its other keys are that system's, ignored).
    The records themselves are checked row by row by the pipeline."""
    with _refused_as("the body is not valid JSON", code="invalid_json"):
        payload = parse_json(data)
    with _refused_as("the body holds no listings", code="invalid_request"):
        document = json_document(payload)
    if not document.records:
        raise ApiError(
            422,
            "Empty listings array provided: 'listings' must be a non-empty array of objects",
            code="invalid_request",
        )
    fields = document.envelope if document.key == "listings" else {}
    try:
        # Validate the small fields strictly; rows that are not objects become row errors later.
        body = JsonImportRequest.model_validate({**fields, "listings": [{}]})
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ApiError(
            422, "the JSON body is not valid", code="invalid_request", problems=problems
        ) from exc
    return body.model_copy(update={"listings": []}), document


def spool_to_temp(chunks: Iterator[bytes], directory: str, suffix: str, max_bytes: int) -> str:
    """Write chunks to a file in ``directory`` (validation, which must leave no trace)."""
    path = os.path.join(directory, f"upload{suffix}")
    size = 0
    with open(path, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(max_bytes)
            out.write(chunk)
    return path
