"""All SQL of case work. Functions take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar
from typing import cast as as_type

from sqlalchemy import (
    JSON,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import delete as delete_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.schema import Table

from riskops.audit.models import AuditEntry
from riskops.auth.models import User
from riskops.cases.models import (
    ActionStatus,
    AlertSource,
    Case,
    CaseAction,
    CaseAlert,
    CaseEvent,
    CaseStatus,
    IntakeOutbox,
    Note,
    NoteAmendment,
    Queue,
    Shift,
)
from riskops.kernel.types import UtcDateTime


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


_Row = TypeVar("_Row")


def add(session: Session, obj: _Row) -> _Row:
    session.add(obj)
    session.flush()
    return obj


def add_all(session: Session, objs: Sequence[Any]) -> None:
    """Add and flush together: one multi-row INSERT per table, in the order given."""
    session.add_all(objs)
    session.flush()


class Raced(Exception):
    """A unique key was taken by a concurrent transaction; the savepoint was rolled back."""


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """Run a write that may lose a race in a savepoint; ``Raced`` if a unique key was taken.

    Only PostgreSQL needs (and gets) the savepoint: SQLite serializes writers, and releasing
    an outermost SAVEPOINT there would commit the caller's transaction.
    """
    if not is_postgres(session):
        with nullcontext():
            yield
        return
    nested = session.begin_nested()
    try:
        yield
        session.flush()
    except IntegrityError as exc:
        nested.rollback()
        raise Raced(str(exc.orig)) from exc
    except BaseException:
        if nested.is_active:
            nested.rollback()
        raise
    nested.commit()


# --- queues ---------------------------------------------------------------------------

_HELD_QUEUES = "riskops.cases.queues"


def queues(session: Session) -> list[Queue]:
    return list(session.scalars(select(Queue).order_by(Queue.position, Queue.key)))


def get_queue(session: Session, key: str) -> Queue | None:
    return session.get(Queue, key)


def queues_by_key(session: Session, keys: Collection[str]) -> dict[str, Queue]:
    """The queues of ``keys`` that exist.

    Like ``session.get``, a queue read once in a session is not read again; but the identity
    map holds objects weakly, so the queues (a handful of rows) are kept in ``session.info``
    to spare intake, one alert after another, a query per alert.
    """
    held: dict[str, Queue] = session.info.setdefault(_HELD_QUEUES, {})
    found = {k: held[k] for k in set(keys) if k in held and held[k] in session}
    missing = sorted(set(keys) - found.keys())
    if missing:
        for queue in session.scalars(select(Queue).where(Queue.key.in_(missing))):
            found[queue.key] = held[queue.key] = queue
    return found


def insert_queues_ignore(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    module = postgresql if is_postgres(session) else sqlite
    stmt = module.insert(Queue.__table__).on_conflict_do_nothing()
    session.connection().execute(stmt, list(rows))


def queue_stats(session: Session, now: datetime, soon: timedelta) -> list[Any]:
    """Per queue, over open cases: open, unassigned, oldest open, breached, due soon.

    One grouped query (an index on queue_key, status serves it); a paused SLA is neither
    breached nor due.
    """
    running = Case.sla_paused_at.is_(None)
    stmt = (
        select(
            Case.queue_key,
            func.count(),
            func.sum(case((Case.assignee_id.is_(None), 1), else_=0)),
            func.min(Case.opened_at),
            func.sum(case((and_(running, Case.due_at < now), 1), else_=0)),
            func.sum(
                case((and_(running, Case.due_at >= now, Case.due_at < now + soon), 1), else_=0)
            ),
        )
        .where(Case.status != CaseStatus.CLOSED)
        .group_by(Case.queue_key)
    )
    return list(session.execute(stmt))


# --- alerts ---------------------------------------------------------------------------


def alerts_by_refs(
    session: Session, refs: Collection[tuple[AlertSource, str]]
) -> dict[tuple[AlertSource, str], CaseAlert]:
    """The stored alerts among ``(source, source_ref)`` pairs, in one query."""
    by_source: dict[AlertSource, set[str]] = {}
    for source, ref in refs:
        by_source.setdefault(source, set()).add(ref)
    if not by_source:
        return {}
    stmt = select(CaseAlert).where(
        or_(
            *(
                and_(CaseAlert.source == source, CaseAlert.source_ref.in_(sorted(keys)))
                for source, keys in by_source.items()
            )
        )
    )
    return {(a.source, a.source_ref): a for a in session.scalars(stmt)}


def grouping_facts(session: Session, case_ids: Collection[int]) -> list[Any]:
    """``(case_id, id, kind, detail)`` of the original (not duplicate) alerts of the cases,
    oldest first: what intake needs to spot duplicates and count money once."""
    if not case_ids:
        return []
    stmt = (
        select(CaseAlert.case_id, CaseAlert.id, CaseAlert.kind, CaseAlert.detail)
        .where(CaseAlert.case_id.in_(sorted(case_ids)), CaseAlert.duplicate_of.is_(None))
        .order_by(CaseAlert.id)
    )
    return list(session.execute(stmt))


def alerts_of(session: Session, case_id: int) -> list[CaseAlert]:
    stmt = select(CaseAlert).where(CaseAlert.case_id == case_id).order_by(CaseAlert.id)
    return list(session.scalars(stmt))


def alerts_of_account(session: Session, account_id: str) -> list[CaseAlert]:
    """The account's case alerts that belong to a case (a hold's case is found among them)."""
    stmt = (
        select(CaseAlert)
        .where(CaseAlert.account_id == account_id, CaseAlert.case_id.is_not(None))
        .order_by(CaseAlert.id)
    )
    return list(session.scalars(stmt))


# --- cases ----------------------------------------------------------------------------


def get_case(session: Session, case_id: int, *, for_update: bool = False) -> Case | None:
    stmt = select(Case).where(Case.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def cases_by_ids(session: Session, case_ids: Collection[int]) -> dict[int, Case]:
    if not case_ids:
        return {}
    stmt = select(Case).where(Case.id.in_(sorted(case_ids)))
    return {c.id: c for c in session.scalars(stmt.execution_options(populate_existing=True))}


def open_cases_of(
    session: Session, account_ids: Collection[str], *, for_update: bool = False
) -> dict[str, Case]:
    """The open case of each account that has one, in one query; locked in id order (so two
    transactions locking overlapping accounts do not deadlock)."""
    if not account_ids:
        return {}
    stmt = (
        select(Case)
        .where(Case.account_id.in_(sorted(account_ids)), Case.status != CaseStatus.CLOSED)
        .order_by(Case.id)
    )
    if for_update:
        stmt = stmt.with_for_update()
    rows = session.scalars(stmt.execution_options(populate_existing=True))
    return {c.account_id: c for c in rows if c.account_id is not None}


def open_cases_of_groups(
    session: Session, group_keys: Collection[str], *, for_update: bool = False
) -> dict[str, Case]:
    """The open case holding an alert of each group (the alert detail's ``group_key``, as a
    cluster of linked accounts names its alerts), the oldest if several, locked in id order.
    Reads the alerts of open cases only; grouped alerts are few (one per cluster state)."""
    if not group_keys:
        return {}
    key = CaseAlert.group_key
    stmt = (
        select(Case, key)
        .join(CaseAlert, CaseAlert.case_id == Case.id)
        .where(key.in_(sorted(group_keys)), Case.status != CaseStatus.CLOSED)
        .order_by(Case.id)
    )
    if for_update:
        stmt = stmt.with_for_update(of=Case)
    found: dict[str, Case] = {}
    for held, group in session.execute(stmt.execution_options(populate_existing=True)):
        if group is not None:  # always: the key is one of ``group_keys``
            found.setdefault(group, held)
    return found


def cases_of_account(session: Session, account_id: str, limit: int = 20) -> list[Case]:
    """The account's cases, the open one first, then newest."""
    open_first = (Case.status == CaseStatus.CLOSED).asc()
    stmt = (
        select(Case)
        .where(Case.account_id == account_id)
        .order_by(open_first, Case.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def recent_alerts_of_account(session: Session, account_id: str, limit: int = 10) -> list[CaseAlert]:
    """The account's newest case alerts, in a case or not."""
    stmt = (
        select(CaseAlert)
        .where(CaseAlert.account_id == account_id)
        .order_by(CaseAlert.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append case events in one multi-row INSERT, in the order given."""
    if rows:
        session.execute(insert(as_type(Table, CaseEvent.__table__)), list(rows))


# --- intake outbox --------------------------------------------------------------------


def enqueue_alerts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append outbox rows (``alert``, ``created_at``) in one executemany; no reads."""
    if rows:
        session.connection().execute(insert(as_type(Table, IntakeOutbox.__table__)), list(rows))


def take_outbox(session: Session, limit: int) -> list[tuple[int, str]]:
    """Delete the oldest ``limit`` outbox rows and return them (id, alert) in id order.

    The delete comes first so the caller's transaction owns the rows until it commits (a
    rollback puts them back). On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``,
    so a concurrent drainer takes the next rows instead of waiting or taking these; on
    SQLite the DELETE takes the database's write lock, which serializes drainers.
    """
    oldest = select(IntakeOutbox.id).order_by(IntakeOutbox.id).limit(limit)
    if is_postgres(session):
        oldest = oldest.with_for_update(skip_locked=True)
    stmt = (
        delete_rows(IntakeOutbox)
        .where(IntakeOutbox.id.in_(oldest))
        .returning(IntakeOutbox.id, IntakeOutbox.alert)
    )
    return sorted((int(i), str(a)) for i, a in session.execute(stmt))


def outbox_size(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(IntakeOutbox)) or 0)


def open_case_of(session: Session, account_id: str, *, for_update: bool = False) -> Case | None:
    stmt = select(Case).where(Case.account_id == account_id, Case.status != CaseStatus.CLOSED)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def _queue_order(stmt: Any) -> Any:
    return stmt.order_by(Case.priority.desc(), Case.due_at, Case.id)


def queue_cases(
    session: Session,
    queue_key: str,
    statuses: Collection[CaseStatus],
    limit: int,
    offset: int,
    after: tuple[int, datetime, int] | None,
) -> list[Case]:
    """A queue's cases by priority, then deadline; ``after`` is a keyset (priority, due, id)."""
    stmt = select(Case).where(Case.queue_key == queue_key, Case.status.in_(list(statuses)))
    if after is not None:
        p, due, cid = after
        stmt = stmt.where(
            or_(
                Case.priority < p,
                and_(Case.priority == p, Case.due_at > due),
                and_(Case.priority == p, Case.due_at == due, Case.id > cid),
            )
        )
    return list(session.scalars(_queue_order(stmt).limit(limit).offset(offset)))


def cases_of_assignee(session: Session, user_id: int) -> list[Case]:
    stmt = select(Case).where(Case.assignee_id == user_id, Case.status != CaseStatus.CLOSED)
    return list(session.scalars(_queue_order(stmt)))


def search(session: Session, account_id: str | None, case_id: int | None, limit: int) -> list[Case]:
    stmt = select(Case)
    if account_id is not None:
        stmt = stmt.where(Case.account_id == account_id)
    if case_id is not None:
        stmt = stmt.where(Case.id == case_id)
    return list(session.scalars(stmt.order_by(Case.id.desc()).limit(limit)))


def events_of(session: Session, case_id: int) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    return list(session.scalars(stmt))


def notes_of(session: Session, case_id: int) -> list[Note]:
    return list(session.scalars(select(Note).where(Note.case_id == case_id).order_by(Note.id)))


def amendments_of(session: Session, note_ids: Collection[int]) -> list[NoteAmendment]:
    if not note_ids:
        return []
    stmt = (
        select(NoteAmendment)
        .where(NoteAmendment.note_id.in_(list(note_ids)))
        .order_by(NoteAmendment.id)
    )
    return list(session.scalars(stmt))


def get_note(session: Session, note_id: int) -> Note | None:
    return session.get(Note, note_id)


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def users(session: Session, user_ids: Collection[int]) -> list[User]:
    if not user_ids:
        return []
    return list(session.scalars(select(User).where(User.id.in_(list(user_ids)))))


def active_users(session: Session) -> list[User]:
    stmt = select(User).where(User.active.is_(True)).order_by(User.display_name, User.id)
    return list(session.scalars(stmt))


# --- assignment -----------------------------------------------------------------------


# The literal 'new' (not a bound parameter) lets the planner match the partial take-next
# indexes (ix_cases_take_next, ix_cases_take_next_queue) even in a prepared statement.
_WAITING = and_(Case.status == literal_column("'new'"), Case.assignee_id.is_(None))


def _next_new(queue_keys: Collection[str] | None) -> Any:
    stmt = select(Case.id).where(_WAITING)
    if queue_keys is not None:
        stmt = stmt.where(Case.queue_key.in_(list(queue_keys)))
    return _queue_order(stmt)


def next_new_ids(session: Session, queue_keys: Collection[str] | None, limit: int) -> list[int]:
    return list(session.scalars(_next_new(queue_keys).limit(limit)))


def claim(session: Session, case_id: int, user_id: int, now: datetime) -> bool:
    """Assign a case still new and unassigned (compare-and-set); False if taken meanwhile."""
    result = session.execute(
        update(Case)
        .where(
            Case.id == case_id,
            Case.assignee_id.is_(None),
            Case.status == CaseStatus.NEW,
        )
        .values(
            assignee_id=user_id,
            status=CaseStatus.ASSIGNED,
            updated_at=now,
            version=Case.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _shift_scope() -> Any:
    """SQL for "the case's queue is one of the user's shift queues at ``:now``": every queue
    when the user has no shift naming queues, or a shift on every queue (empty list)."""
    on_duty = and_(
        Shift.user_id == bindparam("user_id"),
        Shift.starts_at <= bindparam("now"),
        Shift.ends_at > bindparam("now"),
    )
    keys = func.json_array_elements_text(Shift.queue_keys).table_valued("value")
    named = select(keys.c.value).select_from(Shift).join(keys, true()).where(on_duty)
    return or_(
        ~exists(named),
        exists().where(on_duty, func.json_array_length(Shift.queue_keys) == 0),
        Case.queue_key.in_(named.scalar_subquery()),
    )


@cache
def _take_next_statement(by_keys: bool) -> Any:
    """Built once (building it costs more than running it); the values are parameters."""
    cases = as_type(Table, Case.__table__)
    now = bindparam("now", type_=UtcDateTime())
    actor = bindparam("actor", type_=String())
    scope = Case.queue_key.in_(bindparam("keys", expanding=True)) if by_keys else _shift_scope()
    candidate = (
        _queue_order(select(Case.id).where(_WAITING, scope))
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    picked = (
        update(cases)
        .where(cases.c.id == candidate, _WAITING)
        .values(
            assignee_id=bindparam("user_id"),
            status=CaseStatus.ASSIGNED,
            updated_at=now,
            version=cases.c.version + 1,
        )
        .returning(*cases.c)
        .cte("picked")
    )
    event = insert(as_type(Table, CaseEvent.__table__)).from_select(
        ["case_id", "at", "actor", "kind", "from_status", "to_status", "reason", "detail"],
        select(
            picked.c.id,
            now,
            actor,
            literal("assigned", String()),
            literal(CaseStatus.NEW.value, String()),
            literal(CaseStatus.ASSIGNED.value, String()),
            bindparam("reason", type_=String()),
            bindparam("event_detail", type_=JSON()),
        ),
    )
    audit = insert(as_type(Table, AuditEntry.__table__)).from_select(
        ["at", "actor", "actor_kind", "action", "subject_type", "subject_id", "detail"],
        select(
            now,
            actor,
            bindparam("actor_kind", type_=String()),
            literal("case.take", String()),
            literal("case", String()),
            cast(picked.c.id, String()),
            literal({}, JSON()),
        ),
    )
    return (
        select(aliased(Case, picked))
        .add_cte(event.cte("event"), audit.cte("audit"))
        .execution_options(populate_existing=True)
    )


def take_next_postgres(
    session: Session,
    queue_keys: Collection[str] | None,
    user_id: int,
    now: datetime,
    *,
    actor: str,
    actor_kind: str,
    reason: str,
) -> Case | None:
    """PostgreSQL, one statement: lock the best waiting case (skipping rows other takers
    hold), assign it, append its ``assigned`` event and the ``case.take`` audit entry, and
    return it. ``queue_keys`` None: the queues of the user's shifts at ``now``."""
    params: dict[str, Any] = {
        "user_id": user_id,
        "now": now,
        "actor": actor,
        "actor_kind": actor_kind,
        "reason": reason,
        "event_detail": {"assignee_id": user_id},
    }
    if queue_keys is not None:
        params["keys"] = list(queue_keys)
    case: Case | None = session.scalar(_take_next_statement(queue_keys is not None), params)
    return case


def open_counts(session: Session, user_ids: Collection[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    stmt = (
        select(Case.assignee_id, func.count())
        .where(Case.assignee_id.in_(list(user_ids)), Case.status != CaseStatus.CLOSED)
        .group_by(Case.assignee_id)
    )
    return {int(uid): int(n) for uid, n in session.execute(stmt) if uid is not None}


# --- shifts ---------------------------------------------------------------------------


def shifts_between(session: Session, starts: datetime, ends: datetime) -> list[Shift]:
    stmt = (
        select(Shift)
        .where(Shift.starts_at < ends, Shift.ends_at > starts)
        .order_by(Shift.starts_at, Shift.user_id, Shift.id)
    )
    return list(session.scalars(stmt))


def get_shift(session: Session, shift_id: int) -> Shift | None:
    return session.get(Shift, shift_id)


def delete(session: Session, obj: Any) -> None:
    session.delete(obj)
    session.flush()


def shifts_at(session: Session, now: datetime) -> list[Shift]:
    stmt = select(Shift).where(Shift.starts_at <= now, Shift.ends_at > now).order_by(Shift.id)
    return list(session.scalars(stmt))


def shift_queue_keys(session: Session, user_id: int, now: datetime) -> list[list[str]]:
    """The queue keys of each of the user's shifts at ``now``."""
    stmt = select(Shift.queue_keys).where(
        Shift.user_id == user_id, Shift.starts_at <= now, Shift.ends_at > now
    )
    return [list(keys) for keys in session.scalars(stmt)]


# --- SLA sweep ------------------------------------------------------------------------


def waits_over(session: Session, now: datetime) -> list[Case]:
    stmt = (
        select(Case)
        .where(
            Case.status == CaseStatus.WAITING_CUSTOMER,
            Case.waiting_until.is_not(None),
            Case.waiting_until <= now,
        )
        .order_by(Case.id)
    )
    return list(session.scalars(stmt))


# --- actions --------------------------------------------------------------------------


def get_action(session: Session, action_id: int, *, for_update: bool = False) -> CaseAction | None:
    stmt = select(CaseAction).where(CaseAction.id == action_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def actions_of(session: Session, case_id: int) -> list[CaseAction]:
    stmt = select(CaseAction).where(CaseAction.case_id == case_id).order_by(CaseAction.id)
    return list(session.scalars(stmt))


def pending_actions(session: Session, limit: int) -> list[CaseAction]:
    stmt = (
        select(CaseAction)
        .where(CaseAction.status == ActionStatus.PENDING_APPROVAL)
        .order_by(CaseAction.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def new_unassigned(
    session: Session, queue_keys: Collection[str] | None, limit: int
) -> list[tuple[int, str]]:
    """``(id, queue_key)`` of the best unassigned new cases (for auto-assignment)."""
    stmt = select(Case.id, Case.queue_key).where(
        Case.status == CaseStatus.NEW, Case.assignee_id.is_(None)
    )
    if queue_keys is not None:
        stmt = stmt.where(Case.queue_key.in_(list(queue_keys)))
    return [(int(i), str(k)) for i, k in session.execute(_queue_order(stmt).limit(limit))]
