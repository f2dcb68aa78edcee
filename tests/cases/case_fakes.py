"""Builders for the cases tests: alerts, users, principals; and counts of what is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.auth.permissions import Principal, Role
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.kernel import outbox
from riskops.kernel.db import session_factory
from riskops.monitor import service as monitor

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alert(
    ref: str,
    account: str | None = "acc-1",
    *,
    kind: str = "RULE-1",
    typology: str | None = "mule",
    severity: int = 50,
    usd: str = "100.00",
    source: AlertSource = AlertSource.MONITOR,
    queue_key: str | None = None,
    **detail: Any,
) -> AlertIn:
    return AlertIn(
        source=source,
        source_ref=ref,
        account_id=account,
        kind=kind,
        title=f"alert {ref}",
        severity=severity,
        typology=typology,
        amount_usd=Decimal(usd),
        detail=detail,
        queue_key=queue_key,
    )


def make_user(session: Session, username: str, role: Role) -> Principal:
    """A user row and the principal acting as them."""
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
    """An analyst, two senior analysts (a maker and a second person) and compliance."""
    return {
        "ana": make_user(session, "ana", Role.ANALYST),
        "sen": make_user(session, "sen", Role.SENIOR_ANALYST),
        "sen2": make_user(session, "sen2", Role.SENIOR_ANALYST),
        "comp": make_user(session, "comp", Role.COMPLIANCE),
    }


def count(engine: Engine, model: type) -> int:
    """The rows of ``model``'s table."""
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def waiting(engine: Engine) -> int:
    """Monitor alerts published on the outbox and not yet delivered."""
    with session_factory(engine)() as session:
        return outbox.pending(session, monitor.ALERT_RAISED)
