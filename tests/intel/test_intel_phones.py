"""Phone intelligence from libphonenumber's data: country, line type, carrier, validity."""

from __future__ import annotations

import pytest

from riskops.intel.phones import phone_intel


def test_a_uk_mobile() -> None:
    found = phone_intel("+44 7400 123456")
    assert (found.valid, found.country, found.line_type, found.e164) == (
        True,
        "GB",
        "mobile",
        "+447400123456",
    )


def test_carrier_of_a_chinese_mobile_range() -> None:
    found = phone_intel("+86 138 0013 8000")
    assert (found.country, found.line_type, found.carrier) == ("CN", "mobile", "China Mobile")
    assert any("first allocated" in n for n in found.notes)  # ports are not seen


def test_a_national_number_is_read_in_the_given_region() -> None:
    assert phone_intel("07400 123456", "GB").country == "GB"
    unread = phone_intel("07400 123456")
    assert not unread.valid
    assert unread.notes and unread.notes[0].startswith("not a phone number")


def test_a_toll_free_number_names_no_country() -> None:
    found = phone_intel("+800 1234 5678")
    assert found.valid
    assert found.country is None
    assert found.line_type == "toll_free"


def test_arabic_indic_digits_are_read() -> None:
    assert phone_intel("+٩٦٦٥٠١٢٣٤٥٦٧").country == "SA"


@pytest.mark.parametrize(
    "text", ["", "+", "+1", "+1 555", "hello", "x" * 10_000, "Привет", "你好", "+999 1234567"]
)
def test_bad_numbers_are_invalid_with_a_note(text: str) -> None:
    found = phone_intel(text)
    assert not found.valid
    assert found.notes
    assert len(found.value) <= 64


def test_the_source_is_named_with_its_version_and_date() -> None:
    (source,) = phone_intel("+14155552671").sources
    assert source.name.startswith("phonenumbers")
    assert source.version and source.date


def test_validity_agrees_with_libphonenumbers_own_check() -> None:
    # phone_intel decides validity from the number's type (one classification); hold it to
    # is_valid_number on example numbers of every region, their last digits varied
    import random

    import phonenumbers

    rng = random.Random(3)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(region)
        if example is None:
            continue
        digits = str(example.national_number)
        for cut in (0, 1, -1):
            head = digits[: len(digits) - 2 + cut]
            text = f"+{example.country_code}{head}{rng.randrange(100):02d}"
            number = phonenumbers.parse(text, None)
            assert phone_intel(text).valid == phonenumbers.is_valid_number(number), text
