"""What every export reads: the report's facts, shaped once from the stored row, and the
reporting entity (the exchange, from the settings). The format modules (``goaml``,
``fincen``) map these to their XML; nothing here knows a format."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from riskops.kernel.config import Settings
from riskops.sar.models import SarReport

# Characters XML 1.0 cannot carry at all (C0 controls but tab, LF, CR; surrogates; FFFE/FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def not_xml(text: str) -> bool:
    """Whether ``text`` holds a character no XML document can carry."""
    return _NOT_XML.search(text) is not None


def one_line(text: str) -> str:
    """Whitespace runs (newlines, tabs, non-breaking spaces) as one space, trimmed, in NFC:
    how a name or an address is written into a format's single-line field."""
    return " ".join(unicodedata.normalize("NFC", text).split())


@dataclass(frozen=True, slots=True)
class Entity:
    """The reporting entity: the exchange as the FIU knows it."""

    rentity_id: int
    name: str
    tin: str
    country: str
    city: str
    address: str
    currency: str
    contact_name: str
    contact_phone: str
    tcc: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Entity:
        return cls(
            rentity_id=settings.sar_entity_id,
            name=settings.sar_entity_name,
            tin=settings.sar_entity_tin,
            country=settings.sar_entity_country,
            city=settings.sar_entity_city,
            address=settings.sar_entity_address,
            currency=settings.sar_currency,
            contact_name=settings.sar_contact_name,
            contact_phone=settings.sar_contact_phone,
            tcc=settings.sar_transmitter_tcc,
        )


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # person | entity
    first_name: str
    last_name: str
    name: str  # an entity's legal name; a person's full name when not split
    gender: str  # M | F | "" (unknown)
    birth_date: date | None
    nationality: str
    country: str  # residence (a person) or incorporation (an entity)
    id_type: str
    id_number: str
    id_country: str
    id_issued: date | None
    id_expires: date | None
    tax_number: str
    phone: str
    email: str
    address: str
    city: str
    occupation: str
    account_id: str

    @property
    def display_name(self) -> str:
        return self.name or f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, slots=True)
class Transaction:
    event_id: str
    at: datetime
    type: str
    direction: str  # in | out
    amount: Decimal
    asset: str
    usd_value: Decimal
    counterparty: str


@dataclass(frozen=True, slots=True)
class Filing:
    """A report as the formats read it."""

    id: int
    case_id: int
    typology: str
    activity_from: datetime | None
    activity_to: datetime | None
    narrative: str
    subjects: tuple[Subject, ...]
    transactions: tuple[Transaction, ...]
    accounts: tuple[str, ...]
    prepared_at: datetime
    entity: Entity
    opened: dict[str, datetime] = field(default_factory=dict)  # account -> opening time

    @property
    def total_usd(self) -> Decimal:
        return sum((t.usd_value for t in self.transactions), Decimal(0))


def _date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value)


def subject(row: dict[str, Any]) -> Subject:
    return Subject(
        kind=_text(row, "kind") or "person",
        first_name=_text(row, "first_name"),
        last_name=_text(row, "last_name"),
        name=_text(row, "name"),
        gender=_text(row, "gender"),
        birth_date=_date(row.get("birth_date")),
        nationality=_text(row, "nationality"),
        country=_text(row, "country"),
        id_type=_text(row, "id_type"),
        id_number=_text(row, "id_number"),
        id_country=_text(row, "id_country"),
        id_issued=_date(row.get("id_issued")),
        id_expires=_date(row.get("id_expires")),
        tax_number=_text(row, "tax_number"),
        phone=_text(row, "phone"),
        email=_text(row, "email"),
        address=_text(row, "address"),
        city=_text(row, "city"),
        occupation=_text(row, "occupation"),
        account_id=_text(row, "account_id"),
    )


def transaction(row: dict[str, Any]) -> Transaction:
    at = datetime.fromisoformat(_text(row, "at"))
    return Transaction(
        event_id=_text(row, "event_id"),
        at=at,
        type=_text(row, "type"),
        direction=_text(row, "direction") or "out",
        amount=_decimal(row.get("amount")),
        asset=_text(row, "asset"),
        usd_value=_decimal(row.get("usd_value")),
        counterparty=_text(row, "counterparty"),
    )


def filing(
    report: SarReport,
    accounts: list[str],
    entity: Entity,
    prepared_at: datetime,
    opened: dict[str, datetime] | None = None,
) -> Filing:
    return Filing(
        id=report.id,
        case_id=report.case_id,
        typology=report.typology,
        activity_from=report.activity_from,
        activity_to=report.activity_to,
        narrative=report.narrative,
        subjects=tuple(subject(s) for s in report.subjects),
        transactions=tuple(transaction(t) for t in report.transactions),
        accounts=tuple(accounts),
        prepared_at=prepared_at,
        entity=entity,
        opened=dict(opened or {}),
    )
