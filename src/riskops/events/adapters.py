"""File adapters: NDJSON, CSV, Parquet and AMLworld CSV, each yielding ``(row, result)``.

``row`` is the 0-based index of the data row: for NDJSON the line among non-blank lines
(blank lines are skipped and not counted), for CSV the record after the header, for
Parquet the table row. ``result`` is an ``Event`` or a ``Rejection`` that names the row.
Files ending in ``.gz`` are decompressed transparently (not Parquet: it compresses inside).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar, cast

import msgspec

from riskops.events import validation
from riskops.events.amlworld import is_amlworld_header, open_text, read_amlworld
from riskops.events.schemas import Event
from riskops.events.validation import FieldError, Rejection
from riskops.kernel.bounds import json_problem

FORMATS = ("ndjson", "csv", "parquet", "amlworld")
_EXTENSIONS = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_JSON_TEXT_COLUMNS = {"beneficial_owners"}
Rows = Iterator[tuple[int, Event | Rejection]]
_T = TypeVar("_T")


class UnknownFormat(ValueError):
    """The file's format could not be told from its name and header."""


class UnreadableFile(ValueError):
    """The file as a whole cannot be read in its format (not one bad row: those are
    refused one by one): not Parquet, cut short, a broken gzip stream."""


def detect_format(path: str | Path) -> str:
    """``ndjson``, ``csv``, ``parquet`` or ``amlworld``, by extension and, for CSV, header."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise UnknownFormat(f"cannot tell the format of {path.name}: use --format")
    if fmt == "csv":
        try:
            header = next(open_text(path), "")
        except _READ_ERRORS as exc:
            raise UnreadableFile(f"{path.name} cannot be read as text: {exc}") from exc
        if is_amlworld_header(header):
            return "amlworld"
    return fmt


def read_events(path: str | Path, fmt: str | None = None) -> Rows:
    """``(row, Event | Rejection)`` for every data row of an event file."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "ndjson":  # read in batches, guarded there (``_guarded``)
        return read_ndjson(path)
    if fmt == "parquet":
        return read_parquet(path)
    if fmt == "csv":  # read row by row: guarded here
        return _guarded(read_csv(path), path, _one)
    if fmt == "amlworld":
        return _guarded(read_amlworld(path), path, _one)
    raise UnknownFormat(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


_READ_ERRORS = (OSError, EOFError, UnicodeDecodeError)
"""What reading a file can raise (a broken gzip stream, bytes that are not UTF-8, a disk
error): the file cannot be read on, which no row-level refusal can express."""


def _guarded(items: Iterator[_T], path: Path, rows_in: Callable[[_T], int]) -> Iterator[_T]:
    """``items`` (rows or batches: ``rows_in`` says how many data rows each holds), with a
    read error turned into ``UnreadableFile`` naming the data row it stopped at."""
    done = 0
    try:
        for item in items:
            yield item
            done += rows_in(item)
    except _READ_ERRORS as exc:
        raise UnreadableFile(f"{path.name}: cannot read past data row {done}: {exc}") from exc


def _one(_: object) -> int:
    return 1


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


class Batch(NamedTuple):
    """A run of consecutive data rows, not yet parsed, that can cross to another process:
    ``parse_batch`` turns it into ``(row, result)`` pairs."""

    fmt: str
    first_row: int
    data: Any  # NDJSON: the stripped non-blank lines (bytes); Parquet: a pyarrow RecordBatch


def read_batches(path: str | Path, fmt: str, size: int) -> Iterator[Batch] | None:
    """The file as batches of ``size`` rows, for formats that split (NDJSON and Parquet);
    None for the others, which are read row by row (``read_events``)."""
    path = Path(path)
    if fmt == "ndjson":
        return _ndjson_batches(path, size)
    if fmt == "parquet":
        return _parquet_batches(path, size)
    return None


def known_rows(path: str | Path, fmt: str) -> int | None:
    """How many data rows the file holds, when that is known without reading them
    (Parquet: from its footer); None otherwise."""
    if fmt != "parquet":
        return None
    return int(_parquet_file(Path(path)).metadata.num_rows)


def batch_rows(batch: Batch) -> int:
    """How many data rows a batch holds."""
    return len(batch.data) if batch.fmt == "ndjson" else int(batch.data.num_rows)


def slice_batch(batch: Batch, start: int, stop: int) -> Batch:
    """Rows ``start`` to ``stop`` (excluded) of a batch, counted from its first, as a batch."""
    data = (
        batch.data[start:stop] if batch.fmt == "ndjson" else batch.data.slice(start, stop - start)
    )
    return Batch(batch.fmt, batch.first_row + start, data)


def parse_batch(batch: Batch, *, max_bytes: int = 64 * 1024) -> list[tuple[int, Event | Rejection]]:
    """Validate a batch's rows (pure: any process can do it)."""
    if batch.fmt == "ndjson":
        return list(iter_batch(batch, max_bytes=max_bytes))
    if batch.fmt == "parquet":
        rows = range(batch.first_row, batch.first_row + batch.data.num_rows)
        return list(zip(rows, parse_record_batch(batch.data, rows, max_bytes), strict=True))
    raise UnknownFormat(f"no batches of {batch.fmt!r}")


def iter_batch(batch: Batch, *, max_bytes: int = 64 * 1024) -> Rows:
    """``parse_batch`` as it goes, for NDJSON (one event at a time, no list of them)."""
    if batch.fmt == "ndjson":
        return _parse_lines(batch.data, batch.first_row, max_bytes)
    return iter(parse_batch(batch, max_bytes=max_bytes))


def iter_batch_to_store(batch: Batch, *, max_bytes: int = 64 * 1024) -> Rows:
    """``iter_batch`` for file ingestion, whose events are only encoded and dropped:
    NDJSON lines whose strings are surely printable (``validation.is_printable``) decode
    into the event types' twins (``schemas.PLAIN_TYPES``), which skip ``isprintable``."""
    if batch.fmt != "ndjson":
        return iter_batch(batch, max_bytes=max_bytes)
    return _parse_lines(batch.data, batch.first_row, max_bytes, printable=True)


def read_ndjson(path: Path, *, max_bytes: int = 64 * 1024) -> Rows:
    """One JSON event per line; blank lines are skipped and not counted as rows."""
    for batch in _ndjson_batches(path, 10_000):
        yield from _parse_lines(batch.data, batch.first_row, max_bytes)


def _ndjson_batches(path: Path, size: int) -> Iterator[Batch]:
    return _guarded(_ndjson_line_batches(path, size), path, batch_rows)


def _ndjson_line_batches(path: Path, size: int) -> Iterator[Batch]:
    row = 0
    with _open_binary(path) as handle:
        lines: list[bytes] = []
        for line in handle:
            line = line.strip()
            if line:
                lines.append(line)
                if len(lines) == size:
                    yield Batch("ndjson", row, lines)
                    row, lines = row + size, []
        if lines:
            yield Batch("ndjson", row, lines)


def _parse_lines(lines: list[bytes], row: int, max_bytes: int, *, printable: bool = False) -> Rows:
    # The common case inline (a line within the limit that decodes): this runs per event.
    decode, fast, errors = validation.decode, validation.decode_valid, validation.DECODE_ERRORS
    twins = validation.decode_printable
    for line in lines:
        result: Event | Rejection
        try:
            if len(line) > max_bytes:
                raise msgspec.DecodeError
            # validation.is_printable, inline (by byte value: `b"\\" in line` would first
            # try the bytes as an integer and format the TypeError, ~1,300 instructions)
            if printable and line.isascii() and 92 not in line and 127 not in line:
                result = twins(line)
            else:
                result = fast(line)
        except errors:
            result = decode(line, max_bytes=max_bytes)  # again, to say why
            if isinstance(result, Rejection):
                result.source_row = row
        yield row, result
        row += 1


def read_csv(path: Path) -> Rows:
    """Columns named as wire fields; an empty cell is an absent field; types converted."""
    lines = open_text(path)
    for row, record in enumerate(csv.DictReader(lines)):
        obj: dict[str, Any] = {}
        for name, value in record.items():
            if name is None:  # more cells than header columns
                obj["(cells beyond the header)"] = value
            elif value not in ("", None):
                obj[name] = _json_cell(value) if name in _JSON_TEXT_COLUMNS else value
        result = validation.from_obj(obj)
        if isinstance(result, Rejection):
            result.source_row = row
        yield row, result


def _json_cell(value: str) -> Any:
    try:
        return msgspec.json.decode(value)
    except msgspec.DecodeError:
        return value  # let validation name the field


def read_parquet(path: Path, *, batch_rows: int = 65_536, max_bytes: int = 64 * 1024) -> Rows:
    """Rows of a Parquet file in the event layout (``riskops.events.tabular``)."""
    for batch in _parquet_batches(path, batch_rows):
        rows = range(batch.first_row, batch.first_row + batch.data.num_rows)
        yield from zip(rows, parse_record_batch(batch.data, rows, max_bytes), strict=True)


def _parquet_batches(path: Path, size: int) -> Iterator[Batch]:
    return _guarded(_parquet_record_batches(path, size), path, batch_rows)


def _parquet_record_batches(path: Path, size: int) -> Iterator[Batch]:
    import pyarrow as pa

    row = 0
    try:
        for record_batch in _parquet_file(path).iter_batches(batch_size=size):
            yield Batch("parquet", row, record_batch)
            row += record_batch.num_rows
    except pa.ArrowException as exc:
        raise UnreadableFile(f"{path.name}: cannot read past data row {row}: {exc}") from exc


def _parquet_file(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFile(f"{path.name} is not a readable Parquet file: {exc}") from exc


def parse_record_batch(
    record_batch: Any, rows: Iterable[int], max_bytes: int = 64 * 1024
) -> Iterator[Event | Rejection]:
    """Validate the rows of a Parquet record batch, one by one (``rows``: their numbers in
    the file, which rejections carry)."""
    import pyarrow as pa

    from riskops.events.tabular import table_to_wire_dicts

    decode, from_obj = validation.decode, validation.from_obj
    encode = msgspec.json.Encoder().encode
    table = _utc_times_as_text(pa.Table.from_batches([record_batch]))
    for row, obj in zip(rows, table_to_wire_dicts(table), strict=True):
        # Typed columns encode to valid wire JSON; a JSON round trip through the typed
        # decoder is ~4x faster than msgspec.convert on a dict. Only a refusal takes the
        # lenient path (convert, non-strict), which also diagnoses every field.
        raw = encode(obj)
        result = decode(raw, max_bytes=max_bytes)
        if isinstance(result, Rejection) and len(raw) <= max_bytes:
            result = from_obj(obj, raw)
        if isinstance(result, Rejection):
            result.source_row = row
        yield result


def parse_body(body: bytes, *, ndjson: bool, max_event_bytes: int) -> list[Event | Rejection]:
    """An HTTP body: one JSON event, a JSON array of events, or NDJSON (one per line).

    An empty body or one that is not JSON at all is one rejection (item 0), so it reaches
    the dead-letter store like any other refusal. Blank NDJSON lines are skipped.
    """
    decode = validation.decode
    stripped = body.strip()
    if not stripped:
        reason = "empty request body: send one JSON event, a JSON array or NDJSON"
        return [Rejection([FieldError("$", reason)], body)]
    if ndjson:
        lines = (line.strip() for line in stripped.split(b"\n"))
        return [decode(line, max_bytes=max_event_bytes) for line in lines if line]
    if stripped[:1] == b"[":
        try:
            items = _raw_list(stripped)
        except validation.DECODE_ERRORS as exc:
            reason = json_problem(stripped) or f"not valid JSON: {exc}"
            return [Rejection([FieldError("$", reason)], body)]
        return [decode(bytes(item), max_bytes=max_event_bytes) for item in items]
    return [decode(stripped, max_bytes=max_event_bytes)]


_raw_list = msgspec.json.Decoder(list[msgspec.Raw]).decode


def _utc_times_as_text(table: Any) -> Any:
    """UTC timestamp columns as RFC 3339 text: Arrow formats them ~3x faster than it builds
    Python datetimes, and the decoder parses the text anyway. Other zones are left alone.
    The text is Arrow's own, with the fraction the column's unit gives (".000000" for
    microseconds); a zone-free cast formats ~30x faster than ``strftime`` on UTC."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz in ("UTC", "+00:00"):
            naive = table.column(index).cast(pa.timestamp(field.type.unit))
            text = pc.replace_substring(naive.cast(pa.string()), " ", "T", max_replacements=1)
            text = pc.binary_join_element_wise(text, pa.scalar("Z"), pa.scalar(""))
            table = table.set_column(index, field.name, text)
    return table
