"""All SQL of the outbound outbox: insert (with its dedupe key), claim due messages under
a lease, record attempts, list and count, and the webhook subscriptions.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``: on PostgreSQL
the inner select is ``FOR UPDATE SKIP LOCKED``, so two deliverers take different messages;
on SQLite the UPDATE takes the write lock, which serializes them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from riskops.outbound.models import (
    Channel,
    OutboundAttempt,
    OutboundMessage,
    Status,
    WebhookSubscription,
)


def insert_message(session: Session, row: dict[str, Any]) -> tuple[int, str]:
    """Insert one message; with a ``dedupe_key`` already taken, nothing is inserted and the
    first message's (id, message_id) is returned instead."""
    key = row.get("dedupe_key")
    if key is None:
        stmt = insert(OutboundMessage).values(row).returning(OutboundMessage.id)
        return int(session.execute(stmt).scalar_one()), str(row["message_id"])
    session.flush()  # a pending message with the same key is in the table before we look
    dialect = session.get_bind().dialect.name
    upsert: Any
    if dialect == "postgresql":
        upsert = postgresql.insert(OutboundMessage)
    else:
        upsert = sqlite.insert(OutboundMessage)
    stmt2 = (
        upsert.values(row)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboundMessage.id)
    )
    new_id = session.execute(stmt2).scalar_one_or_none()
    if new_id is not None:
        return int(new_id), str(row["message_id"])
    first = session.execute(
        select(OutboundMessage.id, OutboundMessage.message_id).where(
            OutboundMessage.dedupe_key == key
        )
    ).one()
    return int(first[0]), str(first[1])


def get(session: Session, pk: int) -> OutboundMessage | None:
    return session.get(OutboundMessage, pk)


def claim_due(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> list[OutboundMessage]:
    """Mark up to ``limit`` due messages ``sending`` until ``lease_until`` and return them,
    oldest due first. Due: queued or retrying with ``next_attempt_at`` passed, or sending
    with an expired lease (its deliverer died between the send and the record)."""
    due = (
        select(OutboundMessage.id)
        .where(
            or_(
                and_(
                    OutboundMessage.status.in_((Status.QUEUED, Status.RETRYING)),
                    OutboundMessage.next_attempt_at <= now,
                ),
                and_(OutboundMessage.status == Status.SENDING, OutboundMessage.lease_until < now),
            )
        )
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(due))
        .values(status=Status.SENDING, lease_until=lease_until)
        .returning(OutboundMessage)
        .execution_options(synchronize_session=False)
    )
    claimed = list(session.scalars(stmt))
    claimed.sort(key=lambda m: (m.next_attempt_at, m.id))
    return claimed


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed message after one attempt."""

    pk: int
    lease_until: datetime
    status: Status
    attempts: int
    at: datetime
    next_attempt_at: datetime
    error: str | None = None


_RECORD = (
    update(OutboundMessage.__table__)  # type: ignore[arg-type]
    .where(
        OutboundMessage.__table__.c.id == bindparam("o_pk"),
        OutboundMessage.__table__.c.status == Status.SENDING,
        OutboundMessage.__table__.c.lease_until == bindparam("o_lease"),
    )
    .values(
        status=bindparam("o_status"),
        attempts=bindparam("o_attempts"),
        next_attempt_at=bindparam("o_next"),
        last_error=bindparam("o_error"),
        lease_until=None,
        sent_at=bindparam("o_sent"),
    )
)


def record(session: Session, outcomes: Sequence[Outcome]) -> None:
    """Write each outcome and its attempt row, for the messages this deliverer still holds
    (same lease: a message whose lease ran out and was taken again is left to its new
    deliverer). One UPDATE and one INSERT, each run for all the outcomes (executemany)."""
    if not outcomes:
        return
    session.execute(
        _RECORD,
        [
            {
                "o_pk": o.pk,
                "o_lease": o.lease_until,
                "o_status": o.status,
                "o_attempts": o.attempts,
                "o_next": o.next_attempt_at,
                "o_error": o.error,
                "o_sent": o.at if o.status is Status.SENT else None,
            }
            for o in outcomes
        ],
    )
    rows = [
        {
            "message_pk": o.pk,
            "number": o.attempts,
            "at": o.at,
            "ok": o.status is Status.SENT,
            "error": o.error,
        }
        for o in outcomes
    ]
    session.execute(insert(OutboundAttempt), rows)


def release(session: Session, pks: Collection[int], lease_until: datetime, now: datetime) -> None:
    """Give back claimed messages that were not tried (the pass ran out of time)."""
    if not pks:
        return
    for status, cond in (
        (Status.QUEUED, OutboundMessage.attempts == 0),
        (Status.RETRYING, OutboundMessage.attempts > 0),
    ):
        session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id.in_(pks),
                OutboundMessage.status == Status.SENDING,
                OutboundMessage.lease_until == lease_until,
                cond,
            )
            .values(status=status, lease_until=None, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )


def requeue(session: Session, message: OutboundMessage, now: datetime) -> None:
    """A dead message is tried again now, with a fresh count of attempts."""
    message.status = Status.RETRYING
    message.attempts = 0
    message.next_attempt_at = now
    message.lease_until = None


def listing(
    session: Session,
    *,
    status: Status | None = None,
    channel: Channel | None = None,
    case_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OutboundMessage], int]:
    """Messages, newest first, and how many match in all."""
    conds: list[Any] = []
    if status is not None:
        conds.append(OutboundMessage.status == status)
    if channel is not None:
        conds.append(OutboundMessage.channel == channel)
    if case_id is not None:
        conds.append(OutboundMessage.case_id == case_id)
    rows = session.scalars(
        select(OutboundMessage)
        .where(*conds)
        .order_by(OutboundMessage.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(OutboundMessage).where(*conds))
    return list(rows), int(total or 0)


def for_case(session: Session, case_id: int) -> list[OutboundMessage]:
    """Every message of the case, newest first (the case page's delivery panel)."""
    return list(
        session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.case_id == case_id)
            .order_by(OutboundMessage.id.desc())
        )
    )


def attempts_of(session: Session, pk: int) -> list[OutboundAttempt]:
    return list(
        session.scalars(
            select(OutboundAttempt)
            .where(OutboundAttempt.message_pk == pk)
            .order_by(OutboundAttempt.id)
        )
    )


def counts_by_status(session: Session) -> dict[Status, int]:
    rows = session.execute(
        select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
    )
    return {Status(s): int(n) for s, n in rows}


# Webhook subscriptions


def add_subscription(session: Session, sub: WebhookSubscription) -> WebhookSubscription:
    session.add(sub)
    session.flush()
    return sub


def subscription(session: Session, pk: int) -> WebhookSubscription | None:
    return session.get(WebhookSubscription, pk)


def subscriptions(session: Session, *, active_only: bool = True) -> list[WebhookSubscription]:
    stmt = select(WebhookSubscription).order_by(WebhookSubscription.id)
    if active_only:
        stmt = stmt.where(WebhookSubscription.active.is_(True))
    return list(session.scalars(stmt))


def secrets_of(session: Session, pks: Collection[int]) -> dict[int, str]:
    """The signing secret of each active subscription among ``pks``."""
    if not pks:
        return {}
    rows = session.execute(
        select(WebhookSubscription.id, WebhookSubscription.secret).where(
            WebhookSubscription.id.in_(pks), WebhookSubscription.active.is_(True)
        )
    )
    return {int(pk): str(secret) for pk, secret in rows}
