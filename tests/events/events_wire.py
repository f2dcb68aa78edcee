"""Wire events for the events tests (the ``wire`` fixture, and hypothesis tests, which take
no function-scoped fixture)."""

from __future__ import annotations

from typing import Any

WireEvent = dict[str, Any]


def wire_deposit(i: int, **overrides: Any) -> WireEvent:
    """A valid ``deposit`` in the wire format; event id ``e-{i}``."""
    event: WireEvent = {
        "type": "deposit",
        "event_id": f"e-{i}",
        "account_id": f"acct-{i % 7}",
        "occurred_at": f"2025-03-01T12:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "asset": "BTC",
        "amount": "0.25",
        "usd_value": "15000.00",
        "rail": "crypto",
        "tx_hash": f"0x{i:08x}",
    }
    event.update(overrides)
    return event
