"""One spelling per value: emails, phones, IPs and networks, addresses."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from links_fakes import created, login

from riskops.links import normalise as n
from riskops.links.extract import links_of

LOCAL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)
DOMAIN = st.sampled_from(["gmail.com", "example.com", "outlook.com", "proton.me"])
TAGGING = st.sampled_from(["gmail.com", "outlook.com", "proton.me", "icloud.com"])


@settings(max_examples=60, deadline=None)
@given(LOCAL, TAGGING, st.text(alphabet=string.ascii_lowercase, max_size=6), st.data())
def test_an_email_in_any_case_with_a_plus_tag_is_the_same_email(
    local: str, domain: str, tag: str, data: st.DataObject
) -> None:
    canonical = n.email(f"{local}@{domain}")
    assert canonical == f"{local}@{domain}"
    mixed = "".join(c.upper() if data.draw(st.booleans()) else c for c in local)
    assert n.email(f" {mixed}+{tag}@{domain.upper()} ") == canonical
    assert n.email(canonical) == canonical  # idempotent


@settings(max_examples=30, deadline=None)
@given(LOCAL, st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=6))
def test_a_plus_is_part_of_the_name_where_the_provider_does_not_tag(local: str, tag: str) -> None:
    assert n.email(f"{local}+{tag}@example.com") == f"{local}+{tag}@example.com"


@settings(max_examples=60, deadline=None)
@given(LOCAL, st.lists(st.integers(min_value=0, max_value=11), max_size=4))
def test_gmail_ignores_dots_and_googlemail_is_gmail(local: str, cuts: list[int]) -> None:
    dotted = local
    for cut in sorted({c % (len(local) + 1) for c in cuts}, reverse=True):
        dotted = dotted[:cut] + "." + dotted[cut:]
    assert n.email(f"{dotted}@googlemail.com") == f"{local}@gmail.com"
    # elsewhere a dot is part of the name
    if dotted.strip(".") != local and "." in dotted.strip("."):
        assert n.email(f"{dotted.strip('.')}@example.com") != f"{local}@example.com"


@settings(max_examples=60, deadline=None)
@given(LOCAL, LOCAL, DOMAIN)
def test_different_mailboxes_stay_different(a: str, b: str, domain: str) -> None:
    if a != b:
        assert n.email(f"{a}@{domain}") != n.email(f"{b}@{domain}")


@pytest.mark.parametrize("bad", ["", "no-at-sign", "@example.com", "a@", "+tag@gmail.com"])
def test_what_is_no_email_links_nothing(bad: str) -> None:
    assert n.email(bad) is None


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=string.digits, min_size=6, max_size=14))
def test_a_phone_in_any_layout_is_its_digits(digits: str) -> None:
    spaced = " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))
    assert n.phone(f"+{spaced}") == f"+{digits}"
    assert n.phone(f"00{digits}") == f"+{digits}"
    assert n.phone(f"+({digits[:2]}) {digits[2:]}") == f"+{digits}"
    assert n.phone(n.phone(f"+{digits}")) == f"+{digits}"


def test_ips_and_their_networks() -> None:
    assert n.ip(" 203.0.113.7 ") == "203.0.113.7"
    assert n.ip("::ffff:203.0.113.7") == "203.0.113.7"
    assert n.ip("2001:DB8:0:0::1") == "2001:db8::1"
    assert n.ip_net("203.0.113.7") == "203.0.113.0/24"
    assert n.ip_net("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert n.ip("999.1.1.1") is None and n.ip_net("x") is None


@settings(max_examples=60, deadline=None)
@given(st.ip_addresses())
def test_every_address_is_in_its_network(address: object) -> None:
    import ipaddress

    canonical = n.ip(str(address))
    assert canonical is not None
    network = n.ip_net(canonical)
    assert network is not None
    assert ipaddress.ip_address(canonical) in ipaddress.ip_network(network)


def test_addresses_keep_case_where_case_matters() -> None:
    eth = "0x52908400098527886E0F7030069857D2E4169EE7"
    assert n.address(eth) == eth.lower()
    assert n.address("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ") == (
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    )
    assert n.address("1BoatSLRHtKNngkdXEeobR76b53LETtpyT") == "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"


def test_a_failed_login_links_nothing_and_a_signup_links_all_it_carries() -> None:
    assert links_of(login("e1", "a", ip="203.0.113.7", device="d", success=False)) == []
    found = links_of(
        created(
            "e2",
            "a",
            email="J.Doe+x@gmail.com",
            phone="+44 20 7946 0018",
            ip="203.0.113.7",
            device="dev-1",
            referred_by="b",
        )
    )
    assert set(found) == {
        ("a", "email", "jdoe@gmail.com"),
        ("a", "phone", "+442079460018"),
        ("a", "ip", "203.0.113.7"),
        ("a", "ip_net", "203.0.113.0/24"),
        ("a", "device", "dev-1"),
        ("a", "referral", "b"),
        ("b", "referral", "a"),
    }
