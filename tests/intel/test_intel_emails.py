"""Email normalisation (the form ``links`` joins accounts on) and the domain lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.intel.emails import domain_intel, email_intel, normalise_email


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("John.Smith+exchange@GoogleMail.com", "johnsmith@gmail.com"),
        ("j.o.h.n.smith@gmail.com", "johnsmith@gmail.com"),
        ("  JohnSmith@GMAIL.COM ", "johnsmith@gmail.com"),
        ("alice+btc@outlook.com", "alice@outlook.com"),
        ("alice.b+btc@icloud.com", "alice.b@icloud.com"),  # iCloud keeps dots
        ("alice.b+btc@example.com", "alice.b+btc@example.com"),  # unknown provider: kept
        ("Alice@Example.COM.", "alice@example.com"),
        ("пётр@почта.рф", "пётр@почта.рф"),
    ],
)
def test_normalise_email(text: str, expected: str) -> None:
    assert normalise_email(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no-at-sign",
        "a@b",
        "@example.com",
        "a@@example.com",
        "a b@example.com",
        "a@1.2.3.4",
        "x" * 300 + "@example.com",
        "+tag@gmail.com",
    ],
)
def test_not_an_address_normalises_to_none(text: str) -> None:
    assert normalise_email(text) is None


_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789._-+"
_local = st.text(alphabet=_CHARS, min_size=1, max_size=20)
_domain = st.sampled_from(["gmail.com", "googlemail.com", "outlook.com", "example.org", "Mail.RU"])


@settings(max_examples=60, deadline=None)
@given(_local, _domain)
def test_normalising_twice_changes_nothing(local: str, domain: str) -> None:
    once = normalise_email(f"{local}@{domain}")
    if once is not None:
        assert normalise_email(once) == once


@settings(max_examples=60, deadline=None)
@given(_local, _domain)
def test_case_never_makes_two_mailboxes(local: str, domain: str) -> None:
    assert normalise_email(f"{local}@{domain}") == normalise_email(f"{local.upper()}@{domain}")


@settings(max_examples=60, deadline=None)
@given(_local.filter(lambda s: "+" not in s and s.strip(".")), st.text("abc.", max_size=5))
def test_gmail_dots_and_tags_never_make_two_mailboxes(local: str, tag: str) -> None:
    plain = normalise_email(f"{local}@gmail.com")
    assert normalise_email(f"{local}+{tag}@googlemail.com") == plain
    assert normalise_email(f"{'.'.join(local)}@gmail.com") == plain


def test_disposable_and_free_mail_domains() -> None:
    temp = email_intel("someone@mailinator.com")
    assert (temp.valid, temp.disposable) == (True, True)
    gmail = email_intel("someone@gmail.com")
    assert (gmail.disposable, gmail.free_mail) == (False, True)
    company = email_intel("someone@riskops-example-company.com")
    assert (company.disposable, company.free_mail) == (False, False)
    # a subdomain of a disposable domain is disposable too
    assert domain_intel("inbox.mailinator.com").disposable is True


def test_every_answer_names_its_sources_and_their_versions() -> None:
    names = {s.name: s for s in email_intel("x@gmail.com").sources}
    assert any("disposable-email-domains" in n for n in names)
    assert all(s.version for s in names.values())


@pytest.mark.parametrize("text", ["", "x" * 10_000, "مرحبا@", "Привет", "你好@世界"])
def test_bad_email_input_is_an_answer_not_an_error(text: str) -> None:
    found = email_intel(text)
    assert not found.valid
    assert found.notes == ["not an email address"]
    assert len(found.value) <= 255
