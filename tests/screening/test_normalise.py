"""Name normalisation: properties that hold for any string, and the variants it must join."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.screening.normalise import (
    MAX_NAME_CHARS,
    MAX_TOKENS,
    fold,
    phonetic,
    respell,
    tokens,
)

names = st.text(max_size=400)
scripts = st.text(
    alphabet=st.sampled_from("AbcÉéüßØłŁ Δδλ Жжщ ЁёЙ مُحَمَّد 習近平 ㄱㅏ ﬁ Ⅻ -'.,"),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(names, scripts))
def test_fold_is_lower_ascii_single_spaced_and_idempotent(name: str) -> None:
    folded = fold(name)
    assert folded.isascii()
    assert folded == folded.lower()
    assert "  " not in folded and folded == folded.strip()
    assert all(c.isalnum() or c == " " for c in folded)
    assert fold(folded) == folded


@settings(max_examples=200, deadline=None)
@given(st.one_of(names, scripts))
def test_tokens_are_bounded_and_stable(name: str) -> None:
    parts = tokens(name)
    assert len(parts) <= MAX_TOKENS
    assert all(parts) and all(" " not in p for p in parts)
    assert tokens(" ".join(parts)) == parts


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20))
def test_keys_are_defined_for_every_token(token: str) -> None:
    key = phonetic(token)
    assert key and key.isascii() and key == key.lower()
    assert not any(a == b for a, b in itertools.pairwise(key))


@settings(max_examples=100, deadline=None)
@given(names)
def test_case_and_diacritics_do_not_change_tokens(name: str) -> None:
    decomposed = unicodedata.normalize("NFD", name)
    assert tokens(name.upper()) == tokens(name.lower()) or not name.isascii()
    assert tokens(decomposed) == tokens(unicodedata.normalize("NFC", name))


def test_long_names_are_cut_not_refused() -> None:
    name = "x" * 10_000
    assert fold(name) == "x" * MAX_NAME_CHARS
    assert tokens("a b " * 5_000) == ("a", "b") * (MAX_TOKENS // 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Müller", ("muller",)),
        ("MÜLLER", ("muller",)),
        ("Александр Иванов", ("aleksandr", "ivanov")),
        ("Ἀλέξανδρος", ("alexandros",)),
        ("O'Brien-Smith", ("obrien", "smith")),
        ("AL-QA'IDA", ("al", "qaida")),
        ("習近平", ("xi", "jin", "ping")),
        ("ＡＢＣ Ltd.", ("abc", "ltd")),
        ("", ()),
        ("  ,.-  ", ()),
    ],
)
def test_fold_and_tokens(text: str, expected: tuple[str, ...]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    ("long", "short"),
    [
        ("Acme Limited", "Acme Ltd"),
        ("Acme Joint Stock Company", "Acme JSC"),
        ("Acme Public Joint Stock Company", "Acme PJSC"),
        ("Acme Limited Liability Company", "Acme L.L.C."),
        ("Acme Gesellschaft mit beschränkter Haftung", "Acme GmbH"),
        ("Acme Corporation", "Acme Corp."),
        ("Acme Sociedad Anónima", "Acme S.A."),
        ("Acme Company", "Acme Co."),
    ],
)
def test_company_forms_are_one_spelling(long: str, short: str) -> None:
    assert tokens(long) == tokens(short)


@pytest.mark.parametrize(
    "variants",
    [
        ("Mohammed", "Muhammad", "Mohamed", "Mohammad", "Мухаммад", "محمد"),
        ("Aleksandr", "Alexander", "Александр"),
        ("Hussein", "Husayn", "Hossein", "Хусейн"),
        ("Yusuf", "Yousef", "Youssef"),
        ("Haqqani", "Хаккани"),
        ("Osama", "Usama"),
        ("Qaida", "Qaeda", "Kaida"),
    ],
)
def test_transliteration_variants_share_a_phonetic_key(variants: tuple[str, ...]) -> None:
    keys = {phonetic(tokens(v)[0]) for v in variants}
    assert len(keys) == 1, keys


@pytest.mark.parametrize(("a", "b"), [("Ivan", "Ahmed"), ("Smith", "Jones"), ("Peter", "Paul")])
def test_different_names_have_different_keys(a: str, b: str) -> None:
    assert phonetic(a.lower()) != phonetic(b.lower())


@pytest.mark.parametrize(
    ("a", "b"), [("kho", "ho"), ("iu", "yu"), ("khakkani", "haqqani"), ("vilson", "wilson")]
)
def test_short_parts_compare_respelled(a: str, b: str) -> None:
    assert respell(a) == respell(b)


@pytest.mark.parametrize(("a", "b"), [("ri", "ra"), ("kim", "kam"), ("son", "sun")])
def test_respelling_keeps_vowels(a: str, b: str) -> None:
    assert respell(a) != respell(b)
