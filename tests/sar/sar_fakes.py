"""Builders for the SAR tests: users, a case about an account, a referral."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.auth.permissions import Principal, Role
from riskops.cases import alert_intake
from riskops.cases.models import AlertSource, Case
from riskops.cases.repository import open_case_of
from riskops.cases.schemas import AlertIn
from riskops.sar import service
from riskops.sar.models import SarReport
from riskops.sar.schemas import EditIn, SubjectIn, TransactionIn

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


SUBJECT = SubjectIn(
    kind="person",
    first_name="Sara",
    last_name="Lopez",
    gender="F",
    birth_date=date(1990, 1, 2),
    nationality="ES",
    country="ES",
    id_type="PASSP",
    id_number="X1234567",
    id_country="ES",
    id_issued=date(2020, 1, 1),
    id_expires=date(2030, 1, 1),
    phone="+34600000000",
    email="sara@example.com",
    address="Calle Mayor 1",
    city="Madrid",
    occupation="engineer",
    account_id="acc-1",
)
TRANSACTIONS = [
    TransactionIn(
        event_id="ev-1",
        at=T0,
        type="deposit",
        direction="in",
        amount=Decimal("0.25"),
        asset="BTC",
        usd_value=Decimal("9500.00"),
        counterparty="bc1qsource",
    ),
    TransactionIn(
        event_id="ev-2",
        at=T0 + timedelta(hours=2),
        type="withdrawal.requested",
        direction="out",
        amount=Decimal("0.24"),
        asset="BTC",
        usd_value=Decimal("9100.00"),
        counterparty="bc1qdestination",
    ),
]


def complete_edit(**changes: Any) -> EditIn:
    """An edit that makes a draft complete for both formats."""
    fields: dict[str, Any] = {
        "typology": "structuring",
        "narrative": "Deposits just below the threshold, withdrawn within hours.",
        "activity_from": T0,
        "activity_to": T0 + timedelta(hours=2),
        "subjects": [SUBJECT],
        "transactions": TRANSACTIONS,
    }
    fields.update(changes)
    return EditIn(**fields)


def approved(session: Session, u: dict[str, Principal], account: str = "acc-1") -> SarReport:
    """A complete report drafted by the analyst, approved by compliance."""
    case = open_case(session, account)
    report = service.draft_from_case(session, u["ana"], case.id, now=T0)
    subject = msgspec.structs.replace(SUBJECT, account_id=account)
    service.edit(session, u["ana"], report.id, complete_edit(subjects=[subject]), now=T0)
    service.submit(session, u["ana"], report.id, now=T0)
    return service.approve(session, u["comp"], report.id, now=T0)
