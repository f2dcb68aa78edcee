"""The flat row: one layout of an event that the rules see, in Python and in SQL alike.

An event becomes one row, except an internal transfer, which moves money for two accounts
of the exchange and so becomes two rows: the sender's (``direction = 'out'``) and the
receiver's (``direction = 'in'``, with ``account_id`` and ``counterparty_id`` swapped).
This lets per-account rules see money coming in as well as going out (fan-in, pass-through).

Column names are the rule language's field names. Money in rules is ``usd_cents`` (exact
integer); ``amount`` is the asset amount as a float, for display and loose comparisons only.
"""

from __future__ import annotations

import enum
import typing
from typing import Any

import pyarrow as pa

from riskops.events import schemas as s
from riskops.kernel.clock import to_us

# name -> arrow type. Order is the column order in Parquet and DuckDB.
FLAT_FIELDS: dict[str, pa.DataType] = {
    "seq": pa.int64(),  # processing order (ingest sequence); ties in time keep this order
    "row": pa.int32(),  # 0 for the event's own account, 1 for the counterparty's view
    "event_id": pa.string(),
    "type": pa.string(),
    "account_id": pa.string(),
    "ts_us": pa.int64(),  # occurred_at, microseconds since the epoch, UTC
    "source_row": pa.int64(),  # 0-based data row of the file it came from, if any
    "direction": pa.string(),  # in | out for money movement
    "counterparty_id": pa.string(),
    "asset": pa.string(),
    "amount": pa.float64(),
    "usd_cents": pa.int64(),
    "rail": pa.string(),
    "chain": pa.string(),
    "address": pa.string(),  # withdrawal destination or crypto deposit source
    "tx_hash": pa.string(),
    "instrument_id": pa.string(),
    "method": pa.string(),  # transfer method, P2P payment method, 2FA method, change channel
    "ip": pa.string(),
    "ip_country": pa.string(),
    "device_id": pa.string(),
    "user_agent": pa.string(),
    "success": pa.bool_(),
    "change": pa.string(),
    "signal": pa.string(),
    "email": pa.string(),
    "phone": pa.string(),
    "country": pa.string(),
    "referred_by": pa.string(),
    "kyc_level": pa.int32(),
    "result": pa.string(),
    "document_country": pa.string(),
    "nationality": pa.string(),
    "side": pa.string(),
    "corporate": pa.bool_(),
    # The account's risk rating (``riskops.accounts.rating``) as it stood when the monitor's
    # batch began: not in the event, so null here and in backtests; the monitor fills them.
    "account.rating": pa.int32(),
    "account.rating_band": pa.string(),
    # The live model's calibrated score and the account's anomaly score (``riskops.learn``),
    # computed by the monitor before the rules run: null in backtests, like the rating.
    "model.score": pa.float64(),
    "anomaly.score": pa.float64(),
}
FLAT_SCHEMA = pa.schema(list(FLAT_FIELDS.items()))
FLAT_COLUMNS: tuple[str, ...] = tuple(FLAT_FIELDS)

_OUT_TYPES = {"withdrawal.requested", "transfer.internal", "card.chargeback"}
_IN_TYPES = {"deposit"}
# Event attribute -> flat column, where the names differ.
_RENAMED = {
    "source_address": "address",
    "level": "kyc_level",
    "two_fa_method": "method",
    "payment_method": "method",
    "channel": "method",
}
_SKIPPED = {
    "event_id",
    "account_id",
    "occurred_at",
    "schema_version",
    "amount",
    "usd_value",
    "beneficial_owners",
    "full_name",
    "date_of_birth",
    "legal_name",
    "registration_number",
    "referral_code",
    "withdrawal_id",
    "transfer_id",
    "order_id",
    "deposit_event_id",
    "reason",
    "failure_reason",
    "new_value",
    "counterparty_name",
    "provider",
    "price",
    "quote_asset",
    "document_type",
}


def usd_to_cents(value: Any) -> int:
    """Exact USD value to integer cents (values carry at most two decimal places)."""
    return int(value * 100)


def direction_of(event_type: str, side: str | None) -> str | None:
    if event_type in _OUT_TYPES:
        return "out"
    if event_type in _IN_TYPES:
        return "in"
    if event_type == "p2p.order":
        return "in" if side == "buy" else "out"
    return None


# Per event class: its type tag, and (attribute, flat column, is an enum) for the
# attributes that map one to one.
_Plan = tuple[str, tuple[tuple[str, str, bool], ...]]
_PLANS: dict[type, _Plan] = {}
_EMPTY: dict[str, Any] = dict.fromkeys(FLAT_COLUMNS)


def _plan(cls: type[s.Event]) -> _Plan:
    hints = typing.get_type_hints(cls)
    plan = []
    for name in cls.__struct_fields__:
        if name in _SKIPPED:
            continue
        kinds = typing.get_args(hints[name]) or (hints[name],)
        is_enum = any(isinstance(k, type) and issubclass(k, enum.Enum) for k in kinds)
        plan.append((name, _RENAMED.get(name, name), is_enum))
    return str(cls.__struct_config__.tag), tuple(plan)


def to_rows(event: s.Event, seq: int, source_row: int | None = None) -> list[dict[str, Any]]:
    """The flat rows of one event (two for an internal transfer). On the monitor's hot path."""
    cls = type(event)
    found = _PLANS.get(cls)
    if found is None:
        found = _PLANS[cls] = _plan(cls)
    event_type, plan = found
    row = _EMPTY.copy()
    row["seq"] = seq
    row["row"] = 0
    row["event_id"] = event.event_id
    row["type"] = event_type
    row["account_id"] = event.account_id
    row["ts_us"] = to_us(event.occurred_at)
    row["source_row"] = source_row
    for name, column, is_enum in plan:
        value = getattr(event, name)
        if value is not None:
            row[column] = value.value if is_enum else value
    if isinstance(event, s.Money):
        row["amount"] = float(event.amount)
        row["usd_cents"] = usd_to_cents(event.usd_value)
    row["direction"] = direction_of(event_type, row["side"])
    if not isinstance(event, s.TransferInternal):
        return [row]
    mirror = row.copy()
    mirror["row"] = 1
    mirror["account_id"] = event.counterparty_id
    mirror["counterparty_id"] = event.account_id
    mirror["direction"] = "in"
    return [row, mirror]
