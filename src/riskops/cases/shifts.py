"""Shifts and automatic assignment: who is on duty for which queues, 7 days a week.

``auto_assign`` hands unassigned new cases to the analysts on shift for their queue, the
one with the fewest open cases first, up to a cap each; it claims each case with the same
compare-and-set as take-next, so it never races an analyst into a double assignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth.models import User
from riskops.auth.permissions import ROLE_PERMISSIONS, Permission, Principal, require
from riskops.cases import history
from riskops.cases import repository as repo
from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.models import CaseStatus, Shift
from riskops.kernel.errors import NotFound, ValidationFailed

ACTOR = "system:auto_assign"
DEFAULT_CAP = 10
SHIFT_HOURS = 8


def add_shift(
    session: Session,
    principal: Principal,
    user_id: int,
    starts_at: datetime,
    ends_at: datetime,
    queue_keys: Sequence[str] = (),
) -> Shift:
    """Put a user on shift for some queues (none: every queue); needs queue:manage."""
    require(principal, Permission.QUEUE_MANAGE)
    if ends_at <= starts_at:
        raise ValidationFailed(
            "a shift ends after it starts",
            details=[{"field": "$.ends_at", "reason": "must be after starts_at"}],
        )
    user = repo.get_user(session, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if queue_keys:
        ensure_default_queues(session)
    unknown = [k for k in queue_keys if repo.get_queue(session, k) is None]
    if unknown:
        raise ValidationFailed(
            "unknown queues", details=[{"field": "$.queue_keys", "reason": f"no queue {unknown}"}]
        )
    shift = repo.add(
        session,
        Shift(user_id=user_id, starts_at=starts_at, ends_at=ends_at, queue_keys=list(queue_keys)),
    )
    detail = {"user_id": user_id, "starts_at": starts_at.isoformat(), "queues": list(queue_keys)}
    record(session, principal, "shift.add", "shift", shift.id, detail)
    return shift


def on_shift(session: Session, now: datetime) -> list[User]:
    """Active users on shift at ``now`` who may work cases."""
    ids = {s.user_id for s in repo.shifts_at(session, now)}
    return [
        u
        for u in repo.users(session, ids)
        if u.active and Permission.CASE_WORK in ROLE_PERMISSIONS[u.role]
    ]


def auto_assign(session: Session, now: datetime, *, cap: int = DEFAULT_CAP) -> int:
    """Assign unassigned new cases to analysts on shift for their queue; returns how many.

    Each case goes to the eligible analyst with the fewest open cases, below ``cap``.
    """
    users = {u.id: u for u in on_shift(session, now)}
    if not users:
        return 0
    queues_of: dict[int, set[str] | None] = {}
    for shift in repo.shifts_at(session, now):
        if shift.user_id not in users:
            continue
        current = queues_of.get(shift.user_id, set())
        if not shift.queue_keys or current is None:
            queues_of[shift.user_id] = None  # every queue
        else:
            queues_of[shift.user_id] = current | set(shift.queue_keys)
    load = {uid: 0 for uid in users} | repo.open_counts(session, list(users))
    room = sum(max(0, cap - n) for n in load.values())
    if room == 0:
        return 0
    scope: set[str] | None = set()
    for keys in queues_of.values():
        scope = None if keys is None or scope is None else scope | keys
    assigned = 0
    for case_id, queue_key in repo.new_unassigned(session, scope, room):
        eligible = [
            uid
            for uid, keys in queues_of.items()
            if load[uid] < cap and (keys is None or queue_key in keys)
        ]
        if not eligible:
            continue
        uid = min(eligible, key=lambda u: (load[u], u))
        if not repo.claim(session, case_id, uid, now):
            continue  # an analyst took it meanwhile
        load[uid] += 1
        assigned += 1
        case = history.load(session, case_id)
        history.event(
            session,
            case,
            ACTOR,
            "assigned",
            now,
            from_status=CaseStatus.NEW,
            to_status=CaseStatus.ASSIGNED,
            reason="auto-assigned to an analyst on shift",
            detail={"assignee_id": uid},
        )
    session.flush()
    return assigned


def default_rota(
    session: Session,
    users: Sequence[User],
    start: datetime,
    days: int = 7,
    queue_keys: Sequence[str] = (),
) -> list[Shift]:
    """A 24-hour rota for ``days`` days from ``start``: three 8-hour shifts a day.

    Users are split into three teams (early, late, night) that work every day; with fewer
    than three users some work two shifts, so every hour is covered.
    """
    if not users:
        raise ValidationFailed("a rota needs at least one user")
    teams: list[list[User]] = [[], [], []]
    for i, user in enumerate(users):
        teams[i % 3].append(user)
    for t in range(3):
        teams[t] = teams[t] or [users[t % len(users)]]
    shifts = []
    for day in range(days):
        for t, team in enumerate(teams):
            begins = start + timedelta(days=day, hours=t * SHIFT_HOURS)
            for user in team:
                shifts.append(
                    Shift(
                        user_id=user.id,
                        starts_at=begins,
                        ends_at=begins + timedelta(hours=SHIFT_HOURS),
                        queue_keys=list(queue_keys),
                    )
                )
    session.add_all(shifts)
    session.flush()
    return shifts
