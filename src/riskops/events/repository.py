"""All SQL of the events package: the event log and the dead-letter store.

Bulk inserts bypass the ORM (no object per row). Events are inserted with
``ON CONFLICT (event_id) DO NOTHING``, so a concurrent writer of the same id never fails
the batch, and the caller learns exactly which rows it stored.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from riskops.events.models import DeadLetter, EventRecord
from riskops.kernel.errors import Busy

EVENTS = EventRecord.__table__
# Ids per IN (...) lookup: far below the bind-parameter limits of SQLite and PostgreSQL.
_LOOKUP_CHUNK = 2_000


EVENT_ROW = (
    "event_id",
    "type",
    "account_id",
    "occurred_at",
    "source_row",
    "payload",
)
"""Layout of the rows that ``insert_events`` takes, one after another in one flat list
(the rest is the same per call); ``occurred_at`` is ``stored_time`` text."""
ROW_WIDTH = len(EVENT_ROW)
_COLUMNS = ", ".join(EVENT_ROW) + ", received_at, source, source_name"

# SQLite: rows go in batches of multi-row VALUES, one statement per batch: ~1.8x faster
# than executemany (one VM step per batch, not per row) and it keeps the GIL released for a
# whole batch instead of taking it back for every row. The values shared by every row are
# bound once per statement (?1-?3), so a row binds 6 values, not 9: 500-row statements
# with shared values insert ~15% faster than 100-row statements without them.
_SQLITE_BATCH = 500
_SQLITE_TOP = "SELECT event_id FROM events ORDER BY seq DESC LIMIT ?"
_SQLITE_LAST = "SELECT max(seq) FROM events"


@functools.lru_cache(maxsize=8)
def _sqlite_insert(rows: int) -> str:
    """``INSERT`` of ``rows`` rows: parameters 1-3 are the shared values, then each row's."""
    values = ", ".join(
        "(" + ", ".join(f"?{4 + r * ROW_WIDTH + i}" for i in range(ROW_WIDTH)) + ", ?1, ?2, ?3)"
        for r in range(rows)
    )
    return f"INSERT INTO events ({_COLUMNS}) VALUES {values} ON CONFLICT (event_id) DO NOTHING"


# PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT. COPY skips query
# parsing and per-value quoting, the two costs that dominate multi-row VALUES or arrays.
_LOCK_NOT_AVAILABLE = "55P03"
_PG_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_events (ord bigint, event_id varchar, "
    "type varchar, account_id varchar, occurred_at timestamptz, source_row bigint, "
    "payload text, received_at timestamptz, source varchar, "
    "source_name varchar) ON COMMIT DELETE ROWS"
)
_PG_COPY = f"COPY incoming_events (ord, {_COLUMNS}) FROM STDIN"
_PG_INSERT = (
    f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM incoming_events ORDER BY ord "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq"
)
_encode_time = msgspec.json.Encoder().encode


_last_time = (datetime.min.replace(tzinfo=UTC), "0001-01-01 00:00:00.000000")
"""The latest ``stored_time`` and its text, as one tuple (threads read and replace it
whole): events of a file come in time order, and many share their time with the one
before (in the benchmark's files, 9 in 10), which then costs a comparison."""


def stored_time(moment: datetime) -> str:
    """A time as ``insert_events`` rows carry it: UTC text in the layout SQLAlchemy's
    DateTime type reads and writes on SQLite (PostgreSQL reads it with a +00 offset)."""
    global _last_time
    last = _last_time
    if moment == last[0]:  # the same instant, whatever its offset: the same UTC text
        return last[1]
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    # msgspec writes '"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"' ~15x faster than isoformat.
    text = _encode_time(utc).decode()
    if len(text) == 22:  # whole seconds
        text = f"{text[1:11]} {text[12:20]}.000000"
    else:
        text = f"{text[1:11]} {text[12:27]}"
    _last_time = (moment, text)
    return text


@dataclass(frozen=True, slots=True)
class Stored:
    """What ``insert_events`` stored: how many rows, their ``seq`` range, and which ids
    (``ids`` is None when every row given was stored, the usual case)."""

    count: int
    first_seq: int
    last_seq: int
    ids: set[str] | None

    def holds(self, event_id: str) -> bool:
        """Whether this call stored ``event_id`` (one of the ids it was given)."""
        return self.ids is None or event_id in self.ids


NOTHING_STORED = Stored(0, 0, 0, set())


def insert_events(
    session: Session,
    rows: Sequence[Any],
    *,
    received_at: datetime,
    source: str,
    source_name: str | None,
) -> Stored:
    """Insert event rows (``rows``: their values one after another, each row in
    ``EVENT_ROW`` order), skipping ids already stored, and say which rows were stored.
    ``seq`` follows the order of the rows.

    This is the ingest hot path: ``INSERT ... ON CONFLICT (event_id) DO NOTHING`` fed in
    bulk (multi-row VALUES on SQLite, COPY on PostgreSQL), with no per-row ORM or Core work.
    """
    if not rows:
        return NOTHING_STORED
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return _insert_sqlite(connection, rows, received_at, source, source_name)
    if dialect != "postgresql":
        raise NotImplementedError(f"event log insert is not implemented for {dialect}")
    return _insert_postgresql(connection, rows, received_at, source, source_name)


# Arbitrary constant naming the event-log append lock (pg_advisory_xact_lock takes a bigint),
# hashed with the schema: advisory locks are the database's, and the event logs of two
# schemas (tests, benchmarks, two deployments on one server) must not wait on each other's
# appends (seen: a routed-decisions bench's partition worker waited the whole timeout, twice,
# while a test in another schema held the lock on purpose).
_EVENT_LOG_LOCK = 0x7269736B6F7073  # "riskops"
APPEND_LOCK_KEY = f"hashtextextended(current_schema(), {_EVENT_LOG_LOCK})"
# How long an append waits for that lock. A file chunk holds it well under a second; a
# holder that stops (a process frozen mid-COPY) must not stop every writer of events for
# ever: past this, the append fails with ``Busy`` (HTTP 503, the NATS consumer retries).
# A session that has a lock_timeout of its own (the server's configuration) keeps it.
APPEND_LOCK_TIMEOUT_SECONDS = 10
_PG_LOCK = (
    f"SELECT set_config('lock_timeout', '{APPEND_LOCK_TIMEOUT_SECONDS}s', true)"
    " WHERE current_setting('lock_timeout') = '0'; "
    f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})"
)


def _insert_postgresql(
    connection: Connection,
    rows: Sequence[Any],
    received_at: datetime,
    source: str,
    source_name: str | None,
) -> Stored:
    # A sequence value is taken at insert, not at commit: two concurrent appenders could
    # commit seq 11 after seq 12 is visible, and a reader tailing by seq would skip 11.
    # Appends therefore hold a transaction-scoped lock, so seq order is commit order.
    try:
        connection.exec_driver_sql(_PG_LOCK)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise Busy("the event log is busy; try again in a few seconds") from exc
        raise
    connection.exec_driver_sql(_PG_STAGE)
    driver = connection.connection.driver_connection
    shared = (received_at, source, source_name)
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(_PG_COPY) as copy:
            for position, start in enumerate(range(0, len(rows), ROW_WIDTH)):
                event_id, kind, account, at, row, payload = rows[start : start + ROW_WIDTH]
                copy.write_row(
                    (position, event_id, kind, account, at + "+00", row, payload, *shared)
                )
        cursor.execute(_PG_INSERT)
        stored = {row[0]: row[1] for row in cursor.fetchall()}
        cursor.execute("DELETE FROM incoming_events")
    if not stored:
        return NOTHING_STORED
    seqs = stored.values()
    ids = None if len(stored) * ROW_WIDTH == len(rows) else set(stored)
    return Stored(len(stored), min(seqs), max(seqs), ids)


def _insert_sqlite(
    connection: Connection,
    rows: Sequence[Any],
    received_at: datetime,
    source: str,
    source_name: str | None,
) -> Stored:
    # Which rows were stored is exact without RETURNING: SQLite has one writer, and from
    # this statement on the transaction holds the write lock, so the rows it stored got
    # consecutive `seq` values ending at max(seq) (an INTEGER PRIMARY KEY is max + 1).
    if not connection.info.get("riskops_cache_size"):
        # Event ids are random keys: a 64 MiB page cache keeps the unique index's B-tree
        # in memory (~1.4x faster bulk ingestion than the 2 MiB default). Per connection.
        connection.exec_driver_sql("PRAGMA cache_size=-65536")
        connection.info["riskops_cache_size"] = True
    shared = (stored_time(received_at), source, source_name)
    step = _SQLITE_BATCH * ROW_WIDTH
    inserted = 0
    for start in range(0, len(rows), step):
        values = shared + tuple(rows[start : start + step])
        statement = _sqlite_insert((len(values) - 3) // ROW_WIDTH)
        inserted += connection.exec_driver_sql(statement, values).rowcount
    if inserted <= 0:
        return NOTHING_STORED
    last = int(connection.exec_driver_sql(_SQLITE_LAST).scalar_one())
    ids = None
    if inserted * ROW_WIDTH < len(rows):  # some ids were taken: name the ones this call stored
        top = connection.exec_driver_sql(_SQLITE_TOP, (inserted,))
        ids = {row[0] for row in top}
    return Stored(inserted, last - inserted + 1, last, ids)


def stored_payloads(session: Session, event_ids: Iterable[str]) -> dict[str, str]:
    """``event_id -> payload`` (canonical JSON) of the given ids that are in the log."""
    ids = list(dict.fromkeys(event_ids))
    found: dict[str, str] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        query = select(EVENTS.c.event_id, EVENTS.c.payload).where(EVENTS.c.event_id.in_(chunk))
        found.update({row[0]: row[1] for row in session.connection().execute(query)})
    return found


def storable(text: str) -> str:
    """``text`` as both databases store it: PostgreSQL refuses NUL in text, and neither
    driver encodes a lone surrogate (a JSON ``\\ud800`` escape, or a file name that is not
    UTF-8). Those are written as backslash escapes; any other text is kept as it is.
    For the text columns of dead letters: the exact input is kept in ``raw``, as bytes."""
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def raw_bytes(raw: bytes | str) -> bytes:
    """Raw input as the dead-letter store keeps it: bytes as they are; text as UTF-8 (a
    lone surrogate kept by ``surrogatepass``, so the text can be decoded back exactly)."""
    return raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)


_DEAD_TEXT = ("source", "source_name", "event_id", "reason", "errors")


def _dead_letter_row(row: dict[str, Any]) -> dict[str, Any]:
    values = dict(row)
    for name in _DEAD_TEXT:
        if isinstance(values.get(name), str):
            values[name] = storable(values[name])
    raw = raw_bytes(values["raw"])
    digest = hashlib.sha256(raw).hexdigest()
    # Where the input came from and what it was: the same bytes at the same place (a file
    # re-run, a redelivered message, a repeated request body) are one dead letter.
    origin = (values["source"], values.get("source_name"), values.get("source_row"), digest)
    values.update(
        raw=raw,
        digest=digest,
        input_key=hashlib.sha256(_encode_key(origin)).hexdigest(),
    )
    return values


_encode_key = msgspec.json.Encoder().encode


def insert_dead_letters(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Store refused input (rows are ``dead_letters`` column values; ``raw`` as bytes or
    text), each input once: one already stored from the same source, source name and
    row, with the same bytes, is skipped (``ON CONFLICT DO NOTHING``). Text values that a
    database cannot hold (NUL, lone surrogates) are escaped; ``raw`` is kept exactly."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect.name
    statement: Executable
    if dialect == "sqlite":
        statement = sqlite_insert(DeadLetter).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql_insert(DeadLetter).on_conflict_do_nothing()
    else:  # pragma: no cover - riskops runs on SQLite and PostgreSQL
        raise NotImplementedError(f"dead-letter insert is not implemented for {dialect}")
    connection.execute(statement, [_dead_letter_row(row) for row in rows])


def list_dead_letters(
    session: Session, *, limit: int = 50, offset: int = 0, source: str | None = None
) -> tuple[list[DeadLetter], int]:
    """A page of dead letters, newest first, and the total matching the filter."""
    query = select(DeadLetter)
    total_query = select(func.count()).select_from(DeadLetter)
    if source is not None:
        query = query.where(DeadLetter.source == source)
        total_query = total_query.where(DeadLetter.source == source)
    query = query.order_by(DeadLetter.id.desc()).limit(limit).offset(offset)
    items = list(session.scalars(query))
    return items, int(session.scalar(total_query) or 0)


def get_dead_letter(session: Session, dead_letter_id: int) -> DeadLetter | None:
    """One dead letter by id."""
    return session.get(DeadLetter, dead_letter_id)


def read_after(session: Session, seq: int, limit: int = 1_000) -> list[EventRecord]:
    """Events with ``seq`` greater than the given one, in log order (how the monitor tails)."""
    query = select(EventRecord).where(EventRecord.seq > seq).order_by(EventRecord.seq).limit(limit)
    return list(session.scalars(query))


def payloads_of_type(session: Session, event_type: str, limit: int) -> list[str]:
    """The canonical JSON of the first ``limit`` events of a type, in log order."""
    stmt = (
        select(EventRecord.payload)
        .where(EventRecord.type == event_type)
        .order_by(EventRecord.seq)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def count_events(session: Session) -> int:
    """Number of events in the log."""
    return int(session.scalar(select(func.count()).select_from(EventRecord)) or 0)


def count_dead_letters(session: Session, source: str | None = None) -> int:
    """Number of dead letters (of one source, if given)."""
    query = select(func.count()).select_from(DeadLetter)
    if source is not None:
        query = query.where(DeadLetter.source == source)
    return int(session.scalar(query) or 0)


def last_seq(session: Session) -> int:
    """The highest ``seq`` in the log (0 when empty)."""
    return int(session.scalar(select(func.max(EventRecord.seq))) or 0)


def dead_letters_by_source(session: Session) -> list[tuple[str, int]]:
    """``(source, count)`` of the dead letters, by source (for metrics)."""
    stmt = select(DeadLetter.source, func.count()).group_by(DeadLetter.source)
    rows = session.execute(stmt.order_by(DeadLetter.source))
    return [(str(source), int(n)) for source, n in rows]


DEAD_LETTER_SUBJECT = "dead_letter"  # audit subject type of a dead letter
DEAD_LETTER_REPLAYED = "dead_letter.replayed"  # the audit action that marks it replayed


def replayed_dead_letters(session: Session, dead_letter_ids: Iterable[int]) -> set[int]:
    """Which of these dead letters were replayed: their replay is an audit entry (the
    trail is append-only, so a replay is never undone; ADR 0016)."""
    from riskops.audit.models import AuditEntry

    ids = [str(i) for i in dead_letter_ids]
    if not ids:
        return set()
    stmt = select(AuditEntry.subject_id).where(
        AuditEntry.subject_type == DEAD_LETTER_SUBJECT,
        AuditEntry.action == DEAD_LETTER_REPLAYED,
        AuditEntry.subject_id.in_(ids),
    )
    return {int(i) for i in session.scalars(stmt)}
