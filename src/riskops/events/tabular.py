"""Events as a table: the Parquet layout of event files, and the flat rows in SQL.

An event file in Parquet has one column per wire field of any event type (null where a type
has no such field). Exact numbers stay exact: ``amount`` and ``usd_value`` are decimal
strings, ``occurred_at`` a UTC microsecond timestamp, nested lists are JSON text.

``flat_sql`` turns such a table into the flat rows of ``riskops.events.flat`` inside DuckDB,
so a backtest never has to pull millions of events through Python. A test checks that it
gives exactly what ``flat.to_rows`` gives.
"""

from __future__ import annotations

import datetime as dt
import enum
import typing
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import msgspec
import pyarrow as pa

from riskops.events.schemas import EVENT_TYPES


def _arrow_type(annotation: Any) -> pa.DataType:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _arrow_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _arrow_type(args[0])
    if origin is list:
        return pa.string()  # nested records as JSON text
    if annotation is bool:
        return pa.bool_()
    if annotation is int:
        return pa.int64()
    if annotation is float:
        return pa.float64()
    if annotation is dt.datetime:
        return pa.timestamp("us", tz="UTC")
    if annotation is dt.date:
        return pa.date32()
    if annotation is Decimal:
        return pa.string()
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum | str):
        return pa.string()
    raise TypeError(f"no arrow type for {annotation!r}")


def _event_columns() -> dict[str, pa.DataType]:
    columns: dict[str, pa.DataType] = {"type": pa.string()}
    for cls in EVENT_TYPES.values():
        hints = typing.get_type_hints(cls, include_extras=True)
        for name in cls.__struct_fields__:
            kind = _arrow_type(hints[name])
            if columns.setdefault(name, kind) != kind:  # pragma: no cover - schema guard
                raise TypeError(f"field {name} has two types across event types")
    return columns


EVENT_COLUMNS = _event_columns()
EVENT_SCHEMA = pa.schema(list(EVENT_COLUMNS.items()))
_NESTED = {name for name, kind in EVENT_COLUMNS.items() if name == "beneficial_owners"}
_TIMESTAMPS = {name for name, kind in EVENT_COLUMNS.items() if pa.types.is_timestamp(kind)}
_DATES = {name for name, kind in EVENT_COLUMNS.items() if pa.types.is_date(kind)}


def wire_dicts_to_table(events: Iterable[dict[str, Any]]) -> pa.Table:
    """Wire-format event dicts (as in NDJSON) to an Arrow table in the event layout."""
    columns: dict[str, list[Any]] = {name: [] for name in EVENT_COLUMNS}
    for event in events:
        for name, values in columns.items():
            value = event.get(name)
            if value is not None:
                if name in _TIMESTAMPS and isinstance(value, str):
                    value = dt.datetime.fromisoformat(value)
                elif name in _DATES and isinstance(value, str):
                    value = dt.date.fromisoformat(value)
                elif name in _NESTED:
                    value = msgspec.json.encode(value).decode()
                elif isinstance(value, Decimal | float) and pa.types.is_string(EVENT_COLUMNS[name]):
                    value = str(value)
            values.append(value)
    return pa.table(columns, schema=EVENT_SCHEMA)


def table_to_wire_dicts(table: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows of an event table back to wire dicts (nulls dropped), for validation."""
    names = [n for n in table.column_names if n in EVENT_COLUMNS]
    for batch in table.select(names).to_batches(max_chunksize=65_536):
        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        for values in zip(*columns, strict=True):
            row: dict[str, Any] = {}
            for name, value in zip(names, values, strict=True):
                if value is None:
                    continue
                if name in _NESTED:
                    value = msgspec.json.decode(value)
                row[name] = value
            yield row


def _col(name: str, present: set[str], cast: str = "VARCHAR") -> str:
    return name if name in present else f"CAST(NULL AS {cast})"


def flat_sql(relation: str, present: Iterable[str], *, seq: str = "source_row") -> str:
    """SQL (DuckDB) giving the flat rows of an event table.

    ``relation`` is a table or sub-query in the event layout with a ``source_row`` column
    (the 0-based data row of the file), which also serves as the processing order ``seq``.
    ``present`` names the event columns the relation has; missing ones read as NULL.
    """
    p = set(present) | {"source_row"}

    def c(name: str, cast: str = "VARCHAR") -> str:
        return _col(name, p, cast)

    direction = (
        "CASE WHEN type IN ('withdrawal.requested', 'transfer.internal', 'card.chargeback') "
        "THEN 'out' "
        "WHEN type = 'deposit' THEN 'in' "
        f"WHEN type = 'p2p.order' THEN CASE WHEN {c('side')} = 'buy' THEN 'in' ELSE 'out' END END"
    )
    common = {
        "seq": f"CAST({seq} AS BIGINT)",
        "event_id": "event_id",
        "type": "type",
        "ts_us": "epoch_us(occurred_at)",
        "source_row": "CAST(source_row AS BIGINT)",
        "asset": c("asset"),
        "amount": f"CAST({c('amount')} AS DOUBLE)",
        "usd_cents": f"CAST(CAST({c('usd_value')} AS DECIMAL(20,2)) * 100 AS BIGINT)",
        "rail": c("rail"),
        "chain": c("chain"),
        "address": f"COALESCE({c('address')}, {c('source_address')})",
        "tx_hash": c("tx_hash"),
        "instrument_id": c("instrument_id"),
        "method": (
            f"COALESCE({c('method')}, {c('payment_method')}, {c('two_fa_method')}, {c('channel')})"
        ),
        "ip": c("ip"),
        "ip_country": c("ip_country"),
        "device_id": c("device_id"),
        "user_agent": c("user_agent"),
        "success": c("success", "BOOLEAN"),
        "change": c("change"),
        "signal": c("signal"),
        "email": c("email"),
        "phone": c("phone"),
        "country": c("country"),
        "referred_by": c("referred_by"),
        "kyc_level": f"CAST({c('level', 'INTEGER')} AS INTEGER)",
        "result": c("result"),
        "document_country": c("document_country"),
        "nationality": c("nationality"),
        "side": c("side"),
        "corporate": (
            f"CASE WHEN type = 'account.created' "
            f"THEN COALESCE({c('corporate', 'BOOLEAN')}, false) END"
        ),
        # account state, not event data: the monitor fills them, history has none
        "account.rating": "CAST(NULL AS INTEGER)",
        "account.rating_band": "CAST(NULL AS VARCHAR)",
        "model.score": "CAST(NULL AS DOUBLE)",
        "anomaly.score": "CAST(NULL AS DOUBLE)",
    }
    own = dict(
        common,
        row="0",
        account_id="account_id",
        counterparty_id=c("counterparty_id"),
        direction=direction,
    )
    mirror = dict(
        common,
        row="1",
        account_id="counterparty_id",
        counterparty_id="account_id",
        direction="'in'",
    )
    from riskops.events.flat import FLAT_COLUMNS

    def select(exprs: dict[str, str]) -> str:
        return ", ".join(f'{exprs[name]} AS "{name}"' for name in FLAT_COLUMNS)

    sql = f"SELECT {select(own)} FROM {relation}"
    if "counterparty_id" in p:
        sql += (
            f" UNION ALL SELECT {select(mirror)} FROM {relation} WHERE type = 'transfer.internal'"
        )
    return sql
