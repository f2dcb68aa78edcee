"""The identities the store relies on: a load is its files' contents (not their order or
names), a hit's key ignores how the screened name is spaced or cased and nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.screening import service
from riskops.screening.models import Subject

digests = st.lists(st.text("0123456789abcdef", min_size=64, max_size=64), min_size=1, max_size=5)
names = st.text(st.characters(categories=("L",)), min_size=1, max_size=30)


@settings(max_examples=50)
@given(digests, st.randoms())
def test_a_load_is_named_by_its_contents_in_any_order(shas: list[str], rng) -> None:
    files = [{"name": f"f{i}", "sha256": sha, "bytes": i} for i, sha in enumerate(shas)]
    shuffled = [dict(f, name=f"other-{f['name']}") for f in files]
    rng.shuffle(shuffled)
    assert service.load_digest("ftm", files) == service.load_digest("ftm", shuffled)
    assert service.load_digest("ftm", files) != service.load_digest("un-xml", files)
    assert service.load_digest("ftm", files) != service.load_digest("ftm", files[1:] or [])


@settings(max_examples=50)
@given(names, names, st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=30))
def test_a_hit_key_ignores_spacing_and_case_of_the_screened_name(
    first: str, last: str, entry_id: str, matched: str
) -> None:
    subject = Subject(id=7, name=f"{first} {last}")
    spaced = Subject(id=7, name=f"  {first.upper()}   {last.lower()} ")
    key = service.hit_key(subject, "un", entry_id, matched)
    if f"{first} {last}".casefold() == f"{first.upper()} {last.lower()}".casefold():
        assert service.hit_key(spaced, "un", entry_id, matched) == key
    assert service.hit_key(Subject(id=8, name=subject.name), "un", entry_id, matched) != key
    assert service.hit_key(subject, "ofac", entry_id, matched) != key
    assert service.hit_key(subject, "un", entry_id + "x", matched) != key
    assert service.hit_key(subject, "un", entry_id, matched + "x") != key
