"""All SQL of the monitor. Functions take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Integer,
    Numeric,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from riskops.events.models import EventRecord
from riskops.kernel.db import positional
from riskops.monitor.models import (
    AccountEvent,
    Alert,
    Decision,
    DecisionOutcome,
    Hold,
    HoldStatus,
    MonitorCheckpoint,
)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@lru_cache(maxsize=32)
def _insert_ignore_stmt(dialect: str, table: Table) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def insert_ignore(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, skipping those whose unique key exists (replays are no-ops).

    Core ``executemany`` on the table (no ORM bulk machinery): this is the hot write path.
    On SQLite the statement is compiled once per table and set of columns, and the rows go
    to the driver as the values SQLAlchemy's own bind processors make of them (the same
    stored text), without Core's per-execution setup and per-row parameter building.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        plan = _sqlite_insert_ignore(dialect, model.__table__, tuple(rows[0]))
        if plan is not None and all(len(row) == plan.width for row in rows):
            connection.exec_driver_sql(plan.sql, plan.values(rows))
            return
    stmt = _insert_ignore_stmt(dialect.name, model.__table__)
    connection.execute(stmt, list(rows))


_UNSEEN = object()


@dataclass(frozen=True)
class _InsertPlan:
    """A compiled SQLite insert: its SQL (positional parameters), how to take a row's
    values in that order, and the bind processor of each value that has one."""

    sql: str
    width: int
    take: Callable[[dict[str, Any]], tuple[Any, ...]]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]

    def values(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        # A batch's rows share many values (its time, the outcome enums): each processor
        # reuses its last answer for the same object (processors are pure, values immutable).
        last: list[tuple[object, Any]] = [(_UNSEEN, None)] * len(self.processors)
        out = []
        for row in rows:
            values = list(self.take(row))
            for slot, (index, process) in enumerate(self.processors):
                value = values[index]
                seen, made = last[slot]
                if value is not seen:
                    made = process(value)
                    last[slot] = (value, made)
                values[index] = made
            out.append(tuple(values))
        return out


@lru_cache(maxsize=32)
def _sqlite_insert_ignore(dialect: Any, table: Table, keys: tuple[str, ...]) -> _InsertPlan | None:
    """The SQLite ``INSERT ... ON CONFLICT DO NOTHING`` of the columns ``keys``; None when
    the statement would need values the rows do not carry (a column default), or has a
    single column."""
    compiled = _insert_ignore_stmt("sqlite", table).compile(dialect=dialect, column_keys=list(keys))
    order = list(compiled.positiontup or [])
    if len(order) < 2 or sorted(order) != sorted(keys):
        return None
    found = compiled._bind_processors
    processors = tuple(
        (index, found[key]) for index, key in enumerate(order) if found.get(key) is not None
    )
    return _InsertPlan(compiled.string, len(order), itemgetter(*order), processors)


_TIMELINE_SQLITE = (
    "INSERT INTO account_events (account_id, seq) VALUES (?, ?) ON CONFLICT DO NOTHING"
)
_TIMELINE_PG = (
    "INSERT INTO account_events (account_id, seq) "
    "SELECT * FROM unnest(%s::varchar[], %s::bigint[]) ON CONFLICT DO NOTHING"
)


def insert_timeline(session: Session, accounts: list[str], seqs: list[int]) -> None:
    """Add events to the account timeline (``AccountEvent``): ``accounts[i]`` owns
    ``seqs[i]``; replays are no-ops. One row per event the monitor reads, so the values go
    to the driver as they are, without SQLAlchemy's per-row parameter processing (SQLite:
    ``executemany`` of tuples; PostgreSQL: one statement over two arrays)."""
    if not seqs:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_TIMELINE_PG, (accounts, seqs))
    else:
        connection.exec_driver_sql(_TIMELINE_SQLITE, list(zip(accounts, seqs, strict=True)))


def unmonitored(session: Session) -> ColumnElement[bool] | None:
    """The condition on the log's ``seq`` that picks its tail: the events after the
    furthest monitor checkpoint, not yet in the account timeline (``AccountEvent``); None
    when there are none. Every event up to that checkpoint is in the timeline.

    The checkpoint and the log's last seq are read first, as values: a tail bounded on
    both sides by known numbers is a short range scan of the log's primary key for any
    planner. With an open-ended ``seq > (subquery)`` and no statistics (autovacuum off, or
    a fresh bulk load) PostgreSQL guessed a third of the table and scanned all of it,
    100 ms a query on 1.2M events. An event appended after this read is simply newer than
    the page that shows it.
    """
    monitored = select(func.coalesce(func.max(MonitorCheckpoint.last_seq), 0)).scalar_subquery()
    last = select(func.coalesce(func.max(EventRecord.seq), 0)).scalar_subquery()
    low, high = session.execute(select(monitored, last)).one()
    if high <= low:
        return None
    return and_(EventRecord.seq > low, EventRecord.seq <= high)


def get_checkpoint(session: Session, name: str) -> int:
    value = session.scalar(select(MonitorCheckpoint.last_seq).where(MonitorCheckpoint.name == name))
    return int(value or 0)


@lru_cache(maxsize=4)
def _advance_stmt(dialect: str) -> Any:
    table = MonitorCheckpoint.__table__
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(
        name=bindparam("name"), last_seq=bindparam("seq"), updated_at=bindparam("now")
    )
    greatest = func.greatest if dialect == "postgresql" else func.max
    return stmt.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={
            "last_seq": greatest(table.c.last_seq, stmt.excluded.last_seq),
            "updated_at": stmt.excluded.updated_at,
        },
    )


@lru_cache(maxsize=4)
def _sqlite_advance(dialect: Any) -> tuple[str, Callable[[Any], Any]]:
    """The SQLite upsert of a checkpoint, compiled once: its SQL (positional parameters in
    the order name, seq, now) and the bind processor of the time (the stored text)."""
    sql, found = positional(_advance_stmt("sqlite"), dialect, ("name", "seq", "now"))
    return sql, found["now"]


def advance_checkpoint(session: Session, name: str, seq: int, now: datetime) -> None:
    """Move the checkpoint forward to ``seq`` (never backward: a replay may be behind it).

    Once a batch and once a decision group: on SQLite the statement compiled once goes to
    the driver with its values, without Core's per-execution setup (the same stored text).
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        sql, stored_time = _sqlite_advance(dialect)
        connection.exec_driver_sql(sql, (name, seq, stored_time(now)))
        return
    connection.execute(_advance_stmt(dialect.name), {"name": name, "seq": seq, "now": now})


def hold_ids(session: Session, event_ids: Iterable[str]) -> dict[str, int]:
    ids = list(event_ids)
    if not ids:
        return {}
    rows = session.execute(select(Hold.event_id, Hold.id).where(Hold.event_id.in_(ids)))
    return {event_id: hold_id for event_id, hold_id in rows}


def decision_for(session: Session, event_id: str, row: int = 0) -> Decision | None:
    return session.scalar(
        select(Decision).where(Decision.event_id == event_id, Decision.row == row)
    )


def get_hold(session: Session, hold_id: int, *, for_update: bool = False) -> Hold | None:
    stmt = select(Hold).where(Hold.id == hold_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def held_holds(
    session: Session, hold_ids: Iterable[int], account_id: str | None, *, for_update: bool = False
) -> list[Hold]:
    """Holds still ``held`` among ``hold_ids`` or of ``account_id``, oldest first; locked
    for the caller's transaction when ``for_update`` (PostgreSQL)."""
    ids = list(hold_ids)
    which: list[ColumnElement[bool]] = [Hold.id.in_(ids)] if ids else []
    if account_id is not None:
        which.append(Hold.account_id == account_id)
    if not which:
        return []
    stmt = select(Hold).where(Hold.status == HoldStatus.HELD, or_(*which)).order_by(Hold.id)
    if for_update:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def holds_by_ids(session: Session, hold_ids: Iterable[int]) -> list[Hold]:
    ids = list(hold_ids)
    if not ids:
        return []
    return list(session.scalars(select(Hold).where(Hold.id.in_(ids)).order_by(Hold.id)))


def set_hold_resolution(
    session: Session,
    hold_id: int,
    status: HoldStatus,
    actor: str,
    note: str,
    now: datetime,
    approved_by: str | None = None,
) -> bool:
    """Resolve a hold still ``held``; False if it was resolved meanwhile (compare-and-set)."""
    result = session.execute(
        update(Hold)
        .where(Hold.id == hold_id, Hold.status == HoldStatus.HELD)
        .values(
            status=status, resolved_by=actor, approved_by=approved_by, note=note, resolved_at=now
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _page(stmt: Select[Any], limit: int, offset: int) -> Select[Any]:
    return stmt.limit(limit).offset(offset)


def list_holds(session: Session, status: HoldStatus | None, limit: int, offset: int) -> list[Hold]:
    stmt = select(Hold).order_by(Hold.id)
    if status is not None:
        stmt = stmt.where(Hold.status == status)
    return list(session.scalars(_page(stmt, limit, offset)))


def list_alerts(
    session: Session, account_id: str | None, rule_id: str | None, limit: int, offset: int
) -> list[Alert]:
    stmt = select(Alert).order_by(Alert.id.desc())
    if account_id is not None:
        stmt = stmt.where(Alert.account_id == account_id)
    if rule_id is not None:
        stmt = stmt.where(Alert.rule_id == rule_id)
    return list(session.scalars(_page(stmt, limit, offset)))


def list_decisions(
    session: Session, account_id: str | None, limit: int, offset: int
) -> list[Decision]:
    stmt = select(Decision).order_by(Decision.id.desc())
    if account_id is not None:
        stmt = stmt.where(Decision.account_id == account_id)
    return list(session.scalars(_page(stmt, limit, offset)))


def count_decisions(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Decision)) or 0)


@lru_cache(maxsize=1)
def _log_after_stmt() -> Any:
    from riskops.events.models import EventRecord

    events = EventRecord.__table__
    return (
        select(events.c.seq, events.c.payload, events.c.received_at)
        .where(events.c.seq > bindparam("seq"))
        .order_by(events.c.seq)
        .limit(bindparam("limit"))
    )


def log_after(session: Session, seq: int, limit: int) -> list[Any]:
    """``(seq, payload, received_at)`` rows of the log after ``seq``, in order: the tail.

    Only the three columns the monitor needs, as plain rows (no ORM objects), from a
    statement built once: this is the hot read of the worker and of every decision.
    """
    params = {"seq": seq, "limit": limit}
    return list(session.connection().execute(_log_after_stmt(), params))


# --- quarantine and health ----------------------------------------------------------


def _replayed_ids(subject: str, action: str) -> Any:
    """Ids (as text) of the dead letters with a replay entry in the audit trail."""
    from riskops.audit.models import AuditEntry

    return select(AuditEntry.subject_id).where(
        AuditEntry.subject_type == subject, AuditEntry.action == action
    )


def quarantined_seqs(
    session: Session, after: int, source: str, subject: str, action: str
) -> set[int]:
    """Log positions after ``after`` quarantined by the monitor (dead letters of
    ``source``, ``source_row`` = seq) and not replayed (no ``action`` entry)."""
    from sqlalchemy import String, cast

    from riskops.events.models import DeadLetter

    stmt = select(DeadLetter.source_row).where(
        DeadLetter.source == source,
        DeadLetter.source_row > after,
        cast(DeadLetter.id, String).not_in(_replayed_ids(subject, action)),
    )
    return {int(seq) for seq in session.scalars(stmt) if seq is not None}


def quarantined_events(
    session: Session, event_ids: Sequence[str], source: str, subject: str, action: str
) -> dict[str, int]:
    """``event_id -> dead letter id`` of these events quarantined and not replayed."""
    from sqlalchemy import String, cast

    from riskops.events.models import DeadLetter

    if not event_ids:
        return {}
    stmt = select(DeadLetter.event_id, DeadLetter.id).where(
        DeadLetter.source == source,
        DeadLetter.event_id.in_(list(event_ids)),
        cast(DeadLetter.id, String).not_in(_replayed_ids(subject, action)),
    )
    return {event_id: int(id_) for event_id, id_ in session.execute(stmt) if event_id}


def count_quarantined(session: Session, source: str, subject: str, action: str) -> int:
    """Dead letters of ``source`` (the monitor's) not replayed."""
    from sqlalchemy import String, cast

    from riskops.events.models import DeadLetter

    stmt = (
        select(func.count())
        .select_from(DeadLetter)
        .where(
            DeadLetter.source == source,
            cast(DeadLetter.id, String).not_in(_replayed_ids(subject, action)),
        )
    )
    return int(session.scalar(stmt) or 0)


def progress(session: Session, name: str) -> tuple[int, datetime | None, int, datetime | None]:
    """``(checkpoint, its last update, the log's last seq, receipt of the first event
    after the checkpoint)``: what health needs to tell lag and stalls apart."""
    checkpoint = session.execute(
        select(MonitorCheckpoint.last_seq, MonitorCheckpoint.updated_at).where(
            MonitorCheckpoint.name == name
        )
    ).one_or_none()
    seq, updated = (int(checkpoint[0]), checkpoint[1]) if checkpoint else (0, None)
    last = int(session.scalar(select(func.max(EventRecord.seq))) or 0)
    first_pending = None
    if last > seq:
        first_pending = session.scalar(
            select(EventRecord.received_at)
            .where(EventRecord.seq > seq)
            .order_by(EventRecord.seq)
            .limit(1)
        )
    return seq, updated, last, first_pending


def outcome_counts(session: Session) -> list[tuple[str, int]]:
    """Stored decisions by outcome (the decision log; plain allows are not stored)."""
    stmt = select(Decision.outcome, func.count()).group_by(Decision.outcome)
    return [(str(outcome), int(n)) for outcome, n in session.execute(stmt)]


# --- one account's events and holds (the account 360 reads them, ADR 0013) --------------
#
# Every query is bounded (a limit, or a window on one account) and finds the account's
# events through the timeline (``account_seqs``): an account page costs a fixed handful of
# queries, whatever the history.

_EVENTS = EventRecord.__table__


def account_seqs(session: Session, account_id: str) -> Select[Any] | CompoundSelect[Any]:
    """The seqs of the account's own events, for ``seq.in_(...)``: the timeline
    (``AccountEvent``) up to the monitor's checkpoint, and the log's tail after it, events
    not monitored yet, read by a range of ``seq`` (the log has no account index, ADR 0013).
    Every monitor batch writes the timeline of its events with its checkpoint, so the
    furthest checkpoint bounds what the timeline holds. If the monitor moves on between
    the two reads, an event may be named twice, which ``IN`` ignores; none is missed."""
    timeline = select(AccountEvent.seq).where(AccountEvent.account_id == account_id)
    tail = unmonitored(session)
    if tail is None:
        return timeline
    return union_all(
        timeline, select(_EVENTS.c.seq).where(tail, _EVENTS.c.account_id == account_id)
    )


def account_payloads(
    session: Session, account_id: str, types: Sequence[str], limit: int = 50
) -> list[tuple[str, str]]:
    """``(type, payload)`` of the account's events of ``types``, oldest first."""
    stmt = (
        select(_EVENTS.c.type, _EVENTS.c.payload)
        .where(_EVENTS.c.seq.in_(account_seqs(session, account_id)), _EVENTS.c.type.in_(types))
        .order_by(_EVENTS.c.seq)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.connection().execute(stmt)]


def has_account_events(session: Session, account_id: str) -> bool:
    stmt = account_seqs(session, account_id).limit(1)
    return session.connection().execute(stmt).first() is not None


def _usd_cents(session: Session) -> ColumnElement[Any]:
    """The event's ``usd_value`` in integer cents, read from the JSON payload (exact)."""
    if _dialect(session) == "postgresql":
        usd = cast(cast(_EVENTS.c.payload, JSONB)["usd_value"].astext, Numeric(20, 2))
        return cast(func.round(usd * 100), BigInteger)
    # SQLite reads the decimal text as a double; rounding the cents makes each term exact.
    return cast(func.round(func.json_extract(_EVENTS.c.payload, "$.usd_value") * 100), Integer)


def account_flows_since(
    session: Session, account_id: str, types: Sequence[str], since: datetime
) -> dict[str, tuple[int, int]]:
    """``{type: (count, usd_cents)}`` of the account's events of ``types`` since ``since``."""
    stmt = (
        select(_EVENTS.c.type, func.count(), func.coalesce(func.sum(_usd_cents(session)), 0))
        .where(
            _EVENTS.c.seq.in_(account_seqs(session, account_id)),
            _EVENTS.c.type.in_(types),
            _EVENTS.c.occurred_at >= since,
        )
        .group_by(_EVENTS.c.type)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in session.connection().execute(stmt)}


def account_timeline(
    session: Session,
    account_id: str,
    *,
    types: Sequence[str] | None,
    before_seq: int | None,
    limit: int,
) -> list[Any]:
    """``(seq, event_id, type, occurred_at, payload)`` newest first (by ``seq``)."""
    stmt = select(
        _EVENTS.c.seq, _EVENTS.c.event_id, _EVENTS.c.type, _EVENTS.c.occurred_at, _EVENTS.c.payload
    ).where(_EVENTS.c.seq.in_(account_seqs(session, account_id)))
    if types:
        stmt = stmt.where(_EVENTS.c.type.in_(list(types)))
    if before_seq is not None:
        stmt = stmt.where(_EVENTS.c.seq < before_seq)
    stmt = stmt.order_by(_EVENTS.c.seq.desc()).limit(limit)
    return list(session.connection().execute(stmt))


def acting_decisions(session: Session, after: int, upto: int) -> list[Any]:
    """The decisions that act (review, hold, block) on the log's events in (after, upto],
    in log order, as plain rows (account_id, event_id, row, event_type, outcome, reasons,
    rule_ids, decided_at, asset: the held withdrawal's, if any): what the account rating
    weighs of them (``service.account_signals``). A range of the decisions' seq index."""
    stmt = (
        select(
            Decision.account_id,
            Decision.event_id,
            Decision.row,
            Decision.event_type,
            Decision.outcome,
            Decision.reasons,
            Decision.rule_ids,
            Decision.decided_at,
            Hold.asset,
        )
        .outerjoin(Hold, and_(Hold.event_id == Decision.event_id, Decision.row == 0))
        .where(
            Decision.seq > after,
            Decision.seq <= upto,
            Decision.outcome != DecisionOutcome.ALLOW,
        )
        .order_by(Decision.seq, Decision.row)
    )
    return list(session.execute(stmt))


def decisions_for(session: Session, event_ids: Iterable[str]) -> dict[str, Decision]:
    """The decision on each event (row 0, the event's own row), by event id."""
    ids = list(event_ids)
    if not ids:
        return {}
    stmt = select(Decision).where(Decision.event_id.in_(ids), Decision.row == 0)
    return {d.event_id: d for d in session.scalars(stmt)}


def holds_of_account(session: Session, account_id: str, limit: int = 20) -> list[Hold]:
    """The account's held withdrawals first, then its most recent resolved ones."""
    held_first = (Hold.status != HoldStatus.HELD).asc()
    stmt = (
        select(Hold)
        .where(Hold.account_id == account_id)
        .order_by(held_first, Hold.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def count_holds(session: Session, status: HoldStatus) -> int:
    stmt = select(func.count()).select_from(Hold).where(Hold.status == status)
    return int(session.scalar(stmt) or 0)
