"""``phone_intel`` classifies a number once (compiled region plans, one region search) and
must give exactly what libphonenumber's own calls give: region, line type, validity,
place and carrier, on every region's example numbers with their digits varied and on
random digits after every calling code (most of them invalid, many in the regions that
share +1, +7, +44 or +262)."""

from __future__ import annotations

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType, carrier, geocoder

from riskops.intel.phones import _TYPES, phone_intel

_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_SHARED = [cc for cc in _CODES if len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[cc]) > 1]
_EXAMPLES = sorted(
    {
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in (
            PhoneNumberType.MOBILE,
            PhoneNumberType.FIXED_LINE,
            PhoneNumberType.TOLL_FREE,
            PhoneNumberType.VOIP,
        )
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
    }
    | {
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for cc in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
        if (example := phonenumbers.example_number_for_non_geo_entity(cc)) is not None
    }
)


def _library(text: str) -> tuple[object, ...]:
    """The answer's facts as libphonenumber's public calls give them, one call each."""
    number = phonenumbers.parse(text, None)
    kind = phonenumbers.number_type(number)
    region = phonenumbers.region_code_for_number(number)
    country = region if region and region not in ("ZZ", "001") else None
    if not phonenumbers.is_valid_number(number):
        return (False, country, None, None, None)
    return (
        True,
        country,
        _TYPES[kind],
        carrier.name_for_valid_number(number, "en") or None,
        geocoder.description_for_valid_number(number, "en") or None,
    )


def _ours(text: str) -> tuple[object, ...]:
    phone_intel.cache_clear()
    found = phone_intel(text)
    return (found.valid, found.country, found.line_type, found.carrier, found.location)


def _same(text: str) -> None:
    try:
        expected = _library(text)
    except phonenumbers.NumberParseException:
        assert not phone_intel(text).valid
        return
    assert _ours(text) == expected, text


def test_every_example_number_and_its_neighbours_agree() -> None:
    for example in _EXAMPLES:
        _same(example)
        for tail in ("0", "9", "00", "55", "123", "987"):
            _same(example[: -len(tail)] + tail)
            _same(example + tail[0])  # one digit too long
            _same(example[:-1])  # one too short


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cc=st.sampled_from(_CODES) | st.sampled_from(_SHARED),
    digits=st.text(alphabet="0123456789", min_size=2, max_size=14),
)
def test_random_digits_after_any_calling_code_agree(cc: int, digits: str) -> None:
    _same(f"+{cc}{digits}")


@settings(max_examples=300, deadline=None)
@given(
    example=st.sampled_from(_EXAMPLES),
    keep=st.integers(min_value=1, max_value=6),
    tail=st.text(alphabet="0123456789", min_size=0, max_size=8),
)
def test_example_prefixes_with_random_tails_agree(example: str, keep: int, tail: str) -> None:
    _same(example[: 1 + keep] + tail)


def _parsed(text: str, region: str | None, parse: object) -> object:
    try:
        return parse(text, region)  # type: ignore[operator]
    except phonenumbers.NumberParseException as exc:
        return ("raised", exc.error_type)


_REGIONS = st.none() | st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS))


@settings(max_examples=500, deadline=None)
@given(
    text=st.one_of(
        st.builds("+{}{}".format, st.sampled_from(_CODES), st.text("0123456789", max_size=18)),
        st.from_regex(r"\+[0-9]{0,22}", fullmatch=True),
        st.sampled_from(_EXAMPLES),
    ),
    region=_REGIONS,
)
def test_the_e164_parse_gives_the_librarys_number(text: str, region: str | None) -> None:
    from riskops.intel.phones import _parse

    assert _parsed(text, region, _parse) == _parsed(text, region, phonenumbers.parse), text


def test_every_example_number_parses_as_the_library_parses_it() -> None:
    from riskops.intel.phones import _parse

    for example in _EXAMPLES:
        for text in (example, example[:-2], example + "0", example[:4] + "0" + example[4:]):
            assert _parsed(text, None, _parse) == _parsed(text, None, phonenumbers.parse), text


def test_warm_compiles_every_regions_plan(ip_data_root: object) -> None:
    from riskops.intel import phones
    from riskops.intel.service import IntelService

    phones._PLANS.clear()
    IntelService(ip_data_root).warm()  # type: ignore[arg-type]
    expected = {
        (cc, region)
        for cc, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
        for region in regions
    }
    assert expected <= set(phones._PLANS)
    assert all(phones._PLANS[key] is not None for key in expected)
