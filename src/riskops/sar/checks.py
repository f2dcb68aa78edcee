"""What a report must hold before it is submitted or exported, as field-level reasons
(``{"field": "subjects[0].birth_date", "reason": ...}``) that name the report's own fields,
before a schema names its elements. Pure functions of the stored report."""

from __future__ import annotations

from typing import Any

from riskops.sar.filing import not_xml
from riskops.sar.models import ExportFormat, SarReport

Problems = list[dict[str, str]]
# What goAML requires of a person who is our client (t_person_my_client, identification).
GOAML_PERSON = (
    ("first_name", "a first name"),
    ("last_name", "a last name"),
    ("gender", "M or F"),
    ("birth_date", "a birth date"),
    ("nationality", "a nationality (ISO country code)"),
    ("country", "a country of residence (ISO country code)"),
    ("id_type", "an identification type (PASSP, DRIVL, EID...)"),
    ("id_number", "an identification number"),
    ("id_issued", "the identification's issue date"),
    ("id_expires", "the identification's expiry date"),
    ("id_country", "the identification's issuing country"),
)
GOAML_NARRATIVE = 8000  # comments_type
FINCEN_NARRATIVE = 5 * 4000  # five ActivityNarrativeInformation parts


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text_problems(report: SarReport) -> Problems:
    """Characters no XML file can carry (control characters): refused outright, since no
    format could be written with them."""
    found: Problems = []
    reason = "contains control characters that no regulator file can carry"
    if not_xml(report.narrative):
        found.append({"field": "narrative", "reason": reason})
    if not_xml(report.typology):
        found.append({"field": "typology", "reason": reason})
    for i, s in enumerate(report.subjects):
        for key, value in s.items():
            if isinstance(value, str) and not_xml(value):
                found.append({"field": f"subjects[{i}].{key}", "reason": reason})
    for i, t in enumerate(report.transactions):
        for key, value in t.items():
            if isinstance(value, str) and not_xml(value):
                found.append({"field": f"transactions[{i}].{key}", "reason": reason})
    return found


def complete(report: SarReport) -> Problems:
    """What every report needs, whatever the format: who, what, when, why."""
    found = text_problems(report)
    if not report.subjects:
        found.append({"field": "subjects", "reason": "name at least one subject"})
    for i, s in enumerate(report.subjects):
        if s.get("kind") == "entity":
            if _blank(s.get("name")):
                found.append({"field": f"subjects[{i}].name", "reason": "an entity's name"})
        elif _blank(s.get("last_name")) and _blank(s.get("name")):
            found.append({"field": f"subjects[{i}].last_name", "reason": "a person's name"})
    if not report.transactions:
        found.append({"field": "transactions", "reason": "choose at least one transaction"})
    if _blank(report.narrative):
        found.append({"field": "narrative", "reason": "describe the suspicious activity"})
    if report.activity_from is None:
        found.append({"field": "activity_from", "reason": "when the activity began"})
    if (
        report.activity_from is not None
        and report.activity_to is not None
        and report.activity_to < report.activity_from
    ):
        found.append({"field": "activity_to", "reason": "after the activity began"})
    return found


def for_format(report: SarReport, fmt: ExportFormat) -> Problems:
    """``complete`` and what the format adds (goAML's client person; narrative length)."""
    found = complete(report)
    if fmt is ExportFormat.GOAML:
        persons = [(i, s) for i, s in enumerate(report.subjects) if s.get("kind") != "entity"]
        if report.subjects and not persons:
            found.append(
                {"field": "subjects", "reason": "goAML needs a person holding the account"}
            )
        for i, s in persons[:1]:  # the account's signatory
            for key, what in GOAML_PERSON:
                if _blank(s.get(key)):
                    found.append({"field": f"subjects[{i}].{key}", "reason": f"goAML: {what}"})
        if len(report.narrative) > GOAML_NARRATIVE:
            found.append(
                {"field": "narrative", "reason": f"goAML: at most {GOAML_NARRATIVE} characters"}
            )
    elif len(report.narrative.strip()) > FINCEN_NARRATIVE:
        found.append(
            {"field": "narrative", "reason": f"FinCEN: at most {FINCEN_NARRATIVE} characters"}
        )
    return found
