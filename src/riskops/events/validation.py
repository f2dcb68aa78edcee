"""Decode and validate events, with a reason for every bad field.

The fast path decodes straight into the tagged union (one pass, msgspec). Only when that
fails does the slow path look at the payload field by field, so that a rejection lists
every problem at once (``$.amount: ...``, ``$.ip_country: ...``), not just the first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Any, Union

import msgspec

from riskops.events.schemas import (
    EVENT_TYPES,
    PLAIN_TYPES,
    PROBLEMS,
    AnyEvent,
    Event,
    bounded_fields,
)
from riskops.kernel.bounds import json_problem

_decoder = msgspec.json.Decoder(AnyEvent)
_any_decoder = msgspec.json.Decoder()
_exact_decoder = msgspec.json.Decoder(float_hook=Decimal)
decode_valid = _decoder.decode
"""A valid event from JSON, or one of ``DECODE_ERRORS`` (no reasons: ``decode`` gives them)."""
decode_printable = msgspec.json.Decoder(Union[tuple(PLAIN_TYPES.values())]).decode  # noqa: UP007
"""``decode_valid`` for a JSON text of ASCII without backslashes or DEL (``is_printable``):
the event comes as its type's twin (``schemas.PLAIN_TYPES``), same fields and JSON."""
DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What ``decode_valid`` raises for input that is no valid event: msgspec's errors, and
bytes that are not UTF-8 or nest too deep, which msgspec lets through as Python's."""


def is_printable(raw: bytes) -> bool:
    """Whether every string a JSON text holds is printable ASCII, should it decode: its
    bytes are ASCII, without a backslash (an escape) or DEL; the JSON decoder refuses the
    other control characters in a string. Three scans of the bytes in C (bytes searched
    by value: a one-byte ``bytes`` operand would first fail as an integer, at a cost)."""
    return raw.isascii() and 92 not in raw and 127 not in raw  # no backslash, no DEL


class FieldError(msgspec.Struct, frozen=True):
    field: str
    reason: str


class Rejection(msgspec.Struct):
    """Why an event was refused, with its raw payload kept for the dead-letter store."""

    errors: list[FieldError]
    raw: bytes
    event_id: str | None = None
    source_row: int | None = None

    @property
    def reason(self) -> str:
        return "; ".join(f"{e.field}: {e.reason}" for e in self.errors)


def decode(raw: bytes, *, max_bytes: int = 64 * 1024) -> Event | Rejection:
    """One JSON event, or the reasons it was refused."""
    if len(raw) > max_bytes:
        return Rejection(
            [FieldError("$", f"event is {len(raw)} bytes; the limit is {max_bytes}")], raw
        )
    try:
        event: Event = _decoder.decode(raw)
        return event
    except DECODE_ERRORS:
        pass
    return diagnose_json(raw)


def diagnose_json(raw: bytes) -> Rejection:
    """Every reason why the JSON text ``raw`` is not a valid event: it is not JSON, not
    UTF-8, nested too deep (before it is parsed), or ``diagnose``'s field reasons."""
    problem = json_problem(raw)
    if problem is not None:
        return Rejection([FieldError("$", problem)], raw)
    try:
        obj = _any_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        try:  # a number beyond a float's range (1e400) is a field's problem, named there
            obj = _exact_decoder.decode(raw)
        except msgspec.DecodeError:
            return Rejection([FieldError("$", f"not valid JSON: {exc}")], raw)
    return diagnose(obj, raw)


def from_obj(obj: Any, raw: bytes | None = None) -> Event | Rejection:
    """Validate an already-parsed mapping (CSV, Parquet and broker adapters)."""
    try:
        event: Event = msgspec.convert(obj, AnyEvent, strict=False)
        return event
    except msgspec.ValidationError:
        pass
    if raw is None:
        raw = msgspec.json.encode(obj)
    return diagnose(obj, raw, strict=False)


def _event_id(obj: Any) -> str | None:
    if isinstance(obj, dict) and isinstance(event_id := obj.get("event_id"), str):
        return event_id[:128]
    return None


def diagnose(obj: Any, raw: bytes, *, strict: bool = True) -> Rejection:
    """Every field-level reason why ``obj`` is not a valid event."""
    event_id = _event_id(obj)
    if not isinstance(obj, dict):
        return Rejection([_not_an_object(obj)], raw, event_id)
    event_type = obj.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        if event_type is None:
            reason = "missing"
        elif isinstance(event_type, str):
            reason = f"unknown event type {event_type[:64]!r}"
        else:
            reason = f"expected a string, got {_json_type(event_type)}"
        return Rejection([FieldError("$.type", f"{reason}; known types: {known}")], raw, event_id)
    cls = EVENT_TYPES[event_type]
    errors = field_errors(
        obj,
        cls,
        ignore=("type",),  # the union's tag: not a field of the struct
        unknown=f"unknown field for {event_type}",
        checks=bound_checks(cls),
        strict=strict,
    )
    return Rejection(errors, raw, event_id)


def bound_checks(cls: type[Any]) -> dict[str, Callable[[Any], object]]:
    """By wire name, the bound checks of a struct's fields (ValueError with the reason),
    for ``field_errors``: the same checks its ``__post_init__`` runs."""
    return {
        wire_name: functools.partial(_raise_problem, PROBLEMS[bound])
        for _, wire_name, bound in bounded_fields(cls)
    }


def _raise_problem(problem: Callable[[Any], str | None], value: Any) -> None:
    if value is None:
        return
    reason = problem(value)
    if reason is not None:
        raise ValueError(reason)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)


def field_errors(
    obj: Any,
    cls: type[Any],
    *,
    ignore: Collection[str] = (),
    unknown: str = "unknown field",
    checks: Mapping[str, Callable[[Any], object]] | None = None,
    strict: bool = True,
) -> list[FieldError]:
    """Every field-level reason why ``obj`` (a parsed JSON value) is not a ``cls``.

    Each field is converted on its own so that all bad fields are listed, not only the first.
    ``ignore``: keys that are not struct fields yet allowed (a union's tag); ``unknown``: the
    reason given for any other extra key; ``checks``: by field, rules that msgspec
    constraints cannot express (raising ValueError); ``strict`` as in ``msgspec.convert``.
    """
    if not isinstance(obj, dict):
        return [_not_an_object(obj)]
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    errors = [
        FieldError(f"$.{name}", unknown)
        for name in obj
        if name not in fields and name not in ignore
    ]
    for name, info in fields.items():
        if name not in obj:
            if info.required:
                errors.append(FieldError(f"$.{name}", "required field is missing"))
            continue
        try:
            value = msgspec.convert(obj[name], info.type, strict=strict)
        except msgspec.ValidationError as exc:
            errors.append(FieldError(f"$.{name}", _clean(str(exc))))
            continue
        check = checks.get(name) if checks else None
        if check is not None:
            try:
                check(value)
            except ValueError as exc:
                errors.append(FieldError(f"$.{name}", str(exc)))
    if not errors:
        # Every field is right on its own: the error is a rule across fields (__post_init__).
        try:
            msgspec.convert(obj, cls, strict=strict)
        except msgspec.ValidationError as exc:
            errors.append(FieldError(_where(str(exc)), _clean(str(exc))))
        else:  # pragma: no cover - the caller's decode failed, so something must be wrong
            errors.append(FieldError("$", f"not a valid {cls.__name__}"))
    return errors


def _not_an_object(obj: Any) -> FieldError:
    return FieldError("$", f"expected a JSON object, got {type(obj).__name__}")


def _clean(message: str) -> str:
    return message.split(" - at `", 1)[0]


def _where(message: str) -> str:
    if " - at `" in message:
        return message.split(" - at `", 1)[1].rstrip("`")
    return "$"


def encode(event: Event) -> bytes:
    return msgspec.json.encode(event)
