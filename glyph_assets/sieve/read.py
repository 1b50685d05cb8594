"""Reading landed files: format, encoding and delimiter detection, and chunked row iteration.

Every data row gets its ``import_index`` (1-based position among the data rows) here, once; rows
that cannot be split into fields (ragged, NUL bytes, wrong JSON type) are kept with ``_error`` set
so that a later stage turns them into row errors instead of dropping them.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from charset_normalizer import from_bytes

from glyph_assets.sieve.columns import (
    ERROR_COLUMN,
    FIRST_INDEX,
    INDEX_COLUMN,
    TEXT_COLUMNS,
    map_headers,
)

SAMPLE_BYTES = 256 * 1024
ARROW_BLOCK_BYTES = 4 << 20
DELIMITERS = ",;\t|"
# Deepest JSON nesting accepted anywhere (a listing file is 3 levels deep; Shopify's 4). Checked
# without recursion, so a hostile body cannot exhaust the stack of any parser that reads it later.
MAX_JSON_DEPTH = 64
# Envelope keys that hold the listings of a JSON object, in order of preference.
RECORD_KEYS = ("listings", "items", "data", "results", "rows")

csv.field_size_limit(64 * 1024 * 1024)

# Encodings (charset_normalizer names) of scripts other than Latin: trusted when detected.
NON_LATIN_ENCODINGS = frozenset(
    {
        # Chinese, Japanese, Korean (multi-byte)
        *("gb18030", "gb2312", "gbk", "hz", "big5", "big5hkscs", "cp950", "cp932", "cp949"),
        *("euc_jp", "euc_jis_2004", "euc_jisx0213", "euc_kr", "johab", "iso2022_jp", "iso2022_kr"),
        *("shift_jis", "shift_jis_2004", "shift_jisx0213"),
        # Cyrillic, Greek, Hebrew, Arabic, Thai
        *("cp1251", "koi8_r", "koi8_u", "mac_cyrillic", "iso8859_5", "cp866", "cp855", "cp1125"),
        *("cp1253", "iso8859_7", "mac_greek", "cp1255", "iso8859_8", "cp862"),
        *("cp1256", "iso8859_6", "cp864", "cp720", "cp874", "tis_620"),
    }
)


class FileRejected(ValueError):
    """The file as a whole cannot be ingested; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class TooManyRows(FileRejected):
    """The file has more data rows than the configured limit (GLYPH_MAX_ROWS)."""

    def __init__(self, limit: int, rows: int) -> None:
        super().__init__([f"the file has more than {limit} data rows, this server's limit"])
        self.limit = limit
        self.rows = rows


@dataclass
class FileFormat:
    kind: str  # "csv" or "json"
    encoding: str = "utf-8"
    delimiter: str = ","
    columns: list[str] = field(default_factory=list)


# Every byte but the control characters a text file does not hold (below tab, or between
# carriage return and space): deleting them from a sample leaves its control bytes, in C.
_NOT_CONTROL = bytes(b for b in range(256) if not (b < 9 or 13 < b < 32))


def _is_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if sample.count(b"\x00") > max(8, len(sample) // 100):
        return True
    control = len(sample.translate(None, _NOT_CONTROL))
    return control > len(sample) // 20


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) first, then the best legacy guess, latin-1 as last resort."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sample boundary is still UTF-8.
        if exc.start >= len(sample) - 4:
            return "utf-8"
    best = from_bytes(sample).best()
    # On short Latin text the detector's pick among single-byte Latin code pages is close to a
    # coin toss (mac_roman, cp1250, ...), each decoding to different letters. Windows-1252 is
    # what Western spreadsheets write, so only scripts that cannot be Latin-1 text keep its pick.
    if best is not None and best.encoding in NON_LATIN_ENCODINGS:
        try:
            sample.decode(best.encoding)
            return best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(text: str, filename: str | None = None) -> str:
    if filename and filename.lower().endswith((".tsv", ".tab")):
        return "\t"
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0]
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def detect_format(path: Path, filename: str | None = None) -> FileFormat:
    """Decide how to read a landed file, or raise FileRejected with every problem found."""
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if not sample.strip():
        raise FileRejected(["the file is empty"])
    if _is_binary(sample):
        raise FileRejected(["the file is binary or not text in a known encoding"])
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        return FileFormat(kind="json", encoding=encoding)
    delimiter = sniff_delimiter(text, filename)
    return FileFormat(kind="csv", encoding=encoding, delimiter=delimiter)


def _unique_headers(raw: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    headers: list[str] = []
    for position, name in enumerate(raw):
        name = (name or "").replace("\x00", "").strip() or f"column_{position + 1}"
        if name in seen or name in {INDEX_COLUMN, ERROR_COLUMN}:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name}_{seen[name]}"
        seen.setdefault(name, 0)
        headers.append(name)
    return headers


def _frame(rows: list[list[str | None]], headers: list[str], start: int) -> pd.DataFrame:
    return _numbered(pd.DataFrame(rows, columns=headers + [ERROR_COLUMN], dtype=object), start)


def _numbered(frame: pd.DataFrame, start: int) -> pd.DataFrame:
    """``frame`` with its rows' 1-based ``import_index`` first (``start``: data rows before)."""
    first = FIRST_INDEX + start
    frame.insert(0, INDEX_COLUMN, range(first, first + len(frame)))
    return frame


def iter_csv_chunks(
    path: Path, fmt: FileFormat, chunk_rows: int, skip: int = 0
) -> Iterator[pd.DataFrame]:
    """The careful reader: every row read by Python's ``csv``, a row of another width or with
    NUL bytes kept with its error. ``skip``: data rows already read (numbered as read)."""
    with open(path, encoding=fmt.encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=fmt.delimiter)
        headers: list[str] | None = None
        for raw_header in reader:
            if any(cell.strip() for cell in raw_header):
                headers = _unique_headers(raw_header)
                break
        if headers is None:
            return
        width = len(headers)
        rows: list[list[str | None]] = []
        index = skipped = skip
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank lines are layout, not data rows (as pandas counts them)
            if skipped:
                skipped -= 1
                continue
            error = None
            if len(record) != width:
                error = f"row has {len(record)} fields, the header has {width}"
                record = (record + [""] * width)[:width]
            elif any("\x00" in cell for cell in record):
                named = [
                    f"field '{h}'" for h, c in zip(headers, record, strict=True) if "\x00" in c
                ]
                error = f"{', '.join(named)} contains NUL bytes"
                record = [cell.replace("\x00", "") for cell in record]
            rows.append([*record, error])
            if len(rows) >= chunk_rows:
                yield _frame(rows, headers, index)
                index += len(rows)
                rows = []
        if rows or index == 0:
            yield _frame(rows, headers, index)


def count_csv_rows(path: Path, fmt: FileFormat, stop_after: int | None = None) -> int:
    """Data rows exactly as ``iter_csv_chunks`` yields them (blank lines skipped, quoted line
    breaks inside a row); stops early once ``stop_after`` is passed."""
    rows = 0
    with open(path, encoding=fmt.encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=fmt.delimiter)
        for raw_header in reader:
            if any(cell.strip() for cell in raw_header):
                break
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            rows += 1
            if stop_after is not None and rows > stop_after:
                break
    return rows


def _arrow_reader(
    path: Path, fmt: FileFormat, headers: list[str], on_invalid: Any, columns: list[str] | None
) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=headers, skip_rows=1, block_size=ARROW_BLOCK_BYTES, encoding="utf8"
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=fmt.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(headers, pa.string()),
            include_columns=columns,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _arrow_headers(path: Path, fmt: FileFormat) -> list[str] | None:
    """Headers when Arrow's fast reader may be tried, else None.

    It reads as the careful reader does UTF-8 text without NUL bytes whose header is the first
    line and has two columns or more, for as long as every row has the header's width: the
    first row that does not (or text that is not UTF-8) stops it, and the careful reader reads
    the rest (``iter_raw_chunks``)."""
    if fmt.encoding not in ("utf-8", "utf-8-sig"):
        return None
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            if b"\x00" in block:
                return None
    with open(path, encoding=fmt.encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=fmt.delimiter)
        header = next(reader, None)
        if not header or reader.line_num != 1 or not any(c.strip() for c in header):
            return None
    if len(header) < 2:
        # one column: a line of spaces is a row to Arrow and a blank line to the careful
        # reader, so their row counts part (and there is no width for Arrow to check)
        return None
    return _unique_headers(header)


def _iter_arrow_chunks(
    path: Path, fmt: FileFormat, headers: list[str], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    def refuse(_row: Any) -> str:
        return "error"  # a row of another width: the careful reader takes over from here

    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    start = 0

    def emit(table: pa.Table) -> pd.DataFrame:
        frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
        first = FIRST_INDEX + start
        frame.insert(0, INDEX_COLUMN, np.arange(first, first + len(frame), dtype="int64"))
        frame[ERROR_COLUMN] = pd.Series(pd.NA, index=frame.index, dtype="string[pyarrow]")
        return frame

    for batch in _arrow_reader(path, fmt, headers, refuse, None):
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield emit(table.slice(0, chunk_rows))
            start += chunk_rows
            rest = table.slice(chunk_rows)
            pending = rest.to_batches()
            pending_rows = rest.num_rows
    if pending_rows or start == 0:
        table = pa.Table.from_batches(pending) if pending else _empty_table(headers)
        yield emit(table)


def _empty_table(headers: list[str]) -> pa.Table:
    return pa.table({h: pa.array([], pa.string()) for h in headers})


def json_depth(payload: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, ``[]`` and ``{}`` are 1).

    Walked one level at a time: an upload is typically one array of 100,000 flat objects, two
    levels. Each level's children are first only typed, in C (``map``, ``chain``, ``set``), and
    gathered only when some of them are containers, so the flat level that ends the walk costs
    a pass of C instead of a Python comprehension over every value (0.064 -> 0.032 s for
    100,000 objects of 7 fields here). No recursion, so 20,000 levels of nesting are only a
    long loop."""
    depth = 0
    level = [payload] if isinstance(payload, (list, dict)) else []
    while level:
        depth += 1
        if not any(issubclass(kind, (list, dict)) for kind in set(map(type, _children(level)))):
            break
        level = [child for child in _children(level) if isinstance(child, (list, dict))]
    return depth


def _children(level: list[Any]) -> Iterator[Any]:
    """The values of a level's containers, in order (all dicts or all lists: iterated in C)."""
    kinds = set(map(type, level))
    if kinds == {dict}:
        return chain.from_iterable(map(dict.values, level))
    if kinds == {list}:
        return chain.from_iterable(level)
    return chain.from_iterable(c.values() if isinstance(c, dict) else c for c in level)


def parse_json(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The one JSON parser of every way in (upload, JSON body, inbox file, the run).

    orjson parses without recursing on the C stack (it refuses past 1024 levels itself), and the
    depth is then checked iteratively, so a body nested 20,000 levels deep is a clear rejection.
    """
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc).lower():
            raise FileRejected([f"JSON is nested deeper than {max_depth} levels"]) from exc
        raise FileRejected([f"invalid JSON: {exc}"]) from exc
    if json_depth(payload) > max_depth:
        raise FileRejected([f"JSON is nested deeper than {max_depth} levels"])
    return payload


@dataclass
class JsonDocument:
    """A JSON submission read by the one grammar: its listing records, and the envelope's other
    top-level keys (an object's ``source``, ``kind``, ... ; empty for a bare array)."""

    records: list[Any]
    envelope: dict[str, Any]
    key: str | None = None  # the envelope key that held the records (None: a bare array)


def json_document(payload: Any) -> JsonDocument:
    """Where the listings are in a parsed JSON value, or FileRejected.

    A bare array; an object with ``products`` (Shopify ``products.json``, one listing per
    variant); an object with one of ``RECORD_KEYS`` holding an array.
    """
    if isinstance(payload, list):
        return JsonDocument(payload, {})
    if isinstance(payload, dict):
        if isinstance(payload.get("products"), list):
            rest = {k: v for k, v in payload.items() if k != "products"}
            return JsonDocument(_shopify_variants(payload["products"]), rest, "products")
        for key in RECORD_KEYS:
            if isinstance(payload.get(key), list):
                rest = {k: v for k, v in payload.items() if k != key}
                return JsonDocument(payload[key], rest, key)
    raise FileRejected(
        [
            "JSON must be an array of objects, or a JSON object with a non-empty array under "
            "'listings' (or " + ", ".join(f"'{k}'" for k in RECORD_KEYS[1:]) + "), or a "
            "Shopify 'products' array"
        ]
    )


def _shopify_variants(products: list[Any]) -> list[Any]:
    """Shopify products.json: one listing per variant, titled by product (+ variant name)."""
    records: list[Any] = []
    for product in products:
        if not isinstance(product, dict):
            records.append(product)
            continue
        variants = product.get("variants") or [{}]
        for variant in variants:
            variant = variant if isinstance(variant, dict) else {}
            name = str(product.get("title") or "")
            option = variant.get("title")
            if option and option != "Default Title":
                name = f"{name} {option}"
            records.append(
                {
                    "title": name,
                    "price": variant.get("price"),
                    "quantity": "Available" if variant.get("available") else "Out of Stock",
                    "seller": product.get("vendor"),
                    "brand": product.get("vendor"),
                    "sku": variant.get("sku"),
                    "product_type": product.get("product_type"),
                    "source_url": product.get("handle"),
                    "source_type": "shopify_products_json",
                }
            )
    return records


_JSON_TYPE_NAMES = {bool: "boolean", int: "number", float: "number", dict: "object", list: "array"}


def _cell(value: Any, text_only: bool = False) -> tuple[str | None, str | None]:
    """A JSON value as the text a CSV cell would hold, or the problem with it.

    ``text_only`` fields (a title, a seller, ...) must be JSON strings: the number 4090 as a
    title is the sender's mistake, not a title, so it is a row error naming the field."""
    if value is None or isinstance(value, str):
        return value, None
    kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    if text_only:
        return None, f"is a JSON {kind}, expected text"
    if isinstance(value, bool):
        return str(value).lower(), None
    if isinstance(value, int | float):
        return str(value), None
    return None, f"is a JSON {kind}, expected text or a number"


def _column_cells(
    values: list[Any], key: str, text_only: bool, problems: list[list[str] | None]
) -> list[Any]:
    """One field of every record as CSV-cell text (``_cell``), its problems appended to their
    rows' ``problems``. Most fields hold only strings (or nothing) and are taken as they are."""
    kinds = set(map(type, values))
    if kinds <= _TEXT_TYPES:
        pass
    elif not text_only and len(kinds) == 1 and kinds <= _SCALAR_TYPES:
        # a field of one JSON type (a price of numbers only): converted by map, in C
        values = list(map(_SCALAR_TEXT[kinds.pop()], values))
    elif not text_only and kinds <= _SCALAR_TYPES:
        values = [v if v is None or type(v) is str else _SCALAR_TEXT[type(v)](v) for v in values]
    else:
        cells = []
        for row, value in enumerate(values):
            cell, problem = _cell(value, text_only)
            if problem:
                _add_problem(problems, row, f"field '{key}' {problem}")
            cells.append(cell)
        values = cells
    # JSON strings hold a NUL only through a \u0000 escape: searched in one joined string first.
    if "\x00" in "\x01".join(filter(None, values)):
        for row, value in enumerate(values):
            if value is not None and "\x00" in value:
                _add_problem(problems, row, f"field '{key}' contains NUL bytes")
                values[row] = value.replace("\x00", "")
    return values


def _add_problem(problems: list[list[str] | None], row: int, problem: str) -> None:
    found = problems[row]
    if found is None:
        problems[row] = [problem]
    else:
        found.append(problem)


_TEXT_TYPES = frozenset({str, type(None)})
# The cell text of a JSON number or boolean (``_cell``), by its parsed type.
_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    int: str,
    float: str,
    bool: lambda value: "true" if value else "false",
}
_SCALAR_TYPES = _TEXT_TYPES | frozenset(_SCALAR_TEXT)


def records_to_frames(records: list[Any], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """JSON records -> the raw frames every reader yields: one text column per field (in order
    of first appearance), the row's problems in ``_error`` ("; "-joined, in field order), a
    record that is not an object a row of nothing but its problem. Built a field at a time."""
    all_objects = set(map(type, records)) <= {dict}
    objects_of = records if all_objects else [r for r in records if isinstance(r, dict)]
    # JSON keys are text: every record's keys, in order of first appearance, gathered in C
    headers_seen = dict.fromkeys(chain.from_iterable(objects_of))
    headers = _unique_headers(list(headers_seen))
    originals = list(headers_seen)
    mapping = map_headers(originals)
    text_keys = {source for column, source in mapping.items() if column in TEXT_COLUMNS}
    for start in range(0, max(len(records), 1), chunk_rows):
        chunk = records[start : start + chunk_rows]
        problems: list[list[str] | None] = [None] * len(chunk)
        objects = chunk if all_objects else [r if isinstance(r, dict) else {} for r in chunk]
        if not all_objects:
            for row, record in enumerate(chunk):
                if not isinstance(record, dict):
                    kind = _JSON_TYPE_NAMES.get(type(record), "text" if record else "null")
                    problems[row] = [f"row is a JSON {kind}, expected an object"]
        columns: dict[str, list[Any]] = {}
        for header, key in zip(headers, originals, strict=True):
            values = list(map(dict.get, objects, repeat(key)))
            columns[header] = _column_cells(values, key, key in text_keys, problems)
        columns[ERROR_COLUMN] = [None if p is None else "; ".join(p) for p in problems]
        frame = pd.DataFrame(
            {name: _arrow_text(cells) for name, cells in columns.items()},
            index=pd.RangeIndex(len(chunk)),
        )
        yield _numbered(frame, start)


def _arrow_text(cells: list[str | None]) -> pd.api.extensions.ExtensionArray:
    """A column of cell texts held by Arrow, as the CSV reader's columns are: built in C from
    the list, with no Python object per cell kept (nor copied again when the part is written)."""
    return pd.arrays.ArrowStringArray(pa.array(cells, type=pa.string()))


def load_json(path: Path, fmt: FileFormat) -> list[Any]:
    """The listing records of a landed JSON file (``parse_json`` + ``json_document``)."""
    # Decoded as the detector said, undecodable bytes replaced (as the CSV reader does).
    text = path.read_bytes().decode(fmt.encoding, errors="replace").lstrip("\ufeff")
    return json_document(parse_json(text)).records


def iter_raw_chunks(
    path: Path, chunk_rows: int = 50_000, filename: str | None = None
) -> Iterator[pd.DataFrame]:
    """Yield the file's data rows as string frames of at most ``chunk_rows`` rows."""
    fmt = detect_format(path, filename)
    if fmt.kind == "json":
        yield from records_to_frames(load_json(path, fmt), chunk_rows)
        return
    headers = _arrow_headers(path, fmt)
    if headers is None:
        yield from iter_csv_chunks(path, fmt, chunk_rows)
        return
    # Arrow's reader until a row it cannot read as the careful reader would (a row of another
    # width, text that is not UTF-8): it stops before yielding that row's chunk, and the careful
    # reader goes on from the first row not yielded. Checking the whole file first cost a
    # second parse of it (0.5 s of a 1,000,000-row file here).
    fast = _iter_arrow_chunks(path, fmt, headers, chunk_rows)
    done = 0
    while True:
        try:
            frame = next(fast)
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError):
            yield from iter_csv_chunks(path, fmt, chunk_rows, skip=done)
            return
        yield frame
        done += len(frame)


def read_raw(path: Path, filename: str | None = None) -> pd.DataFrame:
    """The whole file as one raw frame (small files, tests, the offline pipeline)."""
    frames = list(iter_raw_chunks(path, chunk_rows=1_000_000_000, filename=filename))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_bytes(data: bytes, filename: str | None = None) -> pd.DataFrame:
    """Parse an in-memory upload the same way as a landed file."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=Path(filename or "upload").suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        return read_raw(Path(tmp.name), filename)


__all__ = [
    "ERROR_COLUMN",
    "INDEX_COLUMN",
    "FileFormat",
    "FileRejected",
    "JsonDocument",
    "MAX_JSON_DEPTH",
    "TooManyRows",
    "count_csv_rows",
    "detect_format",
    "iter_raw_chunks",
    "json_document",
    "json_depth",
    "parse_json",
    "read_raw",
    "read_bytes",
]
