"""FinCEN SAR XML (EFL_SARXBatchSchema 1.2): a batch of one activity with its parties, the
transmitter (35), its contact (37), the filing institution (30), the contact office (8), the
institution where the activity occurred (34) and one subject (33) per report subject,
the suspicious activity (period, amount, characterisation) and the narrative in up to five
parts of 4,000 characters. ``SeqNum`` is unique over the whole batch.

Names and addresses are single-line fields (``\\S+( +\\S+)*``): whitespace runs are written
as one space; what is too long is not cut, it fails validation and the reason names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import count

from lxml import etree

from riskops.sar.filing import Filing, Subject, one_line

NS = "www.fincen.gov/base"
NARRATIVE_PART = 4000
NARRATIVE_PARTS = 5
# typology -> (SuspiciousActivityTypeID, SuspiciousActivitySubtypeID); an "other" subtype
# (x999) carries the typology as its text.
CHARACTERISATION: dict[str, tuple[int, int]] = {
    "structuring": (1, 114),  # multiple transactions below the reporting threshold
    "mule": (8, 820),  # third-party transactors (straw man)
    "pass_through": (8, 823),  # funnel account
    "multi_accounting": (8, 809),  # multiple accounts
    "behaviour_change": (8, 822),  # out of pattern for the customer
    "card_fraud": (3, 309),  # credit / debit card
    "account_takeover": (10, 1001),
    "sim_swap": (10, 1001),
    "credential_stuffing": (10, 1001),
}
OTHER = (10, 10999)
_ID_TYPES = {"PASSP": "7", "DRIVL": "6"}


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


class _Doc:
    def __init__(self) -> None:
        self._seq: Iterator[int] = count(1)
        self.parties = 0

    def el(
        self, parent: etree._Element, tag: str, text: str | None = None, *, seq: bool = False
    ) -> etree._Element:
        child = etree.SubElement(parent, _q(tag))
        if seq:
            child.set("SeqNum", str(next(self._seq)))
        if text is not None:
            child.text = text
        return child

    def seq(self, tag: str, parent: etree._Element) -> etree._Element:
        return self.el(parent, tag, seq=True)


def _ymd(value: date | datetime | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _dollars(value: Decimal) -> str:
    return str(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _name(
    d: _Doc, party: etree._Element, *, full: str = "", first: str = "", last: str = ""
) -> None:
    n = d.seq("PartyName", party)
    d.el(n, "PartyNameTypeCode", "L")
    if last:
        d.el(n, "RawEntityIndividualLastName", one_line(last))
    if first:
        d.el(n, "RawIndividualFirstName", one_line(first))
    if full:
        d.el(n, "RawPartyFullName", one_line(full))


def _address(d: _Doc, party: etree._Element, street: str, city: str, country: str) -> None:
    a = d.seq("Address", party)
    d.el(a, "RawCityText", one_line(city))
    d.el(a, "RawCountryCodeText", country)
    d.el(a, "RawStreetAddress1Text", one_line(street))


def _institution(d: _Doc, activity: etree._Element, code: str, f: Filing) -> None:
    party = d.seq("Party", activity)
    d.parties += 1
    d.el(party, "ActivityPartyTypeCode", code)
    d.el(party, "PrimaryRegulatorTypeCode", "9")
    _name(d, party, full=f.entity.name)
    _address(d, party, f.entity.address, f.entity.city, f.entity.country)
    ident = d.seq("PartyIdentification", party)
    d.el(ident, "PartyIdentificationNumberText", one_line(f.entity.tin))
    d.el(ident, "PartyIdentificationTypeCode", "2")
    org = d.seq("OrganizationClassificationTypeSubtype", party)
    d.el(org, "OrganizationTypeID", "4")  # money services business


def _subject(d: _Doc, activity: etree._Element, s: Subject, f: Filing) -> None:
    party = d.seq("Party", activity)
    d.parties += 1
    d.el(party, "ActivityPartyTypeCode", "33")
    person = s.kind != "entity"
    if person and not s.birth_date:
        d.el(party, "BirthDateUnknownIndicator", "Y")
    if person and s.gender == "F":
        d.el(party, "FemaleGenderIndicator", "Y")
    if person and s.birth_date:
        d.el(party, "IndividualBirthDateText", _ymd(s.birth_date))
    if person and s.gender == "M":
        d.el(party, "MaleGenderIndicator", "Y")
    if not person:
        d.el(party, "PartyAsEntityOrganizationIndicator", "Y")
    if person and s.gender not in ("F", "M"):
        d.el(party, "UnknownGenderIndicator", "Y")
    if person:
        _name(d, party, first=s.first_name, last=s.last_name or s.name)
    else:
        _name(d, party, last=s.name)
    if s.address or s.city or s.country:
        _address(d, party, s.address, s.city, s.country)
    if s.phone:
        phone = d.seq("PhoneNumber", party)
        d.el(phone, "PhoneNumberText", "".join(c for c in s.phone if c.isdigit()))
    ident = d.seq("PartyIdentification", party)
    if s.tax_number:
        d.el(ident, "PartyIdentificationNumberText", one_line(s.tax_number))
        d.el(ident, "PartyIdentificationTypeCode", "1" if s.country == "US" else "5")
    else:
        d.el(ident, "TINUnknownIndicator", "Y")
    if s.id_number:
        ident = d.seq("PartyIdentification", party)
        if s.id_country:
            d.el(ident, "OtherIssuerCountryText", s.id_country)
        code = _ID_TYPES.get(s.id_type, "999")
        if code == "999":
            d.el(ident, "OtherPartyIdentificationTypeText", one_line(s.id_type or "identity"))
        d.el(ident, "PartyIdentificationNumberText", one_line(s.id_number))
        d.el(ident, "PartyIdentificationTypeCode", code)
    if s.occupation:
        job = d.seq("PartyOccupationBusiness", party)
        d.el(job, "OccupationBusinessText", one_line(s.occupation))
    if s.email:
        email = d.seq("ElectronicAddress", party)
        d.el(email, "ElectronicAddressText", s.email.strip())
        d.el(email, "ElectronicAddressTypeCode", "E")
    account = s.account_id or (f.accounts[0] if f.accounts else "")
    if account:
        link = d.seq("PartyAccountAssociation", party)
        d.el(link, "PartyAccountAssociationTypeCode", "5")
        holder = d.seq("Party", link)
        d.el(holder, "ActivityPartyTypeCode", "41")
        ident = d.seq("PartyIdentification", holder)
        d.el(ident, "PartyIdentificationNumberText", one_line(f.entity.tin))
        d.el(ident, "PartyIdentificationTypeCode", "2")
        acct = d.seq("Account", holder)
        d.el(acct, "AccountNumberText", account)
        inner = d.seq("PartyAccountAssociation", acct)
        d.el(inner, "PartyAccountAssociationTypeCode", "5")


def narrative_parts(text: str) -> list[str]:
    """The narrative in parts of at most 4,000 characters (more than five parts fail the
    schema, which names the sixth)."""
    text = text.strip()
    return [text[i : i + NARRATIVE_PART] for i in range(0, len(text), NARRATIVE_PART)] or [""]


def build(f: Filing) -> etree._Element:
    """The ``EFilingBatchXML`` of a filing (not yet validated)."""
    d = _Doc()
    root = etree.Element(_q("EFilingBatchXML"), nsmap={"fc2": NS})
    d.el(root, "FormTypeCode", "SARX")
    activity = d.seq("Activity", root)
    d.el(activity, "FilingDateText", _ymd(f.prepared_at))
    assoc = d.seq("ActivityAssociation", activity)
    d.el(assoc, "InitialReportIndicator", "Y")

    transmitter = d.seq("Party", activity)
    d.parties += 1
    d.el(transmitter, "ActivityPartyTypeCode", "35")
    _name(d, transmitter, full=f.entity.name)
    _address(d, transmitter, f.entity.address, f.entity.city, f.entity.country)
    phone = d.seq("PhoneNumber", transmitter)
    d.el(phone, "PhoneNumberText", f.entity.contact_phone)
    for number, code in ((f.entity.tcc, "28"), (f.entity.tin, "4")):
        ident = d.seq("PartyIdentification", transmitter)
        d.el(ident, "PartyIdentificationNumberText", one_line(number))
        d.el(ident, "PartyIdentificationTypeCode", code)
    contact = d.seq("Party", activity)
    d.parties += 1
    d.el(contact, "ActivityPartyTypeCode", "37")
    _name(d, contact, full=f.entity.name)
    _institution(d, activity, "30", f)
    office = d.seq("Party", activity)
    d.parties += 1
    d.el(office, "ActivityPartyTypeCode", "8")
    _name(d, office, full=f.entity.contact_name)
    phone = d.seq("PhoneNumber", office)
    d.el(phone, "PhoneNumberText", f.entity.contact_phone)
    _institution(d, activity, "34", f)
    for s in f.subjects:
        _subject(d, activity, s, f)

    suspicious = d.seq("SuspiciousActivity", activity)
    d.el(suspicious, "SuspiciousActivityFromDateText", _ymd(f.activity_from))
    d.el(suspicious, "SuspiciousActivityToDateText", _ymd(f.activity_to))
    d.el(suspicious, "TotalSuspiciousAmountText", _dollars(f.total_usd))
    kind, subtype = CHARACTERISATION.get(f.typology, OTHER)
    classification = d.seq("SuspiciousActivityClassification", suspicious)
    if subtype % 1000 == 999:
        d.el(classification, "OtherSuspiciousActivityTypeText", one_line(f.typology or "other"))
    d.el(classification, "SuspiciousActivitySubtypeID", str(subtype))
    d.el(classification, "SuspiciousActivityTypeID", str(kind))
    for position, part in enumerate(narrative_parts(f.narrative), start=1):
        info = d.seq("ActivityNarrativeInformation", activity)
        d.el(info, "ActivityNarrativeSequenceNumber", str(position))
        d.el(info, "ActivityNarrativeText", part)

    root.set("TotalAmount", _dollars(f.total_usd))
    root.set("PartyCount", str(d.parties))
    root.set("ActivityCount", "1")
    root.set("ActivityAttachmentCount", "0")
    root.set("AttachmentCount", "0")
    return root
