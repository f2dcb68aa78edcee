"""Parquet batches validated and encoded a column at a time (``pyarrow.compute``).

The per-row path (``adapters``) turns each row into a dict, JSON, an ``Event`` and back to
canonical JSON: ~10 µs an event. Here each event type's rows are checked with whole-column
operations against the rules the typed decoder applies (required fields, lengths, patterns,
enum values, ranges, exact decimals, UTC times), and the canonical JSON of the rows that
pass is assembled from column text, as ``msgspec`` writes it: fields in the struct's
encoding order, defaults for absent fields. Only the hash and the row layout are per-row
Python.

The column path is a conservative subset: any row it does not vouch for (a refusal, or a
value whose canonical text needs Python: escapes, decimal exponents, nested lists) goes
through the per-row path, so refusals and their field-level reasons are that path's.
Tests check that both paths give the same rows and dead letters.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect as mi
import pyarrow as pa
import pyarrow.compute as pc

from riskops.events import adapters, service
from riskops.events.schemas import EVENT_TYPES, PROBLEMS, SCHEMA_VERSION, Event, bound_of
from riskops.events.tabular import EVENT_COLUMNS
from riskops.kernel import bounds
from riskops.kernel.bounds import BOUNDS
from riskops.kernel.clock import to_us, utcnow

# Decimal text that ``str(Decimal(text))`` gives back unchanged (no sign, exponent, leading
# zero or more than five zeros after "0."), so the text is its own canonical form, and
# that is within its bound (``riskops.kernel.bounds``): fewer integer digits than the
# ceiling has (so below it), at most the allowed decimal places. Values near the ceiling
# go row by row, where the exact check decides.


def _decimal_text(ceiling: Decimal, places: int, *, zero: bool) -> str:
    below = len(str(int(ceiling))) - 1  # digits of a whole part surely below the ceiling
    whole = f"[1-9][0-9]{{0,{below - 1}}}" if below > 0 else None
    fraction = f"(?:\\.[0-9]{{1,{places}}})?" if places else ""
    small = [  # 0.1 to 0.000001, at most ``places`` decimals in all
        f"0\\.{'0' * zeros}[1-9][0-9]{{0,{places - zeros - 1}}}" for zeros in range(min(6, places))
    ]
    branches = ([whole + fraction] if whole else []) + small
    if zero:
        branches.append("0" + fraction)
    return f"^(?:{'|'.join(branches)})$" if branches else "^$"


_DECIMAL_TEXT = {
    "amount": _decimal_text(BOUNDS.max_amount, BOUNDS.amount_decimal_places, zero=False),
    "usd": _decimal_text(BOUNDS.max_usd_value, 2, zero=True),
}
_PLAIN = r"(?:[1-9][0-9]*(?:\.[0-9]+)?|0\.0{0,5}[1-9][0-9]*)"
_ANY_DECIMAL = rf"^-?(?:{_PLAIN}|0(?:\.0{{1,6}})?)$"  # a decimal without a bound
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'  # what msgspec escapes in a JSON string
_CONTROL = r"[\x7f-\x9f]"  # control characters msgspec leaves as they are (text_problem)
_PRINTABLE_ID = "^[!-~](?:[ -~]*[!-~])?$"  # plain ASCII without surrounding spaces
_TIMESTAMP = pa.timestamp("us", tz="UTC")
# Python's datetime and date span years 1-9999.
_MIN_US, _MAX_US = -62_135_596_800_000_000, 253_402_300_799_999_999
_MIN_DAY, _MAX_DAY = -719_162, 2_932_896
# The wire JSON of a row is at most this much longer than its canonical JSON (a time
# column's text carries ".000000"); the size limit applies to the wire JSON.
_WIRE_SLACK = 7

Column = Any  # a pyarrow Array


@functools.cache
def _lit(value: str | int | bool) -> pa.Scalar:
    # Plain Python values given to pyarrow.compute are converted on every call, and that
    # conversion retries a failing import each time: ~1 µs an event over a batch's calls.
    return pa.scalar(value, pa.string() if isinstance(value, str) else None)


@dataclass(frozen=True)
class _Field:
    name: str
    required: bool
    default: str  # the JSON of the default (unused when required)
    check: Callable[[Column], Column]  # which values are valid (a bool array; nulls aside)
    text: Callable[[Column], Column]  # the value's JSON text


def _unwrap(kind: Any) -> tuple[Any, bool]:
    if isinstance(kind, mi.Metadata):
        return _unwrap(kind.type)[0], False
    if isinstance(kind, mi.UnionType):
        types = [t for t in kind.types if not isinstance(t, mi.NoneType)]
        if len(types) == 1 and len(kind.types) == 2:
            return _unwrap(types[0])[0], True
    return kind, False


def _quoted(column: Column) -> Column:
    return pc.binary_join_element_wise(_lit('"'), column, _lit('"'), _lit(""))


def _str_check(kind: mi.StrType) -> Callable[[Column], Column]:
    def check(column: Column) -> Column:
        ok = pc.invert(pc.match_substring_regex(column, _NEEDS_ESCAPE))
        length = pc.utf8_length(column)
        if kind.min_length is not None:
            ok = pc.and_(ok, pc.greater_equal(length, _lit(kind.min_length)))
        if kind.max_length is not None:
            ok = pc.and_(ok, pc.less_equal(length, _lit(kind.max_length)))
        if kind.pattern is not None:
            ok = pc.and_(ok, pc.match_substring_regex(column, kind.pattern))
        return ok

    return check


def _int_check(name: str, kind: mi.IntType) -> Callable[[Column], Column] | None:
    if kind.gt is not None or kind.lt is not None or kind.multiple_of is not None:
        return None
    low, high = kind.ge, kind.le
    if name == "schema_version":  # Event.__post_init__
        low = high = SCHEMA_VERSION

    def check(column: Column) -> Column:
        ok = pc.is_valid(column)
        if low is not None:
            ok = pc.and_(ok, pc.greater_equal(column, _lit(low)))
        if high is not None:
            ok = pc.and_(ok, pc.less_equal(column, _lit(high)))
        return ok

    return check


def _utc_text(column: Column) -> Column:
    """``YYYY-MM-DD HH:MM:SS.ffffff``: the stored layout (``repository.stored_time``)."""
    return column.cast(pa.timestamp("us")).cast(pa.string())


def _time_json(column: Column) -> Column:
    text = _utc_text(column)
    whole = pc.ends_with(text, ".000000")
    seconds = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, 10), pc.utf8_slice_codeunits(text, 11, 19), _lit("T")
    )
    fraction = pc.if_else(whole, _lit(""), pc.utf8_slice_codeunits(text, 19, 26))
    return _quoted(pc.binary_join_element_wise(seconds, fraction, _lit("Z"), _lit("")))


def _field(name: str, info: mi.Field) -> _Field | None:
    """How to check and write one field of a struct; None if the column path cannot."""
    kind, optional = _unwrap(info.type)
    expected = EVENT_COLUMNS.get(name)
    check: Callable[[Column], Column] | None
    text: Callable[[Column], Column] = _quoted
    if isinstance(kind, mi.StrType) and expected == pa.string():
        check = _str_check(kind)
    elif isinstance(kind, mi.EnumType) and expected == pa.string():
        values = pa.array([member.value for member in kind.cls])

        def check(column: Column, values: Any = values) -> Column:
            return pc.is_in(column, value_set=values)

    elif isinstance(kind, mi.DecimalType) and expected == pa.string():
        pattern = _DECIMAL_TEXT.get(bound_of(info.type) or "", _ANY_DECIMAL)

        def check(column: Column, pattern: str = pattern) -> Column:
            return pc.match_substring_regex(column, pattern)

    elif isinstance(kind, mi.BoolType) and expected == pa.bool_():
        check, text = pc.is_valid, _bool_json
    elif isinstance(kind, mi.IntType) and expected == pa.int64():
        check, text = _int_check(name, kind), _int_json
    elif isinstance(kind, mi.DateTimeType) and kind.tz and expected == _TIMESTAMP:
        check, text = _time_check, _time_json
    elif isinstance(kind, mi.DateType) and expected == pa.date32():
        check, text = _date_check, _date_json
    else:
        return None
    if check is None:
        return None
    check = _within_bound(check, bound_of(info.type))
    if info.required:
        default = ""
    elif info.default is msgspec.NODEFAULT or info.default_factory is not msgspec.NODEFAULT:
        return None
    else:
        default = msgspec.json.encode(info.default).decode()
    if optional and info.default is not None:  # pragma: no cover - no such field today
        return None
    return _Field(info.encode_name, info.required, default, check, text)


def _bool_json(column: Column) -> Column:
    return pc.if_else(column, _lit("true"), _lit("false"))


def _int_json(column: Column) -> Column:
    return column.cast(pa.string())


def _time_check(column: Column) -> Column:
    micros = column.cast(pa.int64())
    return pc.and_(pc.greater_equal(micros, _lit(_MIN_US)), pc.less_equal(micros, _lit(_MAX_US)))


def _date_check(column: Column) -> Column:
    days = column.cast(pa.int32())
    return pc.and_(pc.greater_equal(days, _lit(_MIN_DAY)), pc.less_equal(days, _lit(_MAX_DAY)))


# --- the bounds (``riskops.kernel.bounds``), a column at a time ---------------------------
# Each vouches only for values its bound surely accepts; the rest go row by row.


def _identifier_check(column: Column) -> Column:
    # ASCII only: for it, ``str.isprintable`` is the range the pattern names.
    return pc.match_substring_regex(column, _PRINTABLE_ID)


def _text_check(column: Column) -> Column:
    return pc.invert(pc.match_substring_regex(column, _CONTROL))


def _ip_check(column: Column) -> Column:
    # An address repeats across a batch: each distinct one is checked once, in Python.
    distinct = pc.unique(column).drop_null().to_pylist()
    good = [value for value in distinct if bounds.ip_problem(value) is None]
    return pc.is_in(column, value_set=pa.array(good, pa.string()))


def _time_window(column: Column) -> Column:
    micros = column.cast(pa.int64())
    earliest, now = to_us(BOUNDS.min_event_time), to_us(datetime.now(UTC))
    return pc.and_(pc.greater_equal(micros, _lit(earliest)), pc.less_equal(micros, _lit(now)))


def _birth_window(column: Column) -> Column:
    days = column.cast(pa.int32())
    earliest = (BOUNDS.min_birth_date - _EPOCH_DAY).days
    today = (datetime.now(UTC).date() - _EPOCH_DAY).days
    return pc.and_(pc.greater_equal(days, _lit(earliest)), pc.less_equal(days, _lit(today)))


_EPOCH_DAY = date(1970, 1, 1)
_BOUND_CHECKS: dict[str, Callable[[Column], Column] | None] = {
    "identifier": _identifier_check,
    "text": _text_check,
    "ip": _ip_check,
    "time": _time_window,
    "birth_date": _birth_window,
    "amount": None,  # in the decimal text's pattern (_DECIMAL_TEXT)
    "usd": None,
}
assert set(_BOUND_CHECKS) == set(PROBLEMS), "a bound without its column check"


def _within_bound(
    check: Callable[[Column], Column], bound: str | None
) -> Callable[[Column], Column]:
    extra = _BOUND_CHECKS[bound] if bound is not None else None
    if extra is None:
        return check

    def both(column: Column) -> Column:
        return pc.and_(check(column), extra(column))

    return both


def _date_json(column: Column) -> Column:
    return _quoted(column.cast(pa.string()))


@dataclass(frozen=True)
class _Plan:
    tag: str
    fields: tuple[_Field, ...]


def _plan(cls: type[Event]) -> _Plan | None:
    # Only the rules the checks above cover: Event's (schema version, field bounds).
    if cls.__post_init__ is not Event.__post_init__:
        return None
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    fields = []
    for field in info.fields:
        planned = _field(field.encode_name, field)
        if planned is None:
            return None
        fields.append(planned)
    return _Plan(str(info.tag), tuple(fields))


_PLANS = {tag: plan for tag, cls in EVENT_TYPES.items() if (plan := _plan(cls)) is not None}


def _payloads(batch: pa.RecordBatch, plan: _Plan, max_bytes: int) -> Column:
    """Canonical JSON of the batch's rows (all of type ``plan.tag``), null where the
    column path cannot vouch for a row."""
    names = set(batch.schema.names)
    null = pa.nulls(batch.num_rows, pa.string())
    ok = pc.is_valid(batch.column("type"))  # all true
    pieces: list[Any] = ['{"type":"' + plan.tag + '"']
    own = {"type"}
    for field in plan.fields:
        own.add(field.name)
        column = batch.column(field.name) if field.name in names else null
        if column.null_count == len(column):
            if field.required:
                return null
            pieces.append(f',"{field.name}":{field.default}')
            continue
        valid = pc.fill_null(field.check(column), _lit(False))
        ok = pc.and_(ok, pc.if_else(pc.is_valid(column), valid, _lit(not field.required)))
        value = field.text(column)
        if not field.required:
            value = pc.coalesce(value, _lit(field.default))
        pieces += [f',"{field.name}":', value]
    for name in names - own:  # any other event column set: not a field of this type
        if name in EVENT_COLUMNS:
            ok = pc.and_(ok, pc.is_null(batch.column(name)))
    pieces.append("}")
    # Adjacent literals as one piece, each a scalar (see _lit).
    merged: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    args = [_lit(p) if isinstance(p, str) else p for p in merged]
    payload = pc.binary_join_element_wise(*args, _lit(""))
    size = pc.binary_length(payload)
    ok = pc.and_(ok, pc.less_equal(size, _lit(max_bytes - _WIRE_SLACK)))
    return pc.if_else(ok, payload, null)


def _fits(schema: pa.Schema) -> bool:
    """Whether every event column has the type of the event layout (else: per row)."""
    for field in schema:
        expected = EVENT_COLUMNS.get(field.name)
        if expected is not None and field.type != expected and field.type != pa.null():
            return False
    return "type" in schema.names and len(set(schema.names)) == len(schema.names)


def prepare_record_batch(
    batch: pa.RecordBatch,
    first_row: int,
    source: str,
    source_name: str | None,
    *,
    max_bytes: int = 64 * 1024,
) -> service.Prepared:
    """Validate and prepare one Parquet record batch: what ``service.prepare`` makes of
    the per-row path's results for it, column by column where it can."""
    chunk = service.Prepared(source, source_name, utcnow())
    rows = batch.num_rows
    payloads = pa.nulls(rows, pa.string())
    if _fits(batch.schema):
        kinds = batch.column("type")
        for tag in pc.unique(kinds).drop_null().to_pylist():
            plan = _PLANS.get(tag)
            if plan is None:
                continue
            mask = pc.fill_null(pc.equal(kinds, _lit(tag)), _lit(False))
            part = _payloads(batch.filter(mask), plan, max_bytes)
            payloads = pc.replace_with_mask(payloads, mask, part)
    slow = pc.indices_nonzero(pc.is_null(payloads))
    rows_slow = [first_row + position for position in slow.to_pylist()]
    results = adapters.parse_record_batch(batch.take(slow), rows_slow, max_bytes)
    texts = payloads.to_pylist()
    if len(slow) == rows:
        values: list[Any] = [()] * rows
    else:
        values = list(
            zip(
                batch.column("event_id").to_pylist(),
                batch.column("type").to_pylist(),
                batch.column("account_id").to_pylist(),
                _utc_text(batch.column("occurred_at")).to_pylist(),
                strict=True,
            )
        )
    add, take = chunk.add, chunk.take
    for position, text in enumerate(texts):
        row = first_row + position
        if text is None:
            take(row, row, next(results))
        else:
            event_id, kind, account_id, occurred_at = values[position]
            add(row, row, event_id, kind, account_id, occurred_at, text)
    return chunk


def _check_enums() -> None:  # pragma: no cover - a guard on the schema
    for cls in EVENT_TYPES.values():
        for field in mi.type_info(cls).fields:  # type: ignore[attr-defined]
            kind, _ = _unwrap(field.type)
            if isinstance(kind, mi.EnumType) and not issubclass(kind.cls, enum.StrEnum):
                raise TypeError(f"{cls.__name__}.{field.name}: only text enums are supported")


_check_enums()
