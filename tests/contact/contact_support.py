"""Builders of the contact tests: accounts with contact details, a case being worked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.auth.permissions import Principal, Role
from riskops.cases import alert_intake, service
from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.models import AlertSource, Case
from riskops.cases.schemas import AlertIn
from riskops.events.service import ingest
from riskops.events.validation import from_obj
from riskops.kernel.config import Settings

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
REPLY_SECRET = "reply-secret-for-tests"
SMS_SECRET = "sms-inbound-secret-for-tests"
SETTINGS = Settings(reply_secret=REPLY_SECRET, reply_domain="reply.example.test")

ACCOUNTS: dict[str, dict[str, Any]] = {
    "acc-0000201": {"email": "ana.lopez@example.com", "phone": "+34600111222", "country": "ES"},
    "acc-0000202": {"email": "ivan@example.ru", "phone": "+79161234567", "country": "RU"},
    "acc-0000203": {"email": "bob@example.com", "country": "GB"},
    "acc-0000204": {"email": "claire@example.fr", "phone": "+33612000204", "country": "FR"},
}


def seed_accounts(session: Session) -> None:
    events = [
        from_obj(
            {
                "type": "account.created",
                "event_id": f"contact-{account_id}",
                "account_id": account_id,
                "occurred_at": "2026-02-01T10:00:00Z",
                **fields,
            }
        )
        for account_id, fields in ACCOUNTS.items()
    ]
    ingest(session, [(None, e) for e in events], source="api")


def user(session: Session, username: str, role: Role) -> Principal:
    row = User(
        username=username,
        display_name=username.title(),
        role=role,
        password_hash="x",
        created_at=T0,
    )
    session.add(row)
    session.flush()
    return Principal.for_user(row.id, username, role)


def taken_case(session: Session, analyst: Principal, account_id: str, ref: str = "r1") -> Case:
    """A case of ``account_id`` that ``analyst`` took from the queue."""
    ensure_default_queues(session)
    alert = AlertIn(
        source=AlertSource.MONITOR,
        source_ref=f"{ref}-{account_id}",
        account_id=account_id,
        kind="RULE-1",
        title=f"alert {ref}",
        typology="mule",
    )
    alert_intake.raise_alert(session, alert, now=T0)
    case = service.take_next(session, analyst, now=T0)
    assert case is not None and case.account_id == account_id
    return case


def due(days: int = 3) -> datetime:
    return T0 + timedelta(days=days)
