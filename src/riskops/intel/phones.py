"""Phone numbers: validity, country, line type and carrier (Google's libphonenumber data).

Parsing is the slow part (tens of microseconds); the same number recurs across events and
pages, so answers are kept in an LRU keyed by (text, default region): the data is fixed
for the life of the process, so a cached answer is the answer.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, carrier, geocoder

from riskops.intel.schemas import PhoneIntel
from riskops.intel.sources import pypi_source

MAX_PHONE_CHARS = 64
_TYPES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}


def phone_country(text: str, region: str | None = None) -> str | None:
    """The ISO country of a valid number, else None."""
    return phone_intel(text, region).country


@lru_cache(maxsize=16_384)
def phone_intel(text: str, region: str | None = None) -> PhoneIntel:
    """What the numbering plan says of ``text``. A number without ``+`` needs ``region``
    (ISO-2, e.g. the KYC country) to be read as a national number. Never raises."""
    sources = [pypi_source("phonenumbers")]
    value = text.strip()
    if not value:
        return PhoneIntel(value, False, notes=["empty"], sources=sources)
    if len(value) > MAX_PHONE_CHARS:
        return PhoneIntel(
            value[:MAX_PHONE_CHARS],
            False,
            notes=[f"longer than {MAX_PHONE_CHARS} characters: not a phone number"],
            sources=sources,
        )
    try:
        number = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        return PhoneIntel(value, False, notes=[f"not a phone number: {exc}"], sources=sources)
    # A number is valid exactly when its range has a type in its region's plan
    # (is_valid_number's own test); one classification instead of three.
    kind = phonenumbers.number_type(number)
    valid = kind != PhoneNumberType.UNKNOWN
    possible = phonenumbers.is_possible_number(number)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(number)
    # "001" is libphonenumber's region of non-geographic numbers (+800, +882...).
    country = country if country and country not in ("ZZ", "001") else None
    notes: list[str] = []
    if not valid:
        notes.append("not a valid number in its country's numbering plan")
        return PhoneIntel(value, False, possible, e164, country, notes=notes, sources=sources)
    line_type = _TYPES.get(kind, "unknown")
    operator = carrier.name_for_valid_number(number, "en") or None
    if operator is None:
        notes.append("carrier: no data (numbering-plan data names none for this range)")
    else:
        notes.append("carrier: the operator the range was first allocated to (ports not seen)")
    location = geocoder.description_for_valid_number(number, "en") or None
    if country is None:
        notes.append("country: none (a non-geographic number)")
    return PhoneIntel(
        value, True, possible, e164, country, location, line_type, operator, notes, sources
    )
