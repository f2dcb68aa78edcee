"""Events that carry shared values, and a reader, for the linked-accounts tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from riskops.auth.permissions import Principal, Role
from riskops.events import schemas as s

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ANALYST = Principal.for_user(1, "ana", Role.ANALYST)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def created(
    event_id: str,
    account: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    ip: str | None = None,
    device: str | None = None,
    referred_by: str | None = None,
    minutes: float = 0,
) -> s.AccountCreated:
    return s.AccountCreated(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        email=email,
        phone=phone,
        ip=ip,
        device_id=device,
        referred_by=referred_by,
    )


def login(
    event_id: str,
    account: str,
    *,
    ip: str | None = None,
    device: str | None = None,
    success: bool = True,
    minutes: float = 0,
) -> s.Login:
    return s.Login(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        success=success,
        ip=ip,
        device_id=device,
    )


def transfer(event_id: str, account: str, to: str, minutes: float = 0) -> s.TransferInternal:
    return s.TransferInternal(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        asset="USDT",
        amount=Decimal("10"),
        usd_value=Decimal("10.00"),
        counterparty_id=to,
    )


def withdrawal(event_id: str, account: str, address: str, minutes: float = 0) -> s.Event:
    return s.WithdrawalRequested(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        asset="USDT",
        amount=Decimal("10"),
        usd_value=Decimal("10.00"),
        address=address,
        chain="tron",
    )
