"""Phone numbers: validity, country, line type and carrier (Google's libphonenumber data).

Parsing is the slow part (tens of microseconds); the same number recurs across events and
pages, so answers are kept in an LRU keyed by (text, default region): the data is fixed
for the life of the process, so a cached answer is the answer.

A new number is classified once. libphonenumber's own calls each redo the same work:
``number_type``, ``geocoder.description_for_valid_number`` and ``region_code_for_number``
each find the number's region again (for a calling code shared by several regions, +1 or
+44, by testing the number against each region's patterns), and every pattern test
looks its regular expression up by text. Here each region's patterns are compiled once
(``_Plan``, kept per region for the life of the process: the metadata is fixed), the
region and the line type are found in one pass with the library's own rules, and the
place is looked up without the region search it does not use; text in the E.164 form
("+" and digits) is parsed by the steps such text can reach. The carrier and place data
are keyed by prefixes of at most nine digits, so their answers are kept per nine-digit
prefix (exact: every number starting with those digits gets the same answer). All of it
gives exactly the library's answers (tests/intel hold it to them on many numbers); only
the repeated work is gone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberDesc,
    PhoneNumberType,
    geocoder,
)
from phonenumbers.carrierdata import CARRIER_DATA, CARRIER_LONGEST_PREFIX
from phonenumbers.geocoder import _region_display_name
from phonenumbers.geodata import GEOCODE_DATA, GEOCODE_LONGEST_PREFIX
from phonenumbers.phonenumberutil import (
    ValidationResult,
    _maybe_strip_national_prefix_carrier_code,
    _set_italian_leading_zeros_for_phone_number,
    _test_number_length,
)
from phonenumbers.prefix import _find_lang

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
_UNKNOWN = PhoneNumberType.UNKNOWN
_NON_GEO = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY  # "001": +800, +882...
# The parser (and the calls left to the library) look metadata patterns up by text in the
# re module's small cache; the library's own switch keeps them all compiled instead.
phonenumbers.enable_pattern_cache()


@dataclass(frozen=True, slots=True)
class _Desc:
    """One number description (a line type's range) with its pattern compiled."""

    lengths: frozenset[int]  # empty: any length (the general description already held)
    pattern: re.Pattern[str]

    @staticmethod
    def of(desc: PhoneNumberDesc | None) -> _Desc | None:
        """None for a description that matches nothing (absent, or without a pattern)."""
        if desc is None or not desc.national_number_pattern:
            return None
        return _Desc(frozenset(desc.possible_length), re.compile(desc.national_number_pattern))

    def matches(self, nsn: str) -> bool:
        """libphonenumber's ``_is_number_matching_desc``."""
        if self.lengths and len(nsn) not in self.lengths:
            return False
        return self.pattern.fullmatch(nsn) is not None


@dataclass(frozen=True, slots=True)
class _Plan:
    """One region's metadata, compiled: the tests ``_number_type_helper`` makes, in order."""

    general: _Desc | None
    special: tuple[tuple[_Desc, int], ...]  # premium rate ... voicemail, in the library's order
    fixed_line: _Desc | None
    mobile: _Desc | None
    same_mobile_and_fixed_line: bool
    leading_digits: re.Pattern[str] | None

    @staticmethod
    def of(metadata: PhoneMetadata) -> _Plan:
        specials = (
            (metadata.premium_rate, PhoneNumberType.PREMIUM_RATE),
            (metadata.toll_free, PhoneNumberType.TOLL_FREE),
            (metadata.shared_cost, PhoneNumberType.SHARED_COST),
            (metadata.voip, PhoneNumberType.VOIP),
            (metadata.personal_number, PhoneNumberType.PERSONAL_NUMBER),
            (metadata.pager, PhoneNumberType.PAGER),
            (metadata.uan, PhoneNumberType.UAN),
            (metadata.voicemail, PhoneNumberType.VOICEMAIL),
        )
        compiled = ((_Desc.of(desc), kind) for desc, kind in specials)
        leading = metadata.leading_digits
        return _Plan(
            _Desc.of(metadata.general_desc),
            tuple((desc, kind) for desc, kind in compiled if desc is not None),
            _Desc.of(metadata.fixed_line),
            _Desc.of(metadata.mobile),
            bool(metadata.same_mobile_and_fixed_line_pattern),
            re.compile(leading) if leading is not None else None,
        )

    def number_type(self, nsn: str) -> int:
        """libphonenumber's ``_number_type_helper``."""
        if self.general is None or not self.general.matches(nsn):
            return _UNKNOWN
        for desc, kind in self.special:
            if desc.matches(nsn):
                return kind
        if self.fixed_line is not None and self.fixed_line.matches(nsn):
            if self.same_mobile_and_fixed_line or (
                self.mobile is not None and self.mobile.matches(nsn)
            ):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if (
            not self.same_mobile_and_fixed_line
            and self.mobile is not None
            and self.mobile.matches(nsn)
        ):
            return PhoneNumberType.MOBILE
        return _UNKNOWN


_PLANS: dict[tuple[int, str | None], _Plan | None] = {}


def _plan(country_code: int, region: str | None) -> _Plan | None:
    """The compiled metadata of ``region`` (of the calling code for "001"), kept."""
    key = (country_code, region)
    try:
        return _PLANS[key]
    except KeyError:
        pass
    metadata = (
        PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if region is not None
        else None
    )
    plan = _Plan.of(metadata) if metadata is not None else None
    _PLANS[key] = plan  # the same value whichever thread stores it
    return plan


# The written form of nearly every number a system stores: "+", then ASCII digits only.
_E164_TEXT = re.compile(r"\+[0-9]{3,20}")
# The lengths after which parse keeps the number as written, national prefix and all.
_KEEP_AS_WRITTEN = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)


def _parse(value: str, region: str | None) -> PhoneNumber:
    """``phonenumbers.parse(value, region)``. For "+" and digits, its steps that such text
    can reach, without the general parser's normalising, extension and context passes;
    anything else (and any text that would raise) goes to the library."""
    if _E164_TEXT.fullmatch(value) and value[1] != "0":
        digits = value[1:]
        for size in (1, 2, 3):  # calling codes are prefix-free: the first known one
            cc = int(digits[:size])
            if cc in COUNTRY_CODE_TO_REGION_CODE:
                national = digits[size:]
                break
        else:
            return phonenumbers.parse(value, region)  # raises: no such calling code
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(
            cc, phonenumbers.region_code_for_country_code(cc)
        )
        if len(national) >= 2 and metadata is not None:
            _, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, metadata)
            if _test_number_length(stripped, metadata) not in _KEEP_AS_WRITTEN:
                national = stripped
            if 2 <= len(national) <= 17:
                number = PhoneNumber(country_code=cc)
                _set_italian_leading_zeros_for_phone_number(national, number)
                number.national_number = int(national)
                return number
    return phonenumbers.parse(value, region)


def warm() -> None:
    """Load and compile every region's metadata now (about 0.2 s), so that no lookup
    pays for its region's first one."""
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            _plan(cc, region)


def _classify(number: PhoneNumber, nsn: str) -> tuple[str | None, int]:
    """(``region_code_for_number``, ``number_type``) in one pass over the regions."""
    cc = number.country_code or 0
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc)
    region: str | None = None
    if regions is not None and len(regions) == 1:
        region = regions[0]
    elif regions is not None:
        # _region_code_for_number_from_list: the first region whose leading digits start
        # the number or, for a region without them, whose plan gives the number a type.
        for candidate in regions:
            plan = _plan(cc, candidate.upper())
            if plan is None:
                continue
            if plan.leading_digits is not None:
                if plan.leading_digits.match(nsn):
                    region = candidate
                    break
                continue
            kind = plan.number_type(nsn)
            if kind != _UNKNOWN:
                return candidate, kind
    plan = _plan(cc, region)
    return region, plan.number_type(nsn) if plan is not None else _UNKNOWN


def _described(data: dict[str, dict[str, str]], digits: str) -> str:
    """``prefix._prefix_description_for_number`` in English, given the E.164 digits cut to
    the data's longest prefix: the longest prefix of them the data describes."""
    for size in range(len(digits), 0, -1):
        names = data.get(digits[:size])
        if names is not None:
            name = _find_lang(names, "en", None, None)
            if name is not None:
                return name
    return ""


# The data is keyed by prefixes of at most 9 digits: the answer for the first 9 digits of
# a number is the answer for every number that starts with them, so keeping it is exact.
@lru_cache(maxsize=16_384)
def _area(digits: str) -> str:
    return _described(GEOCODE_DATA, digits)


@lru_cache(maxsize=16_384)
def _operator(digits: str) -> str:
    return _described(CARRIER_DATA, digits)


def _carrier(e164: str) -> str:
    """``carrier.name_for_valid_number(number, "en")``, from its E.164 form."""
    return _operator(e164[1 : 1 + CARRIER_LONGEST_PREFIX])


def _place(number: PhoneNumber, nsn: str, e164: str) -> str:
    """``geocoder.description_for_valid_number(number, "en")``: the area of the number's
    prefix, else the name of the one region where it is valid."""
    cc = number.country_code or 0
    token = phonenumbers.country_mobile_token(cc)
    if token and nsn.startswith(token):  # Argentina's mobile "9": the library's own path
        return geocoder.description_for_valid_number(number, "en")
    area = _area(e164[1 : 1 + GEOCODE_LONGEST_PREFIX])
    if area:
        return area
    regions = phonenumbers.region_codes_for_country_code(cc)
    if len(regions) == 1:
        return _region_display_name(regions[0], "en")
    # country_name_for_number: the region only when the number is valid in exactly one.
    found = "ZZ"
    for candidate in regions:
        plan = _plan(cc, candidate.upper())
        if plan is None or (
            candidate != _NON_GEO and cc != phonenumbers.country_code_for_valid_region(candidate)
        ):
            continue
        if plan.number_type(nsn) != _UNKNOWN:
            if found != "ZZ":
                return ""
            found = candidate
    return _region_display_name(found, "en")


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
        number = _parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        return PhoneIntel(value, False, notes=[f"not a phone number: {exc}"], sources=sources)
    nsn = phonenumbers.national_significant_number(number)
    # A number is valid exactly when its range has a type in its region's plan
    # (is_valid_number's own test); one classification instead of three.
    country, kind = _classify(number, nsn)
    valid = kind != _UNKNOWN
    possible = phonenumbers.is_possible_number(number)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # "001" is libphonenumber's region of non-geographic numbers (+800, +882...).
    country = country if country and country not in ("ZZ", _NON_GEO) else None
    notes: list[str] = []
    if not valid:
        notes.append("not a valid number in its country's numbering plan")
        return PhoneIntel(value, False, possible, e164, country, notes=notes, sources=sources)
    line_type = _TYPES.get(kind, "unknown")
    operator = _carrier(e164) or None
    if operator is None:
        notes.append("carrier: no data (numbering-plan data names none for this range)")
    else:
        notes.append("carrier: the operator the range was first allocated to (ports not seen)")
    location = _place(number, nsn, e164) or None
    if country is None:
        notes.append("country: none (a non-geographic number)")
    return PhoneIntel(
        value, True, possible, e164, country, location, line_type, operator, notes, sources
    )
