"""Country risk: the FATF lists as data, with their date, and a deployment's own lists.

The FATF publishes two lists after each plenary (February, June, October):

- "High-risk jurisdictions subject to a call for action" (the "black list");
- "Jurisdictions under increased monitoring" (the "grey list").

The sets below are those of the publication dated ``FATF_AS_OF``. They change three times a
year: review them against https://www.fatf-gafi.org/en/countries/black-and-grey-lists.html
at each plenary and bump the date. A deployment adds its own high-risk and prohibited
jurisdictions (its regulator's list, its sanctions policy) in
``{data_dir}/lists/high_risk_countries.txt`` and ``{data_dir}/lists/prohibited_countries.txt``
(one ISO 3166-1 alpha-2 code a line, ``#`` comments), the same directory the rules' lists
come from.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pycountry

FATF_AS_OF = date(2026, 6, 19)
"""The date of the FATF publications the two sets below reproduce.

Sources (checked 2026-12-05): the FATF's "High-Risk Jurisdictions subject to a Call for
Action - June 2026" and "Jurisdictions under Increased Monitoring - June 2026", published
at the close of the plenary of 17-19 June 2026 (index of both lists:
https://www.fatf-gafi.org/en/countries/black-and-grey-lists.html), as reported by
Labuan FSA, "FATF Publication on Global ML/TF/PF Risk - June 2026"
(https://www.labuanfsa.gov.my/regulations/amlcft/aml-cft-compliance/fatf-publication-on-global-mltfpf-risk-–-june-2026)
and FinCrime Agent, "FATF adds Bosnia and Iraq to grey list, removes Algeria and Namibia"
(https://fincrimeagent.com/news/issue-4/fatf-june-2026-plenary-grey-list-update); the
February 2026 list they amend, as reported by New Zealand's DIA (17 February 2026,
https://www.dia.govt.nz/AML-CFT-Jurisdictions-under-Increased-Monitoring---February-2026)
and Sumsub (16 February 2026,
https://sumsub.com/media/news/fatf-adds-kuwait-and-papua-new-guinea-to-grey-list).
Changes since October 2025: February 2026 added Kuwait and Papua New Guinea; June 2026
added Bosnia and Herzegovina and Iraq and removed Algeria and Namibia; the call for action
was unchanged at both. No October 2026 publication was found when these were checked.
"""

FATF_CALL_FOR_ACTION: frozenset[str] = frozenset({"KP", "IR", "MM"})
"""DPRK, Iran (countermeasures) and Myanmar (enhanced due diligence)."""

FATF_INCREASED_MONITORING: frozenset[str] = frozenset(
    {
        "AO",  # Angola
        "BA",  # Bosnia and Herzegovina (added June 2026)
        "BO",  # Bolivia
        "BG",  # Bulgaria
        "CM",  # Cameroon
        "CI",  # Côte d'Ivoire
        "CD",  # Democratic Republic of the Congo
        "HT",  # Haiti
        "IQ",  # Iraq (added June 2026)
        "KE",  # Kenya
        "KW",  # Kuwait (added February 2026)
        "LA",  # Lao PDR
        "LB",  # Lebanon
        "MC",  # Monaco
        "NP",  # Nepal
        "PG",  # Papua New Guinea (added February 2026)
        "SS",  # South Sudan
        "SY",  # Syria
        "VE",  # Venezuela
        "VN",  # Vietnam
        "VG",  # British Virgin Islands
        "YE",  # Yemen
    }
)
"""22 jurisdictions, June 2026 (Algeria and Namibia left the list then)."""

# Codes that are not in ISO 3166-1 but are used in practice and by the lists (Kosovo).
_USER_ASSIGNED = frozenset({"XK"})


class CountryRisk(enum.IntEnum):
    """Ordered: the worse of two risks is the greater."""

    STANDARD = 0
    UNKNOWN = 1  # not an ISO 3166-1 alpha-2 code: a finding, never a guess
    INCREASED_MONITORING = 2  # FATF grey list
    DEPLOYMENT_HIGH_RISK = 3  # the deployment's own list
    CALL_FOR_ACTION = 4  # FATF black list
    PROHIBITED = 5  # the deployment does not serve it


_ALPHA_2: frozenset[str] = frozenset(str(c.alpha_2) for c in pycountry.countries) | _USER_ASSIGNED


def is_country(code: str | None) -> bool:
    """An ISO 3166-1 alpha-2 code (upper case), or a user-assigned one the lists use."""
    return code in _ALPHA_2 if code else False


def country_name(code: str) -> str:
    found = pycountry.countries.get(alpha_2=code) if is_country(code) else None
    return str(found.name) if found is not None else code


@dataclass(frozen=True, slots=True)
class CountryPolicy:
    """The lists a rating reads. ``prohibited`` makes the band prohibited; by default the
    FATF countries under countermeasures (DPRK, Iran)."""

    call_for_action: frozenset[str] = FATF_CALL_FOR_ACTION
    increased_monitoring: frozenset[str] = FATF_INCREASED_MONITORING
    high_risk: frozenset[str] = frozenset()
    prohibited: frozenset[str] = frozenset({"KP", "IR"})
    as_of: date = FATF_AS_OF

    def risk(self, code: str | None) -> CountryRisk | None:
        """The risk of a country code; None when there is no code."""
        if code is None or code == "":
            return None
        if not is_country(code):
            return CountryRisk.UNKNOWN
        if code in self.prohibited:
            return CountryRisk.PROHIBITED
        if code in self.call_for_action:
            return CountryRisk.CALL_FOR_ACTION
        if code in self.high_risk:
            return CountryRisk.DEPLOYMENT_HIGH_RISK
        if code in self.increased_monitoring:
            return CountryRisk.INCREASED_MONITORING
        return CountryRisk.STANDARD

    @classmethod
    def from_dir(cls, lists_dir: Path | None) -> CountryPolicy:
        """The FATF lists plus the deployment's files in ``lists_dir`` (if any). A file's
        prohibited list replaces the default one; codes that are not countries are ignored."""
        if lists_dir is None or not lists_dir.is_dir():
            return cls()
        high = _read_codes(lists_dir / "high_risk_countries.txt")
        prohibited = _read_codes(lists_dir / "prohibited_countries.txt")
        return cls(
            high_risk=frozenset(high or ()),
            prohibited=frozenset(prohibited) if prohibited is not None else cls().prohibited,
        )


def _read_codes(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    return list(parse_codes(path.read_text(encoding="utf-8").splitlines()))


def parse_codes(lines: Iterable[str]) -> Iterable[str]:
    """The country codes of a list file's lines (comments, blanks and non-codes skipped)."""
    for line in lines:
        code = line.split("#", 1)[0].strip().upper()
        if is_country(code):
            yield code
