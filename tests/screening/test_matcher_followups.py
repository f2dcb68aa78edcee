"""The matcher's follow-ups (issue 10): Korean romanisation variants are one spelling (Kim /
Gim, Lee / Yi / Rhee / Ri, Park / Pak / Bak, Jong / Jeong / Chong / Chung), and a company
form misspelled inside a name (Compani, Limted, Corporaton) is the form; neither makes a
decoy match."""

from __future__ import annotations

import pytest

from riskops.screening.lists import ListEntry, Query
from riskops.screening.matcher import DEFAULT_THRESHOLD, Screener
from riskops.screening.normalise import KOREAN_SPELLING, phonetic, respell, tokens

ENTRIES = [
    ListEntry("un", "K1", "person", ("KIM JONG UN",)),
    ListEntry("un", "K2", "person", ("RI JE SON",), ("1940",), ("KP",)),
    ListEntry("un", "K3", "person", ("PAK TO CHUN",), ("1944",), ("KP",)),
    ListEntry("un", "K4", "person", ("CHOE CHUN YONG",)),
    ListEntry("ofac-sdn", "C1", "organization", ("GREEN PINE ASSOCIATED CORPORATION",)),
    ListEntry("ofac-sdn", "C2", "organization", ("REDSTONE MARITIME COMPANY LIMITED",)),
    ListEntry("ofac-sdn", "C3", "organization", ("KOREA KWANGSON BANKING CORP",)),
]
ENTRIES += [
    ListEntry("test", f"F{i}", "person", (f"{first} {last}",))
    for i, (first, last) in enumerate(
        (f, s)
        for f in ("JOHN", "MARIA", "AHMED", "OLGA", "WEI", "PEDRO")
        for s in ("SMITH", "GARCIA", "IVANOVA", "CHEN", "HASSAN", "SILVA")
    )
]
SCREENER = Screener(ENTRIES)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Kim", "Gim"),
        ("Lee", "Yi"),
        ("Lee", "Rhee"),
        ("Ri", "Yi"),
        ("Park", "Pak"),
        ("Park", "Bak"),
        ("Jong", "Chong"),
        ("Jeong", "Chung"),
        ("Choi", "Choe"),
    ],
)
def test_korean_variants_share_their_keys(a: str, b: str) -> None:
    (x,), (y,) = tokens(a), tokens(b)
    assert x != y  # the part is kept: an initial or a joined part still meets it
    assert (respell(x), phonetic(x)) == (respell(y), phonetic(y))


def test_every_korean_group_has_one_spelling() -> None:
    spellings = set(KOREAN_SPELLING.values())
    assert all(KOREAN_SPELLING[s] == s for s in spellings)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Gim Jeong Un", "K1"),
        ("Kim Chong-un", "K1"),
        ("Yi Je Son", "K2"),
        ("Rhee Je-son", "K2"),
        ("Park To Chun", "K3"),
        ("Bak To Jeon", "K3"),
        ("Choi Chun Young", "K4"),
        ("R. Je Son", "K2"),
        ("Pakto Chun", "K3"),
        ("Green Pine Associated Corporaton", "C1"),
        ("Redstone Maritime Compani Limted", "C2"),
        ("REDSTONE MARITIME KOMPANY LTD", "C2"),
        ("Korea Kwangson Banking Corporaton", "C3"),
    ],
)
def test_variants_match_their_entry(name: str, expected: str) -> None:
    matches = SCREENER.screen(Query(name))
    assert matches, name
    assert matches[0].entry.entry_id == expected
    assert matches[0].score >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    "name",
    ["Maria Kim", "John Lee", "Pedro Park", "Redstone Logistics", "Green Pine", "Limted Smith"],
)
def test_decoys_still_do_not_match(name: str) -> None:
    assert SCREENER.screen(Query(name)) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Global Trading Compani", ("global", "trading", "co")),
        ("Redstone Limted", ("redstone", "ltd")),
        ("Rabita Trust Comapny", ("rabita", "trust", "co")),  # a transposition is one edit
        ("Orion Corporaton", ("orion", "corp")),
        ("Limted Smith", ("limted", "smith")),  # a first part is never taken for a form
        ("Comrade Holdings", ("comrade", "holdings")),
        ("Hesong Tradingcompany", ("hesong", "trading", "co")),
        ("Namchongang Tradingcorporation", ("namchongang", "trading", "corp")),
    ],
)
def test_a_misspelled_company_form_is_the_form(name: str, expected: tuple[str, ...]) -> None:
    assert tokens(name) == expected
