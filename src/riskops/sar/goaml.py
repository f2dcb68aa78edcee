"""goAML 5.0.2: a report (STR) with the reporting entity and one transaction per chosen
event, the customer's account on our side (``t_from_my_client`` for money out,
``t_to_my_client`` for money in) and the counterparty's wallet on the other.

goAML asks a lot of a "my client" person (birth date, gender, an identification with its
dates, nationality, residence), and its names allow ``[a-zA-Z0-9 .'-]`` only: a report whose
subject lacks them, or is named in another script, does not validate, and the schema's
errors say which element (``checks`` names the report's field first where it can).
Entities cannot be the account holder here without their directors, so the first person
subject signs the account; an entity subject is named in the account's name.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from lxml import etree

from riskops.sar.filing import Filing, Subject, Transaction, one_line

# typology -> goAML report indicator (the FIU's list; each FIU may rename them).
INDICATORS: dict[str, str] = {
    "structuring": "STRUC",
    "mule": "MLTAC",
    "pass_through": "MLTAC",
    "sanctions_exposure": "OFFSH",
    "high_risk_geography": "OFFSH",
    "account_takeover": "BEHAV",
}
DEFAULT_INDICATOR = "BEHAV"
_E = etree.SubElement


def _dt(value: datetime | date) -> str:
    """sql_date: a dateTime without a zone, at or after 1753."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return value.replace(tzinfo=None, microsecond=0).isoformat()


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = _E(parent, tag)
    if text is not None:
        child.text = text
    return child


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _person(parent: etree._Element, tag: str, s: Subject) -> None:
    p = _add(parent, tag)
    _add(p, "gender", s.gender or "-")
    _add(p, "first_name", one_line(s.first_name))
    _add(p, "last_name", one_line(s.last_name))
    _add(p, "birthdate", _dt(s.birth_date) if s.birth_date else "")
    _add(p, "id_number", one_line(s.id_number))
    _add(p, "nationality1", s.nationality or "-")
    _add(p, "residence", s.country or "-")
    phones = _add(p, "phones")
    if s.phone:
        phone = _add(phones, "phone")
        _add(phone, "tph_contact_type", "PRSNL")
        _add(phone, "tph_communication_type", "M")
        _add(phone, "tph_number", one_line(s.phone))
    if s.address or s.city:
        addresses = _add(p, "addresses")
        a = _add(addresses, "address")
        _add(a, "address_type", "PRSNL")
        _add(a, "address", one_line(s.address))
        _add(a, "city", one_line(s.city))
        _add(a, "country_code", s.country or "-")
        _add(a, "state", "-")
    if s.email:
        _add(p, "email", s.email.strip())
    if s.occupation:
        _add(p, "occupation", one_line(s.occupation))
    ident = _add(p, "identification")
    _add(ident, "type", s.id_type or "-")
    _add(ident, "number", one_line(s.id_number))
    _add(ident, "issue_date", _dt(s.id_issued) if s.id_issued else "")
    _add(ident, "expiry_date", _dt(s.id_expires) if s.id_expires else "")
    _add(ident, "issue_country", s.id_country or "-")
    _add(p, "tax_reg_number", "-")


def _my_account(parent: etree._Element, tag: str, f: Filing, account: str) -> None:
    holder = next((s for s in f.subjects if s.kind == "person"), None)
    named = next((s for s in f.subjects if s.account_id == account), holder)
    a = _add(parent, tag)
    _add(a, "institution_name", one_line(f.entity.name))
    _add(a, "institution_code", str(f.entity.rentity_id))
    _add(a, "non_bank_institution", "true")
    _add(a, "branch", "online")
    _add(a, "account", account)
    _add(a, "currency_code", f.entity.currency)
    _add(a, "account_name", one_line(named.display_name) if named else "")
    _add(a, "client_number", account[:30])
    _add(a, "personal_account_type", "CRYWT")
    if holder is not None:
        signatory = _add(a, "signatory")
        _add(signatory, "is_primary", "1")
        _person(signatory, "t_person", holder)
        _add(signatory, "role", "PAH")
    _add(a, "opened", _dt(f.opened.get(account) or f.activity_from or f.prepared_at))
    _add(a, "status_code", "A")
    _add(a, "beneficiary", one_line(named.display_name) if named else "")


def _their_account(parent: etree._Element, tag: str, t: Transaction) -> None:
    a = _add(parent, tag)
    _add(a, "institution_name", "Wallet outside the exchange")
    _add(a, "institution_code", t.asset or "-")
    _add(a, "account", one_line(t.counterparty) or "unknown")
    _add(a, "account_name", "Unknown")


def _transaction(report: etree._Element, f: Filing, t: Transaction, account: str) -> None:
    tx = _add(report, "transaction")
    _add(tx, "transactionnumber", t.event_id)
    _add(tx, "internal_ref_number", t.event_id)
    _add(tx, "transaction_location", "online")
    description = f"{t.type} of {t.amount} {t.asset}"
    if t.counterparty:
        description += f" {'to' if t.direction == 'out' else 'from'} {one_line(t.counterparty)}"
    _add(tx, "transaction_description", description)
    _add(tx, "date_transaction", _dt(t.at))
    _add(tx, "transmode_code", "ELCFT")
    _add(tx, "transmode_comment", "-")
    _add(tx, "amount_local", _money(t.usd_value))
    if t.direction == "in":
        side = _add(tx, "t_from")
        _add(side, "from_funds_code", "CRPTC")
        _their_account(side, "from_account", t)
        _add(side, "from_country", "-")
        side = _add(tx, "t_to_my_client")
        _add(side, "to_funds_code", "CRPTC")
        _my_account(side, "to_account", f, account)
        _add(side, "to_country", f.entity.country)
    else:
        side = _add(tx, "t_from_my_client")
        _add(side, "from_funds_code", "CRPTC")
        _my_account(side, "from_account", f, account)
        _add(side, "from_country", f.entity.country)
        side = _add(tx, "t_to")
        _add(side, "to_funds_code", "CRPTC")
        _their_account(side, "to_account", t)
        _add(side, "to_country", "-")


def build(f: Filing) -> etree._Element:
    """The goAML ``<report>`` of a filing (not yet validated)."""
    report = etree.Element("report")
    _add(report, "rentity_id", str(f.entity.rentity_id))
    _add(report, "submission_code", "E")
    _add(report, "report_code", "STR")
    _add(report, "entity_reference", f"riskops-sar-{f.id}")
    _add(report, "submission_date", _dt(f.prepared_at))
    _add(report, "currency_code_local", f.entity.currency)
    location = _add(report, "location")
    _add(location, "address_type", "BU")
    _add(location, "address", one_line(f.entity.address))
    _add(location, "city", one_line(f.entity.city))
    _add(location, "country_code", f.entity.country)
    _add(location, "state", "-")
    _add(report, "reason", f.narrative)
    _add(report, "action", f"Case {f.case_id} referred for a suspicious transaction report.")
    account = f.accounts[0] if f.accounts else ""
    for t in f.transactions:
        _transaction(report, f, t, account)
    indicators = _add(report, "report_indicators")
    _add(indicators, "indicator", INDICATORS.get(f.typology, DEFAULT_INDICATOR))
    return report
