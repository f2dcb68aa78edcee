"""Reply tokens: signed, verified, not movable to another case, not guessable."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.intake import reply_tokens

SECRET = "s3cret"


@settings(max_examples=50, deadline=None)
@given(case_id=st.integers(min_value=1, max_value=10**12))
def test_a_token_names_its_case(case_id: int) -> None:
    token = reply_tokens.make(SECRET, case_id)
    assert token is not None
    assert reply_tokens.verify(SECRET, token) == case_id
    assert reply_tokens.verify(SECRET, token.upper()) == case_id  # mail may fold the case
    assert reply_tokens.verify("other", token) is None


@settings(max_examples=50, deadline=None)
@given(case_id=st.integers(min_value=1, max_value=10**9), other=st.integers(1, 10**9))
def test_a_token_cannot_be_moved_to_another_case(case_id: int, other: int) -> None:
    token = reply_tokens.make(SECRET, case_id)
    assert token is not None
    moved = token.replace(f"c{case_id}-", f"c{other}-")
    assert reply_tokens.verify(SECRET, moved) == (case_id if other == case_id else None)


def test_found_in_an_address_or_a_subject_tag() -> None:
    address = reply_tokens.reply_address(SECRET, "reply.example.test", 42)
    assert address is not None and address.startswith("reply+c42-")
    assert reply_tokens.case_of(SECRET, ["x@y.z", address], "Re: hi") == 42
    tag = reply_tokens.subject_tag(SECRET, 43)
    assert reply_tokens.case_of(SECRET, [], f"RE: Your account{tag}") == 43
    assert reply_tokens.case_of(SECRET, [], "Re: [ref: c43-aaaaaaaaaaaaaaaa]") is None
    assert reply_tokens.case_of("", [address], "") is None  # not configured: none accepted


def test_nothing_without_a_secret() -> None:
    assert reply_tokens.make("", 1) is None
    assert reply_tokens.reply_address("", "d", 1) is None
    assert reply_tokens.subject_tag("", 1) == ""
