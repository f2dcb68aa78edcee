"""The IBM AMLworld transaction format (``*_Trans.csv``), read as it is.

Each row is an account-to-account transfer, mapped onto a ``transfer.internal`` event of
the sending account: ``account_id`` is ``"{From Bank}-{Account}"``, ``counterparty_id``
``"{To Bank}-{Account}"``, ``occurred_at`` the ``YYYY/MM/DD HH:MM`` timestamp read as UTC,
``asset``/``amount`` the paid side, ``method`` the Payment Format. ``event_id`` is
``"aml-" + blake2b(f"{row}|{line}").hexdigest()[:20]`` where ``row`` is the 0-based data row
(header excluded, as in the data set's pattern files) and ``line`` the raw CSV line without
its line break: stable across re-ingestion, so a re-run is a no-op.

``Is Laundering`` is a label, not event data: ``read_amlworld_labels`` returns it by row.

USD values use the fixed table ``USD_PER_UNIT``: approximate mid-market rates of
September 2022 (the period AMLworld simulates), rounded; good enough for thresholds and
features, not for accounting. The data set's own exchange rates are not published.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from riskops.events.schemas import Event, TransferInternal
from riskops.events.validation import FieldError, Rejection

HEADER = (
    "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
    "Amount Paid,Payment Currency,Payment Format,Is Laundering"
)
N_COLUMNS = 11
CURRENCIES = {
    "US Dollar": "USD",
    "Euro": "EUR",
    "Bitcoin": "BTC",
    "Yuan": "CNY",
    "Yen": "JPY",
    "UK Pound": "GBP",
    "Rupee": "INR",
    "Ruble": "RUB",
    "Mexican Peso": "MXN",
    "Brazil Real": "BRL",
    "Canadian Dollar": "CAD",
    "Australian Dollar": "AUD",
    "Swiss Franc": "CHF",
    "Shekel": "ILS",
    "Saudi Riyal": "SAR",
}
# Approximate USD per unit, September 2022 (rounded mid-market rates).
USD_PER_UNIT = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.00"),
    "BTC": Decimal("20000"),
    "CNY": Decimal("0.145"),
    "JPY": Decimal("0.0070"),
    "GBP": Decimal("1.15"),
    "INR": Decimal("0.0125"),
    "RUB": Decimal("0.0165"),
    "MXN": Decimal("0.050"),
    "BRL": Decimal("0.19"),
    "CAD": Decimal("0.75"),
    "AUD": Decimal("0.68"),
    "CHF": Decimal("1.03"),
    "ILS": Decimal("0.29"),
    "SAR": Decimal("0.266"),
}
_CENT = Decimal("0.01")
_RATES = {name: (code, USD_PER_UNIT[code]) for name, code in CURRENCIES.items()}


def open_text(path: Path) -> Iterator[str]:
    """Lines of a text file, gzip-compressed or not (line breaks kept)."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        yield from handle


def is_amlworld_header(line: str) -> bool:
    """Whether a CSV header line is the AMLworld transaction header."""
    return line.strip().replace(", ", ",") == HEADER


def _fields(line: str) -> list[str]:
    # The data set is unquoted; anything quoted goes through the csv module.
    if '"' in line:
        return next(csv.reader([line]), [])
    return line.split(",")


def _data_lines(path: Path) -> Iterator[tuple[int, str]]:
    lines = open_text(path)
    next(lines, None)  # header
    row = 0
    for line in lines:
        text = line.rstrip("\r\n")
        if not text:
            continue
        yield row, text
        row += 1


def read_amlworld(path: Path) -> Iterator[tuple[int, Event | Rejection]]:
    """``(row, TransferInternal | Rejection)`` for each data row of an AMLworld file."""
    times: dict[str, datetime] = {}
    blake2b = hashlib.blake2b
    for row, line in _data_lines(path):
        f = _fields(line)
        event_id = "aml-" + blake2b(f"{row}|{line}".encode()).hexdigest()[:20]
        if len(f) != N_COLUMNS:
            reason = f"expected {N_COLUMNS} columns, got {len(f)}"
            yield row, Rejection([FieldError("$", reason)], line.encode(), event_id, row)
            continue
        errors: list[FieldError] = []
        when = times.get(f[0])
        if when is None:
            try:
                when = datetime.strptime(f[0], "%Y/%m/%d %H:%M").replace(tzinfo=UTC)
            except ValueError:
                errors.append(FieldError("$.Timestamp", f"not YYYY/MM/DD HH:MM: {f[0]!r}"))
            else:
                times[f[0]] = when
        rate = _RATES.get(f[8])
        if rate is None:
            errors.append(FieldError("$.Payment Currency", f"unknown currency {f[8]!r}"))
        try:
            amount = Decimal(f[7])
        except InvalidOperation:
            errors.append(FieldError("$.Amount Paid", f"not a number: {f[7]!r}"))
        if not (f[1] and f[2] and f[3] and f[4]):
            errors.append(FieldError("$.Account", "bank and account are required on both sides"))
        if errors or when is None or rate is None:
            yield row, Rejection(errors, line.encode(), event_id, row)
            continue
        try:
            usd_value = (amount * rate[1]).quantize(_CENT)
            event: Event = TransferInternal(
                event_id=event_id,
                account_id=f"{f[1]}-{f[2]}",
                occurred_at=when,
                asset=rate[0],
                amount=amount,
                usd_value=usd_value,
                counterparty_id=f"{f[3]}-{f[4]}",
                method=f[9] or None,
            )
        except (ValueError, ArithmeticError) as exc:  # outside the bounds (kernel.bounds)
            yield row, Rejection([_refused(exc, f[7])], line.encode(), event_id, row)
            continue
        yield row, event


# The event field a bound names (``riskops.events.schemas.check_bounds``: "`field` reason")
# -> the AMLworld column it came from.
_COLUMNS = {
    "occurred_at": "$.Timestamp",
    "account_id": "$.Account",
    "counterparty_id": "$.Account",
    "method": "$.Payment Format",
}


def _refused(exc: Exception, paid: str) -> FieldError:
    if not isinstance(exc, ValueError):
        return FieldError("$.Amount Paid", f"unusable amount {paid!r}")
    message = str(exc)
    field, _, reason = message.partition("` ")
    column = _COLUMNS.get(field.lstrip("`"), "$.Amount Paid")
    return FieldError(column, reason if reason else message)


def read_amlworld_labels(path: Path) -> dict[int, bool]:
    """``row -> Is Laundering`` for each data row (0-based, header excluded).

    Rows without the 11 columns have no label (they are rejected on ingestion too).
    """
    labels: dict[int, bool] = {}
    for row, line in _data_lines(path):
        fields = _fields(line)
        if len(fields) == N_COLUMNS:
            labels[row] = fields[-1].strip() == "1"
    return labels
