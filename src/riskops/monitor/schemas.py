"""API shapes of the monitor (msgspec: decoded and encoded without pydantic on the hot path)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from riskops.kernel.bounds import LongText, Name
from riskops.monitor.engine import Reason, RowDecision
from riskops.monitor.models import Alert, Decision, Hold


class DecisionResponse(msgspec.Struct):
    """The synchronous decision on one event (``POST /v1/decisions``)."""

    event_id: str
    decision: str
    score: int
    reasons: list[Reason]
    hold_id: int | None = None
    duplicate: bool = False

    @classmethod
    def of(cls, d: RowDecision, hold_id: int | None, duplicate: bool = False) -> DecisionResponse:
        return cls(d.event_id, d.outcome.label, d.score, d.reasons, hold_id, duplicate)

    @classmethod
    def stored(cls, d: Decision, hold_id: int | None) -> DecisionResponse:
        reasons = [msgspec.convert(r, Reason) for r in d.reasons]
        return cls(d.event_id, str(d.outcome), d.score, reasons, hold_id, True)


# ``actor`` in the bodies below is accepted for older clients and ignored: who acts is the
# authenticated caller (session or API token), never a name the body claims.


class HoldResolution(msgspec.Struct, forbid_unknown_fields=True):
    note: LongText = ""
    actor: Name | None = None  # ignored


class HoldOut(msgspec.Struct):
    id: int
    event_id: str
    account_id: str
    withdrawal_id: str | None
    asset: str
    amount: Decimal
    usd_value: Decimal
    status: str
    reasons: list[dict[str, Any]]
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    approved_by: str | None
    note: str | None


class AlertOut(msgspec.Struct):
    id: int
    rule_id: str
    rule_version: int
    typology: str
    event_id: str
    row: int
    account_id: str
    seq: int
    action: str
    score: int
    reason: str
    shadow: bool
    created_at: datetime


class DecisionOut(msgspec.Struct):
    id: int
    event_id: str
    row: int
    account_id: str
    seq: int
    event_type: str
    outcome: str
    score: int
    reasons: list[dict[str, Any]]
    rule_ids: list[str]
    decided_at: datetime
    latency_us: int


def _fields(obj: Any, cls: type[msgspec.Struct]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in cls.__struct_fields__ if hasattr(obj, name)}


def hold_out(h: Hold) -> HoldOut:
    return HoldOut(**{**_fields(h, HoldOut), "status": str(h.status)})


def alert_out(a: Alert) -> AlertOut:
    return AlertOut(**{**_fields(a, AlertOut), "action": str(a.action)})


def decision_out(d: Decision) -> DecisionOut:
    return DecisionOut(**{**_fields(d, DecisionOut), "outcome": str(d.outcome)})
