"""Case work, reading and assigning: queue overview, queue pages, case detail, take-next.

Every function takes the acting ``Principal`` and calls ``require`` first; changes append a
``CaseEvent`` and an audit entry in the caller's transaction (services never commit).
Decisions live in ``riskops.cases.decisions``, shifts and the SLA sweep in
``riskops.cases.shifts``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from riskops.audit.service import record, record_views
from riskops.auth.models import User
from riskops.auth.permissions import ROLE_PERMISSIONS, Permission, Principal, require
from riskops.cases import history
from riskops.cases import repository as repo
from riskops.cases.domain import Command
from riskops.cases.models import Case, CaseAction, CaseAlert, CaseEvent, CaseStatus, Note
from riskops.cases.models import NoteAmendment as Amendment
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed

P = Permission
DUE_SOON = timedelta(minutes=15)
OPEN_STATUSES = tuple(s for s in CaseStatus if s is not CaseStatus.CLOSED)
TAKE_NEXT_REASON = "take next"


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One line of the queue overview (open cases only)."""

    key: str
    name: str
    sla_minutes: int
    open: int
    unassigned: int
    oldest_open_at: datetime | None
    breached: int
    due_soon: int  # due within 15 minutes


@dataclass(frozen=True, slots=True)
class NoteView:
    note: Note
    amendments: list[Amendment]


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: Case
    alerts: list[CaseAlert]
    events: list[CaseEvent]
    notes: list[NoteView]
    actions: list[CaseAction]
    assignee: User | None


# --- reads ----------------------------------------------------------------------------


def queue_overview(
    session: Session, principal: Principal, now: datetime | None = None
) -> list[QueueStats]:
    """Per queue: open, unassigned, oldest open, SLA breached, due within 15 minutes."""
    require(principal, P.CASE_VIEW)
    now = now or utcnow()
    stats = {row[0]: row for row in repo.queue_stats(session, now, DUE_SOON)}
    out = []
    for q in repo.queues(session):
        row = stats.get(q.key)
        if row is None and not q.active:
            continue
        _, n, unassigned, oldest, breached, soon = row or (q.key, 0, 0, None, 0, 0)
        out.append(
            QueueStats(
                q.key,
                q.name,
                q.sla_minutes,
                int(n),
                int(unassigned or 0),
                oldest,
                int(breached or 0),
                int(soon or 0),
            )
        )
    return out


def list_queue_cases(
    session: Session,
    principal: Principal,
    queue_key: str,
    *,
    statuses: Collection[CaseStatus] | None = None,
    limit: int = 50,
    offset: int = 0,
    after: tuple[int, datetime, int] | None = None,
) -> list[Case]:
    """A queue's cases (open ones by default), highest priority first, then earliest due.

    Page with ``offset`` or, for deep pages, with ``after`` = (priority, due_at, id) of the
    last case of the previous page (keyset). The accounts shown are audited (``case.list``).
    """
    require(principal, P.CASE_VIEW)
    if repo.get_queue(session, queue_key) is None:
        raise NotFound(f"queue {queue_key!r} not found")
    if not 1 <= limit <= 500:
        raise ValidationFailed("`limit` must be between 1 and 500")
    found = repo.queue_cases(
        session, queue_key, list(statuses or OPEN_STATUSES), limit, offset, after
    )
    _record_case_list(session, principal, found)
    return found


def my_cases(session: Session, principal: Principal) -> list[Case]:
    """The open cases assigned to the principal, by priority; audited (``case.list``)."""
    require(principal, P.CASE_VIEW)
    if principal.id is None:
        return []
    found = repo.cases_of_assignee(session, principal.id)
    _record_case_list(session, principal, found)
    return found


def _record_case_list(session: Session, principal: Principal, cases: Sequence[Case]) -> None:
    """One ``case.list`` entry per account a list of cases showed, and per case of no
    account (ADR 0020)."""
    accounts: dict[str, list[int]] = {}
    for case in cases:
        if case.account_id is not None:
            accounts.setdefault(case.account_id, []).append(case.id)
    record_views(session, principal, "case.list", "account", accounts)
    loose = {str(c.id): [c.id] for c in cases if c.account_id is None}
    record_views(session, principal, "case.list", "case", loose)


def search_cases(
    session: Session,
    principal: Principal,
    *,
    account_id: str | None = None,
    case_id: int | None = None,
    limit: int = 50,
) -> list[Case]:
    """Cases of an account (newest first), or one case by id."""
    require(principal, P.CASE_VIEW)
    if account_id is None and case_id is None:
        raise ValidationFailed("search by `account_id` or `case_id`")
    record(session, principal, "case.search", "account", account_id or f"case:{case_id}")
    return repo.search(session, account_id, case_id, limit)


def case_detail(
    session: Session, principal: Principal, case_id: int, *, now: datetime | None = None
) -> CaseDetail:
    """Everything about a case; the view is recorded in the audit trail (``case.view``)."""
    require(principal, P.CASE_VIEW)
    case = history.load(session, case_id, for_update=False)
    notes = repo.notes_of(session, case_id)
    amendments = repo.amendments_of(session, [n.id for n in notes])
    record(session, principal, "case.view", "case", case_id, now=now)
    return CaseDetail(
        case=case,
        alerts=repo.alerts_of(session, case_id),
        events=repo.events_of(session, case_id),
        notes=[NoteView(n, [a for a in amendments if a.note_id == n.id]) for n in notes],
        actions=repo.actions_of(session, case_id),
        assignee=repo.get_user(session, case.assignee_id) if case.assignee_id else None,
    )


# --- assignment -----------------------------------------------------------------------


def take_next(
    session: Session,
    principal: Principal,
    queue_keys: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
) -> Case | None:
    """Assign the principal the best unassigned new case: highest priority, earliest due.

    Among ``queue_keys``, else the queues of the principal's current shifts, else all. Never
    the same case to two analysts: on PostgreSQL one statement locks the candidate row with
    SKIP LOCKED (a concurrent taker skips it), assigns it and writes the event and audit
    entry; on SQLite a compare-and-set UPDATE, retried on the next candidate when someone
    else won.
    """
    require(principal, P.CASE_WORK)
    user_id = _user_id(principal)
    now = now or utcnow()
    keys = list(queue_keys) if queue_keys is not None else None
    if repo.is_postgres(session):
        # One round trip: pick, lock, assign, event and audit entry in one statement.
        return repo.take_next_postgres(
            session,
            keys,
            user_id,
            now,
            actor=principal.name,
            actor_kind=str(principal.kind),
            reason=TAKE_NEXT_REASON,
        )
    if keys is None:
        keys = _shift_queues(session, user_id, now)
    case_id = _claim_next(session, keys, user_id, now)
    if case_id is None:
        return None
    case = history.load(session, case_id)
    history.event(
        session,
        case,
        principal.name,
        "assigned",
        now,
        from_status=CaseStatus.NEW,
        to_status=CaseStatus.ASSIGNED,
        reason=TAKE_NEXT_REASON,
        detail={"assignee_id": user_id},
    )
    record(session, principal, "case.take", "case", case_id, now=now)
    return case


def _claim_next(
    session: Session, keys: Collection[str] | None, user_id: int, now: datetime
) -> int | None:
    """SQLite: compare-and-set on the best candidates, retried when others won them."""
    for attempt in range(20):
        candidates = repo.next_new_ids(session, keys, 5)
        if not candidates:
            return None
        for case_id in candidates:
            if repo.claim(session, case_id, user_id, now):
                return case_id
        time.sleep(0.001 * (attempt + 1))
    raise Conflict("every candidate case was taken meanwhile; try again")


def _shift_queues(session: Session, user_id: int, now: datetime) -> list[str] | None:
    keys: set[str] = set()
    for shift_keys in repo.shift_queue_keys(session, user_id, now):
        if not shift_keys:
            return None  # a shift on every queue
        keys.update(shift_keys)
    return sorted(keys) if keys else None


def user_names(session: Session, principal: Principal, user_ids: Collection[int]) -> dict[int, str]:
    """Display names of some users (assignees of a page of cases, people on a rota), in one
    query; needs case:view."""
    require(principal, P.CASE_VIEW)
    return {u.id: u.display_name for u in repo.users(session, user_ids)}


def assignable_users(session: Session, principal: Principal) -> list[User]:
    """Who a case may be given to (active users whose role works cases); needs case:assign."""
    require(principal, P.CASE_ASSIGN)
    return [u for u in repo.active_users(session) if P.CASE_WORK in ROLE_PERMISSIONS[u.role]]


def assign(
    session: Session,
    principal: Principal,
    case_id: int,
    user_id: int,
    *,
    now: datetime | None = None,
) -> Case:
    """Assign a case: to oneself needs case:work; to someone else, or taking it over from
    someone, needs case:assign. The assignee must be an active user who may work cases."""
    own = user_id == principal.id
    require(principal, P.CASE_WORK if own else P.CASE_ASSIGN)
    now = now or utcnow()
    case = history.load(session, case_id)
    if case.assignee_id is not None and case.assignee_id != principal.id:
        require(principal, P.CASE_ASSIGN)
    user = repo.get_user(session, user_id)
    if user is None or not user.active:
        raise NotFound(f"user {user_id} not found")
    if P.CASE_WORK not in ROLE_PERMISSIONS[user.role]:
        raise ValidationFailed(
            "this user cannot work cases",
            details=[{"field": "$.user_id", "reason": f"role {user.role} lacks case:work"}],
        )
    if case.assignee_id == user_id:
        return case
    previous = case.assignee_id
    history.transition(
        session,
        case,
        Command.ASSIGN,
        principal.name,
        now,
        kind="assigned",
        detail={"assignee_id": user_id, "previous_assignee_id": previous},
    )
    case.assignee_id = user_id
    session.flush()
    detail = {"assignee_id": user_id, "previous_assignee_id": previous}
    record(session, principal, "case.assign", "case", case_id, detail, now=now)
    return case


def unassign(
    session: Session, principal: Principal, case_id: int, *, now: datetime | None = None
) -> Case:
    """Put a case back in its queue (one's own: case:work; someone else's: case:assign)."""
    require(principal, P.CASE_WORK)
    now = now or utcnow()
    case = history.load(session, case_id)
    if case.assignee_id != principal.id:
        require(principal, P.CASE_ASSIGN)
    previous = case.assignee_id
    history.transition(
        session,
        case,
        Command.UNASSIGN,
        principal.name,
        now,
        kind="unassigned",
        detail={"previous_assignee_id": previous},
    )
    case.assignee_id = None
    session.flush()
    record(session, principal, "case.unassign", "case", case_id, {"previous": previous}, now=now)
    return case


def start_review(
    session: Session, principal: Principal, case_id: int, *, now: datetime | None = None
) -> Case:
    """The assignee opens the case for review (assigned → in_review)."""
    require(principal, P.CASE_WORK)
    now = now or utcnow()
    case = history.load(session, case_id)
    ensure_assignee(case, principal)
    if case.status is not CaseStatus.IN_REVIEW:
        history.transition(session, case, Command.START_REVIEW, principal.name, now)
        session.flush()
    record(session, principal, "case.start_review", "case", case_id, now=now)
    return case


def ensure_assignee(case: Case, principal: Principal) -> None:
    """Work on a case is done by its assignee."""
    if case.assignee_id is None or case.assignee_id != principal.id:
        raise Forbidden(f"case {case.id} is not assigned to {principal.name!r}; take it first")


def _user_id(principal: Principal) -> int:
    if principal.id is None or principal.kind != "user":
        raise Forbidden("only a person can be assigned cases")
    return principal.id
