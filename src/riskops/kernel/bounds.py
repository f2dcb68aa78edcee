"""The bounds on every input: one definition, read once from the settings (ADR 0015).

What a client may send is bounded here, and nowhere else: the event schema
(``riskops.events.schemas``), its column-at-a-time twin (``riskops.events.columnar``), the
case intake's alert check and the request bodies of every API all ask this module. Each
check returns the reason a value is refused, or None; the callers raise their own errors.

- identifiers: not blank, no surrounding spaces, nothing invisible (``str.isprintable``:
  no control, format or separator characters other than the ASCII space), a length limit;
- free text: no control characters (C0, DEL, C1; PostgreSQL cannot store NUL in text);
- times: not before ``min_event_time``, not later than ``max_clock_skew_seconds`` from now;
- amounts: positive, at most ``amount_decimal_places`` decimals, at most ``max_amount``;
- USD values: non-negative, whole cents, at most ``max_usd_value``;
- IP addresses: IPv4 or IPv6 as the standard library's ``ipaddress`` reads them;
- JSON: nesting no deeper than ``max_json_depth``;
- database integers (ids, offsets): 0 to 2**63 - 1, what a BIGINT column holds.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from riskops.kernel.config import Settings, get_settings

MAX_DB_INT = 2**63 - 1
"""The largest id, offset or count a database integer column holds (BIGINT)."""

# Text length limits, one per kind of field, for every write endpoint's body.
NAME_CHARS = 128  # names, titles, keys, labels
SHORT_TEXT_CHARS = 256  # short free text: a reason, a subject, a search query
LONG_TEXT_CHARS = 20_000  # notes, comments, descriptions, message bodies

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_NOTE_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF, CR allowed
# Brackets outside JSON strings, to measure nesting (strings are removed first).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


@dataclass(frozen=True)
class Bounds:
    """The configured bounds (``Settings``), as the checks use them."""

    max_identifier_length: int
    min_event_time: datetime
    max_clock_skew: timedelta
    max_amount: Decimal
    amount_decimal_places: int
    max_usd_value: Decimal
    max_json_depth: int
    min_birth_date: date = date(1900, 1, 1)

    @classmethod
    def from_settings(cls, settings: Settings) -> Bounds:
        """The bounds a deployment configured (``RISKOPS_*``)."""
        earliest = settings.min_event_time
        if earliest.tzinfo is None:
            earliest = earliest.replace(tzinfo=UTC)
        return cls(
            max_identifier_length=settings.max_identifier_length,
            min_event_time=earliest.astimezone(UTC),
            max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds),
            max_amount=settings.max_amount,
            amount_decimal_places=settings.amount_decimal_places,
            max_usd_value=settings.max_usd_value,
            max_json_depth=settings.max_json_depth,
        )


BOUNDS = Bounds.from_settings(get_settings())
"""The process's bounds, read once: the event schema's constraints are built from them."""

# --- identifiers and text -----------------------------------------------------------------


def identifier_problem(value: str, *, limit: int | None = None) -> str | None:
    """Why ``value`` is not a usable identifier (account, event, counterparty id), or None."""
    limit = BOUNDS.max_identifier_length if limit is None else limit
    if not value:
        return "must not be empty"
    if len(value) > limit:
        return f"longer than {limit} characters"
    if not value.isprintable():  # C-fast; the precise reason only for a refusal
        return "contains a control or invisible character" + _first_invisible(value)
    if value[0] == " " or value[-1] == " ":
        return "must not start or end with a space" if value.strip() else "must not be blank"
    return None


def text_problem(value: str) -> str | None:
    """Why free text ``value`` cannot be stored as it is (a control character), or None."""
    if value.isprintable():  # the common case: nothing to look for
        return None
    found = _CONTROL.search(value)
    if found is None:
        return None  # only format or separator characters: fine in free text
    return f"contains the control character U+{ord(found.group()):04X} at {found.start()}"


def note_problem(value: str) -> str | None:
    """Why multi-line text ``value`` (a note, a comment) cannot be stored as it is: a control
    character other than tab, line feed and carriage return. None if it can."""
    if value.isprintable():
        return None
    found = _NOTE_CONTROL.search(value)
    if found is None:
        return None
    return f"contains the control character U+{ord(found.group()):04X} at {found.start()}"


def string_problems(value: Any, path: str = "$") -> list[tuple[str, str]]:
    """``(path, reason)`` for every string in a decoded body (structs, mappings, lists,
    keys too) that ``note_problem`` refuses: what no text column may receive."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        reason = note_problem(value)
        if reason is not None:
            found.append((path, reason))
    elif isinstance(value, msgspec.Struct):
        for field in msgspec.structs.fields(value):
            found += string_problems(getattr(value, field.name), f"{path}.{field.encode_name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += string_problems(key, f"{path}.{key!s:.64}")
            found += string_problems(item, f"{path}.{key!s:.64}")
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            found += string_problems(item, f"{path}[{position}]")
    return found


def _first_invisible(value: str) -> str:
    for position, char in enumerate(value):
        if not char.isprintable():
            return f" (U+{ord(char):04X} at {position})"
    return ""  # pragma: no cover - only called when one is there


# --- times ------------------------------------------------------------------------------

known_past = datetime.now(UTC)
"""A moment known to be past (the latest clock read): an event time up to it needs no
clock read to pass. Moved on by ``time_problem``."""


def time_problem(moment: datetime) -> str | None:
    """Why an event time is implausible (before the window, or in the future), or None."""
    global known_past
    if moment.tzinfo is None:
        return "must carry a UTC offset"
    if moment < BOUNDS.min_event_time:
        return f"before {BOUNDS.min_event_time.isoformat()}, the earliest accepted"
    if moment <= known_past:  # the cheap case: no clock read
        return None
    now = datetime.now(UTC)
    known_past = now
    if moment > now + BOUNDS.max_clock_skew:
        seconds = int(BOUNDS.max_clock_skew.total_seconds())
        return f"more than {seconds} s in the future"
    return None


def birth_date_problem(day: date) -> str | None:
    """Why a date of birth is implausible, or None."""
    if day < BOUNDS.min_birth_date:
        return f"before {BOUNDS.min_birth_date.isoformat()}"
    if day > datetime.now(UTC).date():
        return "in the future"
    return None


# --- money ------------------------------------------------------------------------------

CENT = Decimal("0.01")
AMOUNT_STEP = Decimal(1).scaleb(-BOUNDS.amount_decimal_places)
WIDE = Context(prec=80, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Enough digits to quantize any bounded amount to its last decimal place exactly (the
default context's 28 digits would raise for 10**15 at 18 places)."""
EXACT = Context(prec=80, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Inexact])
"""``WIDE`` that raises when a quantize would lose digits: ``value.quantize(step, None,
EXACT)`` returning at all says that ``value`` has no more decimals than ``step``, without
comparing the result to ``value`` (half the cost of the check on the hot path)."""


def amount_problem(value: Decimal) -> str | None:
    """Why ``value`` is not an asset amount (positive, bounded precision and size), or None."""
    if not value.is_finite() or value <= 0:
        return "must be a positive finite number"
    if value > BOUNDS.max_amount:
        return f"more than {BOUNDS.max_amount}"
    if value != value.quantize(AMOUNT_STEP, None, WIDE):
        return f"more than {BOUNDS.amount_decimal_places} decimal places"
    return None


def usd_problem(value: Decimal) -> str | None:
    """Why ``value`` is not a USD value (non-negative, whole cents, bounded), or None."""
    if not value.is_finite() or value < 0:
        return "must be a non-negative finite number"
    if value > BOUNDS.max_usd_value:
        return f"more than {BOUNDS.max_usd_value}"
    if value != value.quantize(CENT, None, WIDE):
        return "has more than two decimal places"
    return None


# --- network ----------------------------------------------------------------------------


def ip_problem(value: str) -> str | None:
    """Why ``value`` is not an IPv4 or IPv6 address (``ipaddress``), or None."""
    if ip_fast(value):
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "not an IPv4 or IPv6 address"
    return None


KNOWN_IPS: set[str] = set()
"""Addresses ``ip_fast`` accepted lately: an address recurs across a stream's events, and a
set lookup costs a tenth of parsing it again (emptied when it holds 65,536)."""


def ip_fast(value: str) -> bool:
    """Whether ``value`` is a plain IPv4 or IPv6 address, by the C library (~20x faster
    than ``ipaddress``, which accepts all of these too and decides the rest: a test checks
    that this never accepts what ``ipaddress`` refuses)."""
    family = socket.AF_INET6 if ":" in value else socket.AF_INET
    try:
        socket.inet_pton(family, value)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return False
    if len(KNOWN_IPS) >= 65_536:
        KNOWN_IPS.clear()
    KNOWN_IPS.add(value)
    return True


# --- JSON -------------------------------------------------------------------------------


def alert_problems(
    *,
    source_ref: str,
    kind: str,
    title: str,
    severity: int,
    amount_usd: Decimal,
    account_id: str | None,
    occurred_at: datetime | None,
) -> list[dict[str, str]]:
    """What makes an alert unfit to become a case alert, field by field (empty if none).
    One definition for the publisher (the monitor refuses, so quarantines, an event whose
    alert would be refused) and the case intake, which share no import (ADR 0023)."""
    problems = []
    if not source_ref.strip():
        problems.append({"field": "$.source_ref", "reason": "the source's own id is required"})
    if not kind.strip():
        problems.append({"field": "$.kind", "reason": "required"})
    if not title.strip():
        problems.append({"field": "$.title", "reason": "required"})
    if not 0 <= severity <= 100:
        problems.append({"field": "$.severity", "reason": "must be between 0 and 100"})
    if amount_usd < 0:
        problems.append({"field": "$.amount_usd", "reason": "must not be negative"})
    if account_id is not None and (wrong := identifier_problem(account_id)):
        # The edge's check: what ingestion accepts is accepted here.
        problems.append({"field": "$.account_id", "reason": f"{wrong}; use null when unlinked"})
    if occurred_at is not None and occurred_at.tzinfo is None:
        problems.append({"field": "$.occurred_at", "reason": "must carry a UTC offset"})
    return problems


def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (0 for a scalar)."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub(b"", raw)):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def json_problem(raw: bytes) -> str | None:
    """Why a JSON text is refused before it is parsed (not UTF-8, nested too deep), or None.

    The parser would answer both with an exception that is no decoding error (a
    ``UnicodeDecodeError``, a ``RecursionError``): they are named here instead.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8: byte 0x{raw[exc.start]:02x} at {exc.start}"
    if json_depth(raw) > BOUNDS.max_json_depth:
        return f"nested deeper than {BOUNDS.max_json_depth} levels"
    return None


def decode_json(raw: bytes, cls: Any = Any) -> Any:
    """``msgspec.json.decode(raw, type=cls)`` for input from outside: bytes that are not
    UTF-8 or nest too deep raise ``msgspec.DecodeError`` with the reason, as any other
    malformed JSON does (msgspec would raise UnicodeDecodeError or RecursionError)."""
    problem = json_problem(raw)
    if problem is not None:
        raise msgspec.DecodeError(problem)
    return msgspec.json.decode(raw, type=cls)


# --- request types ------------------------------------------------------------------------

DbInt = Annotated[int, Meta(ge=0, le=MAX_DB_INT)]
"""An integer a database column holds (an offset, a count) in a msgspec body."""
RowId = Annotated[int, Meta(ge=1, le=MAX_DB_INT)]
"""A row id in a msgspec body."""
Name = Annotated[str, Meta(max_length=NAME_CHARS)]
ShortText = Annotated[str, Meta(max_length=SHORT_TEXT_CHARS)]
LongText = Annotated[str, Meta(max_length=LONG_TEXT_CHARS)]
