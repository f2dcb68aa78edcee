"""Test doubles and event builders for the monitor tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from riskops.events import schemas as s
from riskops.rules.types import Action, Evaluation, Hit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FakeEvaluator:
    """A tiny rule set with state, standing in for ``StreamEvaluator``.

    Live: BIG-1 holds withdrawals over $10,000 (score 40); VEL-1 reviews an account's third
    and later withdrawals (score 30, needs state); BAD-1 blocks withdrawals to ``bad``
    (score 90). Shadow: SHD-1 on deposits over $1,000.
    """

    def __init__(self, counts: dict[str, int] | None = None) -> None:
        self.counts: dict[str, int] = counts or {}
        self.rows = 0

    def process(self, row: dict[str, Any]) -> Evaluation:
        self.rows += 1
        hits: list[Hit] = []
        if row["type"] == "withdrawal.requested":
            n = self.counts[row["account_id"]] = self.counts.get(row["account_id"], 0) + 1
            if row["usd_cents"] > 1_000_000:
                hits.append(Hit("BIG-1", 1, Action.HOLD, 40, "big withdrawal", "scam_victim"))
            if n >= 3:
                hits.append(Hit("VEL-1", 2, Action.REVIEW, 30, f"withdrawal #{n}", "mule"))
            if row["address"] == "bad":
                hits.append(Hit("BAD-1", 1, Action.BLOCK, 90, "bad address", "sanctions_exposure"))
        if row["type"] == "deposit" and row["usd_cents"] > 100_000:
            hits.append(Hit("SHD-1", 1, Action.REVIEW, 10, "deposit", "mule", shadow=True))
        return Evaluation(hits, [])

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.counts)


class FakeFactory:
    fingerprint = "fake-1"

    def new(self) -> FakeEvaluator:
        return FakeEvaluator()

    def restore(self, blob: bytes) -> FakeEvaluator:
        return FakeEvaluator(msgspec.json.decode(blob, type=dict[str, int]))


@dataclass
class Record:
    """An event log record as the monitor reads it."""

    seq: int
    payload: str


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def withdrawal(
    event_id: str, account: str, usd: str, address: str = "addr-1", minutes: float = 0
) -> s.WithdrawalRequested:
    return s.WithdrawalRequested(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        asset="BTC",
        amount=Decimal("0.123456789012345678"),
        usd_value=Decimal(usd),
        address=address,
        withdrawal_id=f"w-{event_id}",
        chain="bitcoin",
    )


def deposit(event_id: str, account: str, usd: str, minutes: float = 0) -> s.Deposit:
    return s.Deposit(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        asset="USDT",
        amount=Decimal(usd),
        usd_value=Decimal(usd),
        rail=s.Rail.CRYPTO,
    )


def trade(event_id: str, account: str, minutes: float = 0) -> s.Trade:
    return s.Trade(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        asset="BTC",
        amount=Decimal("1"),
        usd_value=Decimal("50000"),
        side=s.Side.BUY,
        quote_asset="USDT",
    )


def p2p(event_id: str, account: str, minutes: float = 0) -> s.P2POrder:
    return s.P2POrder(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        asset="USDT",
        amount=Decimal("100"),
        usd_value=Decimal("100"),
        side=s.Side.SELL,
        counterparty_id="cp",
    )


def transfer(
    event_id: str, account: str, to: str, usd: str, minutes: float = 0
) -> s.TransferInternal:
    return s.TransferInternal(
        event_id=event_id,
        account_id=account,
        occurred_at=at(minutes),
        asset="USDT",
        amount=Decimal(usd),
        usd_value=Decimal(usd),
        counterparty_id=to,
    )


def records(events: list[s.Event], start: int = 1) -> list[Record]:
    return [Record(start + i, msgspec.json.encode(e).decode()) for i, e in enumerate(events)]
