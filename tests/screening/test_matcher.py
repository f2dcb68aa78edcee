"""The matcher: each variation a screener must survive, evidence, reasons, and bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.screening.lists import ListEntry, Match, Query
from riskops.screening.matcher import DEFAULT_THRESHOLD, Screener

ENTRIES = [
    ListEntry("un", "P1", "person", ("ERIC BADEGE",), ("1971",), ("CD",)),
    ListEntry(
        "un",
        "P2",
        "person",
        ("FRANK KAKOLELE BWAMBALE", "FRANK KAKORERE", "AIGLE BLANC"),
        ("1966-01-05",),
        ("CD",),
    ),
    ListEntry("un", "P3", "person", ("MUHAMMAD ABDUL RAHMAN AL-SHAMI",), ("1975-06-01",), ("SY",)),
    ListEntry("ofac-sdn", "P4", "person", ("ALEKSANDR SERGEYEVICH PETROV",), ("1980",), ("RU",)),
    ListEntry("un", "P5", "person", ("SADDAM HUSSEIN AL-TIKRITI", "صدام حسين التكريتي")),
    ListEntry("ofac-sdn", "O1", "organization", ("ROSNEFTEGAZ JOINT STOCK COMPANY",), (), ("RU",)),
    ListEntry("ofac-sdn", "O2", "organization", ("GREEN PINE ASSOCIATED CORPORATION",)),
    ListEntry("ofac-sdn", "O3", "organization", ("KALA-ELECTRIC",)),
    ListEntry("un", "P6", "person", ("KIM JONG UN", "金正恩")),
]
# Filler so that token rarity means something.
ENTRIES += [
    ListEntry("test", f"F{i}", "person", (f"{first} {last}",))
    for i, (first, last) in enumerate(
        (f, s)
        for f in ("JOHN", "MARIA", "AHMED", "OLGA", "WEI", "PEDRO")
        for s in ("SMITH", "GARCIA", "IVANOVA", "CHEN", "HASSAN", "SILVA")
    )
]
SCREENER = Screener(ENTRIES)


def _ids(matches: list[Match]) -> list[str]:
    return [m.entry.entry_id for m in matches]


def _best(query: Query) -> Match:
    matches = SCREENER.screen(query)
    assert matches, f"no match for {query}"
    return matches[0]


@pytest.mark.parametrize(
    ("name", "expected", "why"),
    [
        ("Eric Badege", "P1", "name equal"),
        ("Badege Eric", "P1", "word order differs"),
        ("E. Badege", "P1", "initial"),
        ("Erik Badeg", "P1", "~"),
        ("Frank Bwambale", "P2", "not in the query: kakolele"),
        ("Frank Kakorere", "P2", "alias of"),
        ("Mohammed Abdulrahman Al Shami", "P3", "joined/split"),
        ("Mohamed Abdul Rahman al-Shami", "P3", "sounds alike"),
        ("Alexander Petrov", "P4", "not in the query"),
        ("Александр Сергеевич Петров", "P4", "~"),
        ("صدام حسين التكريتي", "P5", "name equal"),
        ("Saddam Husayn al-Tikriti", "P5", "sounds alike"),
        ("Rosneftegaz JSC", "O1", "name equal"),
        ("ROSNEFTEGAZ, J.S.C.", "O1", "name equal"),
        ("Green Pine Associated Corp", "O2", "name equal"),
        ("GREEN PINE ASSOCIATEDCORP", "O2", "joined/split"),
        ("Kala Electric", "O3", "name equal"),
        ("KALAELECTRIC", "O3", "joined/split"),
        ("Bäďéğé Érïç", "P1", "word order"),
        ("Kim Jong-un", "P6", "name equal"),
        ("金正恩", "P6", "name equal"),
    ],
)
def test_variations_match_the_listed_entry(name: str, expected: str, why: str) -> None:
    best = _best(Query(name))
    assert best.entry.entry_id == expected
    assert best.score >= DEFAULT_THRESHOLD
    assert any(why in reason for reason in best.reasons), best.reasons


@pytest.mark.parametrize(
    "name",
    [
        "John Badege",  # the surname alone, another first name
        "Eric Smith",
        "Frank",  # one part of a three-part name
        "Badege",
        "Petrov Holdings",
        "Green Pine",
        "Maria Kim",
        "Ahmed Hassan Trading LLC",
    ],
)
def test_decoys_do_not_match(name: str) -> None:
    assert SCREENER.screen(Query(name)) == []


def test_birth_date_is_evidence() -> None:
    exact = _best(Query("Eric Badege", birth_date="1971-05-02"))
    near = _best(Query("Eric Badege", birth_date="1972"))
    none = _best(Query("Eric Badege"))
    assert exact.score >= none.score > near.score >= DEFAULT_THRESHOLD  # a near year keeps it
    assert any("1971" in r and "listed" in r for r in exact.reasons)
    assert any("within 1" in r for r in near.reasons)
    assert SCREENER.screen(Query("Eric Badege", birth_date="2001-01-01")) == []  # decades apart


def test_country_is_weaker_evidence() -> None:
    same = _best(Query("Erik Badeg", country="CD"))
    other = _best(Query("Erik Badeg", country="FR"))
    assert same.score > other.score
    assert any("country FR not listed (CD)" in r for r in other.reasons)
    assert _best(Query("Eric Badege", country="France")).entry.entry_id == "P1"


def test_kind_mismatch_lowers_the_score() -> None:
    person = _best(Query("Eric Badege", kind="person"))
    assert SCREENER.screen(Query("Eric Badege", kind="organization")) == [] or (
        SCREENER.screen(Query("Eric Badege", kind="organization"))[0].score < person.score
    )


def test_matches_are_sorted_and_above_threshold() -> None:
    loose = Screener(ENTRIES, threshold=0.3)
    matches = loose.screen(Query("Ahmed Smith Hassan"))
    assert len(matches) >= 2
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(s >= 0.3 for s in scores)
    assert len(set(_ids(matches))) == len(matches)  # one row per entry


def test_screen_many_keeps_order() -> None:
    queries = [Query("Kala Electric"), Query("nobody at all"), Query("Eric Badege")]
    assert [_ids(m) for m in SCREENER.screen_many(queries)] == [["O3"], [], ["P1"]]


def test_the_screener_does_not_change_after_build() -> None:
    entries = list(ENTRIES)
    screener = Screener(entries)
    entries.clear()
    assert _ids(screener.screen(Query("Eric Badege"))) == ["P1"]


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "x" * 10_000,
        "Ab " * 5_000,
        "محمد بن سلمان",
        "Владимир Путин",
        "习近平",
        "🙂🙂",
        "\x00\x1a\u200b",
        "a",
    ],
)
def test_bad_input_gives_a_result_never_an_exception(name: str) -> None:
    matches = SCREENER.screen(Query(name, birth_date="garbage", country="Atlantis", kind="x"))
    assert isinstance(matches, list)


@settings(max_examples=60, deadline=None)
@given(
    st.text(max_size=200),
    st.one_of(st.none(), st.text(max_size=12)),
    st.one_of(st.none(), st.text(max_size=12)),
)
def test_any_query_screens(name: str, birth: str | None, country: str | None) -> None:
    for match in SCREENER.screen(Query(name, birth, country)):
        assert DEFAULT_THRESHOLD <= match.score <= 1.0
        assert match.matched_name in match.entry.names
        assert match.reasons


def test_an_empty_list_screens_to_nothing() -> None:
    assert Screener([]).screen(Query("Eric Badege")) == []


def test_a_common_name_returns_every_entry_at_or_above_the_threshold() -> None:
    namesakes = [ListEntry("t", f"N{i}", "person", ("JOHN SMITH",)) for i in range(100)]
    others = [ListEntry("t", f"X{i}", "person", (f"PETER {i} JONES",)) for i in range(300)]
    matches = Screener(namesakes + others).screen(Query("Smith John"))
    assert sorted(_ids(matches)) == sorted(f"N{i}" for i in range(100))
