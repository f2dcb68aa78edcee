"""SQL of contact: where an account holder can be reached, messages sent, SMS replies.

The account's addresses are read from its own events (``account.created`` and the email
or phone changes of ``security.change``, newest wins) through the monitor's account
timeline, and its name and country from the account profile (``accounts``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskops.accounts import risk_repository as profiles
from riskops.cases import repository as cases_repo
from riskops.cases.models import Case, CaseEvent, CaseStatus
from riskops.contact.models import ContactMessage, ContactReply
from riskops.monitor import repository as monitor_repo
from riskops.sar import service as sar

_CONTACT_EVENTS = ("account.created", "security.change")
_MAX_CONTACT_EVENTS = 500


@dataclass(frozen=True, slots=True)
class Recipient:
    """How an account holder can be reached, as their own events and profile say."""

    account_id: str
    name: str | None
    country: str | None
    email: str | None
    phone: str | None


def recipient(session: Session, account_id: str) -> Recipient:
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    rows = monitor_repo.account_payloads(
        session, account_id, _CONTACT_EVENTS, limit=_MAX_CONTACT_EVENTS
    )
    for kind, raw in rows:  # oldest first: a later change replaces the sign-up value
        try:
            payload = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            continue
        if not isinstance(payload, dict):
            continue
        if kind == "account.created":
            email = payload.get("email") or email
            phone = payload.get("phone") or phone
            country = payload.get("country") or country
        elif payload.get("change") == "email_changed" and payload.get("new_value"):
            email = payload["new_value"]
        elif payload.get("change") == "phone_changed" and payload.get("new_value"):
            phone = payload["new_value"]
    profile = profiles.profiles(session, [account_id]).get(account_id)
    if profile is not None and profile.phone:
        phone = profile.phone
    return Recipient(
        account_id=account_id,
        name=profile.full_name if profile is not None else None,
        country=(profile.country if profile is not None else None) or country,
        email=str(email) if email else None,
        phone=str(phone) if phone else None,
    )


def under_sar(session: Session, account_ids: Collection[str]) -> set[str]:
    """The accounts for which a SAR is being considered or was filed (``riskops.sar``)."""
    return sar.accounts_under_sar(session, account_ids)


def get_case(session: Session, case_id: int, *, for_update: bool = False) -> Case | None:
    return cases_repo.get_case(session, case_id, for_update=for_update)


def open_case_of(session: Session, account_id: str) -> Case | None:
    return cases_repo.open_case_of(session, account_id, for_update=True)


def add_message(session: Session, message: ContactMessage) -> ContactMessage:
    session.add(message)
    session.flush()
    return message


def message_by_outbound_id(session: Session, outbound_id: int) -> ContactMessage | None:
    return session.scalar(select(ContactMessage).where(ContactMessage.outbound_id == outbound_id))


def messages_of_case(session: Session, case_id: int, limit: int = 100) -> list[ContactMessage]:
    stmt = (
        select(ContactMessage)
        .where(ContactMessage.case_id == case_id)
        .order_by(ContactMessage.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def reply_by_provider_id(session: Session, provider_message_id: str) -> ContactReply | None:
    stmt = select(ContactReply).where(ContactReply.provider_message_id == provider_message_id)
    return session.scalar(stmt)


def add_reply(session: Session, reply: ContactReply) -> ContactReply | None:
    """Store a reply; None when its provider message id is stored already (a replay that
    raced the check before it: the unique constraint decides)."""
    try:
        with session.begin_nested():
            session.add(reply)
            session.flush()
    except IntegrityError:
        return None
    return reply


def cases_to_contact(
    session: Session, limit: int, *, skip_queues: Collection[str] = ()
) -> list[Case]:
    """Open cases about an account, assigned and being worked, oldest first, outside
    ``skip_queues`` (the demo)."""
    stmt = (
        select(Case)
        .where(
            Case.account_id.is_not(None),
            Case.assignee_id.is_not(None),
            Case.status.in_((CaseStatus.ASSIGNED, CaseStatus.IN_REVIEW)),
            Case.queue_key.not_in(skip_queues),
        )
        .order_by(Case.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def reply_events(session: Session, case_id: int, limit: int = 50) -> list[CaseEvent]:
    """The case's ``customer_reply`` history entries (email and SMS), newest first."""
    stmt = (
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind == "customer_reply")
        .order_by(CaseEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
