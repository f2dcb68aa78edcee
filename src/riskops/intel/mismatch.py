"""Mismatch checks: the countries an account's evidence names, compared pairwise.

KYC country, phone country (from the number), IP country (from DB-IP) and card country
(the issuer's, as the payment provider reports it). Each pair naming two different
countries is a ``Mismatch`` with a reason; evidence that names no country (an invalid or
non-geographic number, a private IP, an unknown country code) is reported in ``notes``
instead, never guessed. An IP in a VPN, Tor or hosting range says where the server is,
not the person: its mismatches say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import pycountry

from riskops.intel.ips import IpLookup
from riskops.intel.phones import phone_intel
from riskops.intel.schemas import Mismatch

# ISO 3166-1 alpha-2 codes, and Kosovo's XK (user-assigned, used by banks and telcos).
COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries) | {"XK"}
_LABELS = {"kyc": "KYC country", "phone": "phone", "ip": "IP", "card": "card issuer"}


@dataclass(frozen=True, slots=True)
class MismatchReport:
    mismatches: list[Mismatch]
    countries: dict[str, str]  # evidence -> the country it names
    notes: list[str] = field(default_factory=list)


def _country(name: str, code: str | None, notes: list[str]) -> str | None:
    if code is None or not code.strip():
        return None
    value = code.strip().upper()
    if value not in COUNTRIES:
        notes.append(f"{_LABELS[name]}: {code.strip()[:16]!r} is not an ISO 3166-1 country code")
        return None
    return value


def check_mismatches(
    ips: IpLookup,
    *,
    kyc_country: str | None = None,
    phone: str | None = None,
    ip: str | None = None,
    card_country: str | None = None,
) -> MismatchReport:
    """Every pair of the given evidence that names different countries. Never raises."""
    notes: list[str] = []
    countries: dict[str, str] = {}
    kyc = _country("kyc", kyc_country, notes)
    if kyc:
        countries["kyc"] = kyc
    anonymised = ""
    if phone is not None and phone.strip():
        found = phone_intel(phone, kyc)
        if found.country:
            countries["phone"] = found.country
        else:
            notes.append(f"phone: names no country ({'; '.join(found.notes) or 'invalid'})")
    if ip is not None and ip.strip():
        seen = ips.lookup(ip)
        if seen.country:
            countries["ip"] = seen.country
            if seen.vpn or seen.tor or seen.hosting:
                owner = seen.provider or "a provider"
                anonymised = (
                    f" (the IP is a {seen.origin} address of {owner}: "
                    "it locates a server, not the person)"
                )
        else:
            notes.append(f"ip: names no country ({'; '.join(seen.notes[:1]) or 'no data'})")
    card = _country("card", card_country, notes)
    if card:
        countries["card"] = card
    mismatches = []
    for first, second in combinations(countries, 2):
        a, b = countries[first], countries[second]
        if a != b:
            reason = f"{_LABELS[first]} is {a}, {_LABELS[second]} is {b}"
            if "ip" in (first, second):
                reason += anonymised
            mismatches.append(Mismatch(first, a, second, b, reason))
    return MismatchReport(mismatches, countries, notes)
