"""Parquet batches prepared column-wise give exactly what the per-row path gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.events import adapters, columnar, service
from riskops.events.adapters import Batch
from riskops.events.repository import stored_time
from riskops.events.schemas import EVENT_TYPES
from riskops.events.tabular import wire_dicts_to_table

T0 = "2025-03-01T12:00:00Z"
MONEY = {"asset": "BTC", "amount": "0.25", "usd_value": "15000.00"}
# One valid event of each type.
VALID: dict[str, dict[str, Any]] = {
    "account.created": {"email": "a@b.c", "country": "FR", "corporate": True},
    "kyc.submitted": {"level": 2, "date_of_birth": "1980-02-29", "nationality": "DE"},
    "kyc.decided": {"level": 1, "result": "approved", "reason": "ok"},
    "kyb.submitted": {
        "legal_name": "ACME",
        "registration_number": "1",
        "country": "GB",
        "beneficial_owners": [{"full_name": "B", "ownership_pct": 50.5}],
    },
    "kyb.decided": {"result": "rejected"},
    "login": {"success": False, "user_agent": "", "ip_country": "US"},
    "session": {"ip": "10.0.0.1", "device_id": "d"},
    "security.change": {"change": "2fa_reset", "channel": "sms"},
    "deposit": {**MONEY, "rail": "crypto", "tx_hash": "0x1"},
    "withdrawal.requested": {**MONEY, "address": "T1"},
    "transfer.internal": {**MONEY, "counterparty_id": "acct-2"},
    "trade": {**MONEY, "side": "sell", "quote_asset": "USDT", "price": "2000.10"},
    "p2p.order": {**MONEY, "side": "buy", "counterparty_id": "c", "payment_method": "sepa"},
    "card.chargeback": {**MONEY, "reason": "fraud"},
    "provider.signal": {"signal": "sim_swap", "provider": "twilio"},
}
# Values the column path leaves to the per-row path, valid or not.
PER_ROW = [
    ("email", 'quo"te'),
    ("ip", "back\\slash"),
    ("device_id", "tab\there"),
    ("amount", "1E+2"),
    ("amount", "0.0000001"),
    ("amount", "007.5"),
    ("amount", "0"),
    ("amount", " 1"),
    ("usd_value", "1.500"),
    ("usd_value", "1.501"),
    ("usd_value", "-0"),
    ("usd_value", "123456789012345678901234567890.00"),
    ("price", "-0.0000000"),
    ("asset", "btc"),
    ("ip_country", "F"),
    ("country", "fr"),
    ("event_id", ""),
    ("event_id", "e" * 129),
    ("ip", "x" * 257),
    ("user_agent", "u" * 1025),
    ("level", 7),
    ("result", "maybe"),
    ("change", "nope"),
    ("schema_version", 2),
    ("rail", "pigeon"),
    # outside the bounds (riskops.kernel.bounds), or too near them for the column path
    ("amount", "12345678901234567890123456789012345.5"),
    ("amount", "1000000000000000"),
    ("amount", "1.1234567890123456789"),
    ("usd_value", "1000000000000.00"),
    ("usd_value", "1000000000000.01"),
    ("price", "-0.000000"),
    ("occurred_at", "0001-01-01T00:00:00Z"),
    ("occurred_at", "2008-12-31T23:59:59.999999Z"),
    ("occurred_at", "9999-12-31T23:59:59.999999Z"),
    ("date_of_birth", "1899-12-31"),
    ("account_id", "   "),
    ("event_id", " e"),
    ("event_id", "é-1"),
    ("counterparty_id", "c\u200b"),
    ("device_id", "a\x85b"),
    ("email", "nul\x00"),
    ("ip", "not-an-ip"),
    ("ip", "1.2.3.4 "),
]
# Valid values the column path writes itself.
COLUMN = [
    ("device_id", "ünï€😀"),
    ("amount", "0.000001"),
    ("amount", "999999999999999.123456789012345678"),
    ("usd_value", "999999999999.99"),
    ("usd_value", "0"),
    ("usd_value", "0.0"),
    ("price", "0.000001"),
    ("user_agent", "u" * 1024),
    ("event_id", "e" * 128),
    ("occurred_at", "2009-01-01T00:00:00Z"),
    ("occurred_at", "2025-03-01T00:00:00.5+02:00"),
    ("date_of_birth", "1900-01-01"),
    ("ip", "2001:db8::1"),
    ("ip", "fe80::1%eth0"),
    ("device_id", "zw\u200cnj"),
    ("schema_version", 1),
]


def _event(i: int, kind: str, **changes: Any) -> dict[str, Any]:
    event = {"type": kind, "event_id": f"e-{i}", "account_id": f"acct-{i % 3}", "occurred_at": T0}
    return {**event, **VALID[kind], **changes}


def _compare(
    events: list[dict[str, Any]], first_row: int = 0
) -> tuple[service.Prepared, list[int]]:
    """Prepare the events both ways and assert the same result. Returns the column path's,
    and the rows it handed to the per-row path."""
    record_batch = wire_dicts_to_table(events).combine_chunks().to_batches()[0]
    with pytest.MonkeyPatch.context() as patch:
        per_row = _recording(patch)
        by_column = columnar.prepare_record_batch(record_batch, first_row, "file", "f.parquet")
    by_row = service.prepare(
        adapters.parse_batch(Batch("parquet", first_row, record_batch)),
        first_row,
        "file",
        "f.parquet",
    )
    assert by_column.rows == by_row.rows
    assert by_column.indexes == by_row.indexes
    assert by_column.firsts == by_row.firsts
    assert by_column.later == by_row.later
    assert by_column.report == by_row.report
    for dead in (by_column.dead, by_row.dead):
        for letter in dead:
            del letter["received_at"]
    assert by_column.dead == by_row.dead
    return by_column, per_row


def _recording(patch: pytest.MonkeyPatch) -> list[int]:
    """Record the rows the per-row path is given."""
    seen: list[int] = []
    real = adapters.parse_record_batch

    def parse_record_batch(batch: Any, rows: Any, max_bytes: int = 64 * 1024) -> Any:
        rows = list(rows)
        seen.extend(rows)
        return real(batch, rows, max_bytes)

    patch.setattr(adapters, "parse_record_batch", parse_record_batch)
    return seen


def test_every_type_and_edge_case() -> None:
    events, expected_per_row = [], []
    for kind in VALID:
        fields = {f.encode_name for f in msgspec.structs.fields(EVENT_TYPES[kind])}
        for name, value in [("type", kind), *PER_ROW, *COLUMN]:
            events.append(_event(len(events), kind, **{name: value}))
            if (name, value) in PER_ROW or kind.startswith("kyb.") or name not in fields | {"type"}:
                expected_per_row.append(len(events) - 1)
    events.append(_event(len(events), "login", success=None))  # a required field missing
    expected_per_row.append(len(events) - 1)
    events.append(dict(events[0]))  # a replay within the batch
    events.append({**events[0], "account_id": "other"})  # the same id, other content
    prepared, per_row = _compare(events, first_row=100)
    assert per_row == [100 + i for i in expected_per_row]
    # seen again: the 128-character and the "é-1" ids of each type after the first, the
    # replay, the conflict
    assert prepared.report.rejected_count > 100 and len(prepared.later) == 2 * 14 + 2
    assert len(prepared.indexes) > 150


def test_a_batch_not_in_the_event_layout_goes_row_by_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = [_event(i, "deposit") for i in range(5)] + [_event(5, "kyc.submitted")]
    table = wire_dicts_to_table(events)
    level = table.column_names.index("level")
    texty = table.set_column(level, "level", table.column(level).cast(pa.string()))
    per_row = _recording(monkeypatch)
    batch = texty.combine_chunks().to_batches()[0]
    by_column = columnar.prepare_record_batch(batch, 0, "file", None)
    assert per_row == list(range(6))
    assert len(by_column.indexes) == 6  # the text level is converted, as per row


def test_a_required_field_missing_from_every_row_of_a_type() -> None:
    events = [_event(0, "login", success=None), _event(1, "login", success=None)]
    _, per_row = _compare([*events, _event(2, "deposit")])
    assert per_row == [0, 1]


valid_kinds = st.sampled_from(sorted(VALID))
changes = st.lists(st.sampled_from(PER_ROW + COLUMN), max_size=2)
moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-9, minutes=-30))]),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), valid_kinds, changes, moments, st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.integers(0, 10**6),
)
def test_generated_batches(rows: list[Any], first_row: int) -> None:
    events = []
    for i, kind, edits, moment, drop_optional in rows:
        event = _event(i, kind, **{"occurred_at": moment.isoformat(), **dict(edits)})
        if drop_optional:  # the type's optional fields absent: their defaults are written
            required = {
                f.encode_name for f in msgspec.structs.fields(EVENT_TYPES[kind]) if f.required
            }
            event = {k: v for k, v in event.items() if k not in VALID[kind] or k in required}
        events.append(event)
    _compare(events, first_row)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_utc_times_as_text_match_strftime(unit: str) -> None:
    # The per-row path's time text (kept in dead letters' raw JSON) is Arrow's strftime's.
    span = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    low, high = (-62_135_596_800, 253_402_300_799) if unit != "ns" else (-9 * 10**9, 9 * 10**9)
    values = [low * span, high * span + span - 1, 0, None, 1_740_000_000 * span + span // 3]
    column = pa.array(values, pa.timestamp(unit, tz="UTC"))
    table = adapters._utc_times_as_text(pa.table({"occurred_at": column}))
    expected = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
    assert table.column(0).combine_chunks().equals(expected)


@given(moments)
def test_stored_time_is_utc_text_with_microseconds(moment: datetime) -> None:
    assert stored_time(moment) == moment.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def test_only_nested_types_go_row_by_row() -> None:
    # A field type without a column rule would silently send its event types row by row.
    assert set(EVENT_TYPES) - set(columnar._PLANS) == {"kyb.submitted", "kyb.decided"}
