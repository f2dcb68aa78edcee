"""Builders for the SAR tests: users, a case about an account, a referral."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.auth.permissions import Principal, Role
from riskops.cases import alert_intake
from riskops.cases.models import AlertSource, Case
from riskops.cases.repository import open_case_of
from riskops.cases.schemas import AlertIn

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def make_user(session: Session, username: str, role: Role) -> Principal:
    user = User(
        username=username,
        display_name=username.title(),
        role=role,
        password_hash="x",
        created_at=T0,
    )
    session.add(user)
    session.flush()
    return Principal.for_user(user.id, username, role)


def users(session: Session) -> dict[str, Principal]:
    """An analyst (drafts), two compliance officers (a maker and a second person), admin."""
    return {
        "ana": make_user(session, "ana", Role.ANALYST),
        "comp": make_user(session, "comp", Role.COMPLIANCE),
        "comp2": make_user(session, "comp2", Role.COMPLIANCE),
        "admin": make_user(session, "admin", Role.ADMIN),
    }


def open_case(session: Session, account: str, ref: str | None = None) -> Case:
    """An open case about ``account`` (raised by a monitor alert)."""
    alert_intake.raise_alert(
        session,
        AlertIn(
            source=AlertSource.MONITOR,
            source_ref=ref or f"ref-{account}",
            account_id=account,
            kind="RULE-1",
            title="structuring below the threshold",
            severity=70,
            typology="structuring",
            amount_usd=Decimal("9500.00"),
            detail={},
        ),
        now=T0,
    )
    case = open_case_of(session, account)
    assert case is not None
    return case
