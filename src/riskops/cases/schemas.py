"""Shapes that cross the cases package boundary (API bodies, what the alert sources send)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from riskops.cases.models import AlertSource


class AlertIn(msgspec.Struct, kw_only=True):
    """An alert from any of the four sources, before it joins a case.

    ``source_ref`` is the source's own id (monitor alert id, Message-ID, provider signal id,
    service request id): receiving the same (source, source_ref) again changes nothing.
    ``account_id`` is None when the source could not be linked to an account: the alert opens
    a case in the triage queue, so it is never lost.
    """

    source: AlertSource
    source_ref: str
    account_id: str | None
    kind: str  # rule id, "sim_swap", "number_ported", "otp_failure", "dispute", "email", ...
    title: str
    severity: int = 50  # 0-100
    typology: str | None = None
    amount_usd: Decimal = Decimal(0)
    reason: str = ""
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    occurred_at: datetime | None = None  # defaults to when it was received
    queue_key: str | None = None  # force a queue (e.g. "service_requests"); else routed
