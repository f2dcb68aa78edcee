"""The FATF lists in ``accounts.countries`` are those of the June 2026 publications, and the
rating reads them: a country that joined the grey list in 2026 raises its reason, one that
left it raises none."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from riskops.accounts import rating
from riskops.accounts.countries import (
    FATF_AS_OF,
    FATF_CALL_FOR_ACTION,
    FATF_INCREASED_MONITORING,
    CountryPolicy,
    CountryRisk,
)
from riskops.accounts.models import AccountProfile

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
# FATF, "Jurisdictions under Increased Monitoring - June 2026" (22 jurisdictions).
JUNE_2026_GREY = {
    "AO", "BA", "BO", "BG", "CM", "CI", "CD", "HT", "IQ", "KE", "KW",
    "LA", "LB", "MC", "NP", "PG", "SS", "SY", "VE", "VN", "VG", "YE",
}  # fmt: skip
ADDED_2026 = ["KW", "PG", "BA", "IQ"]  # February 2026: KW, PG; June 2026: BA, IQ
REMOVED_2026 = ["DZ", "NA"]  # June 2026
LEFT_OCTOBER_2025 = ["BF", "MZ", "NG", "ZA"]


def test_the_lists_are_the_june_2026_publications() -> None:
    assert date(2026, 6, 19) == FATF_AS_OF
    assert FATF_INCREASED_MONITORING == JUNE_2026_GREY
    assert {"KP", "IR", "MM"} == FATF_CALL_FOR_ACTION


def _profile(nationality: str) -> AccountProfile:
    return AccountProfile(
        account_id="acc-1",
        opened_at=NOW - timedelta(days=400),
        country="DE",
        corporate=False,
        kyc_level=2,
        kyc_status="approved",
        nationality=nationality,
        document_country="DE",
        updated_at=NOW,
    )


@pytest.mark.parametrize("code", ADDED_2026)
def test_a_country_added_in_2026_raises_the_grey_list_reason(code: str) -> None:
    assert CountryPolicy().risk(code) is CountryRisk.INCREASED_MONITORING
    _, _, reasons = rating.assess(rating.Facts(profile=_profile(code)), rating.RatingPolicy(), NOW)
    assert [r.code for r in reasons] == ["COUNTRY_FATF_INCREASED_MONITORING"]
    assert f"nationality {code}" in reasons[0].detail
    assert "2026-06-19" in reasons[0].detail


@pytest.mark.parametrize("code", REMOVED_2026 + LEFT_OCTOBER_2025)
def test_a_country_that_left_the_list_is_standard(code: str) -> None:
    assert CountryPolicy().risk(code) is CountryRisk.STANDARD
    _, _, reasons = rating.assess(rating.Facts(profile=_profile(code)), rating.RatingPolicy(), NOW)
    assert not [r for r in reasons if r.code.startswith("COUNTRY_")]
