"""All SQL of case work. Functions take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.cases.models import (
    ActionStatus,
    AlertSource,
    Case,
    CaseAction,
    CaseAlert,
    CaseEvent,
    CaseStatus,
    Note,
    NoteAmendment,
    Queue,
    Shift,
)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def add(session: Session, obj: Any) -> Any:
    session.add(obj)
    session.flush()
    return obj


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


def queues(session: Session) -> list[Queue]:
    return list(session.scalars(select(Queue).order_by(Queue.position, Queue.key)))


def get_queue(session: Session, key: str) -> Queue | None:
    return session.get(Queue, key)


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


def alert_by_ref(session: Session, source: AlertSource, ref: str) -> CaseAlert | None:
    return session.scalar(
        select(CaseAlert).where(CaseAlert.source == source, CaseAlert.source_ref == ref)
    )


def existing_refs(session: Session, source: AlertSource, refs: Collection[str]) -> set[str]:
    if not refs:
        return set()
    stmt = select(CaseAlert.source_ref).where(
        CaseAlert.source == source, CaseAlert.source_ref.in_(list(refs))
    )
    return set(session.scalars(stmt))


def alerts_of(session: Session, case_id: int) -> list[CaseAlert]:
    stmt = select(CaseAlert).where(CaseAlert.case_id == case_id).order_by(CaseAlert.id)
    return list(session.scalars(stmt))


# --- cases ----------------------------------------------------------------------------


def get_case(session: Session, case_id: int, *, for_update: bool = False) -> Case | None:
    stmt = select(Case).where(Case.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


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


# --- assignment -----------------------------------------------------------------------


def _next_new(queue_keys: Collection[str] | None) -> Any:
    stmt = select(Case.id).where(Case.status == CaseStatus.NEW, Case.assignee_id.is_(None))
    if queue_keys is not None:
        stmt = stmt.where(Case.queue_key.in_(list(queue_keys)))
    return _queue_order(stmt)


def lock_next_new(session: Session, queue_keys: Collection[str] | None) -> int | None:
    """PostgreSQL: lock the best unassigned new case, skipping those others hold locked."""
    stmt = _next_new(queue_keys).limit(1).with_for_update(skip_locked=True)
    return session.scalar(stmt)


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


def shifts_at(session: Session, now: datetime) -> list[Shift]:
    stmt = select(Shift).where(Shift.starts_at <= now, Shift.ends_at > now).order_by(Shift.id)
    return list(session.scalars(stmt))


def shifts_of(session: Session, user_id: int, now: datetime) -> list[Shift]:
    stmt = select(Shift).where(
        Shift.user_id == user_id, Shift.starts_at <= now, Shift.ends_at > now
    )
    return list(session.scalars(stmt))


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
