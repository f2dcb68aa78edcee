"""Console search and the account page: a value that is no account (an IP, a phone, an
email, a typo, a number no case has) says "no account" with what was searched and what the
box takes, a 404, never an account page for an account that does not exist."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.cases.alert_intake import ensure_default_queues, raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.console.search import MAX_CASE_ID, case_number, looks_like
from riskops.web.deps import Container
from support import api_login, bearer, make_user, token_for

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NOT_ACCOUNTS = [
    "203.0.113.7",
    "2001:db8::1",
    "::ffff:192.0.2.1",
    "+44 7700 900123",
    "(415) 555-0132",
    "0049-30-123456",
    "jane.doe@example.com",
    "acc-does-not-exist",
    "bc1qunknownholder0000000000000",
    "<script>alert(1)</script>",
    "99999999999999999999999",  # beyond a BIGINT: no case, and not a 500
    f"#{MAX_CASE_ID}",
    "#0",
    "a" * 500,
    "ünïcødé-ñame",
]


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The app on ``engine`` with an analyst logged in, one account with only an event
    (``acc-event-only``) and one with only a case (``acc-case-only``)."""
    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        make_user(session, "ana", "analyst")
        case = raise_alert(
            session,
            AlertIn(
                source=AlertSource.EMAIL,
                source_ref=f"ref-{uuid.uuid4().hex[:8]}",
                account_id="acc-case-only",
                kind="email",
                title="Report",
                severity=40,
                reason="customer reported",
            ),
        ).case
    settings_ = Settings(data_dir=tmp_path, database_url="")
    with TestClient(create_app(Container(settings_, engine), start_background=False)) as c:
        event = {
            "type": "login",
            "event_id": "ev-search-1",
            "account_id": "acc-event-only",
            "occurred_at": datetime.now(UTC).isoformat(),
            "success": True,
        }
        ingest = c.post(
            "/v1/events", json=event, headers=bearer(token_for(engine, ["event:ingest"]))
        )
        assert ingest.status_code < 300, ingest.text
        api_login(c, "ana")
        c.case_id = case.id  # type: ignore[attr-defined]
        yield c


# Control characters are refused at the edge (riskops.kernel.bounds) before any route.
UNPRINTABLE = ["acc\x00nul", "tab\there", "bell\x07", "del\x7f"]


def test_a_query_with_control_characters_is_refused_not_a_500(client: TestClient) -> None:
    for query in UNPRINTABLE:
        response = client.get("/search", params={"q": query}, follow_redirects=False)
        assert response.status_code in (400, 404, 422), (query, response.status_code)
        response = client.get(f"/accounts/{quote(query)}", follow_redirects=False)
        assert response.status_code in (400, 404, 422), (query, response.status_code)


def test_a_search_that_names_no_account_says_so(client: TestClient) -> None:
    for query in NOT_ACCOUNTS:
        response = client.get("/search", params={"q": query}, follow_redirects=False)
        assert response.status_code == 404, (query, response.status_code)
        text = response.text
        assert "No account or case found" in text, query
        assert f"You searched for <code>{escape(query, quote=False)}</code>" in text, query
        assert "takes an account id" in text  # what the box accepts
        assert 'id="search-again"' in text and "autofocus" in text
        assert 'id="timeline"' not in text  # no account page that pretends it exists


def test_an_ip_a_phone_and_an_email_are_named_as_such(client: TestClient) -> None:
    for query, kind in [
        ("203.0.113.7", "an IP address"),
        ("+44 7700 900123", "a phone number"),
        ("jane.doe@example.com", "an email address"),
    ]:
        text = client.get("/search", params={"q": query}).text
        assert f"looks like {kind}" in text, query
    assert "looks like" not in client.get("/search", params={"q": "acc-typo"}).text


def test_known_accounts_and_cases_are_found(client: TestClient) -> None:
    for account in ("acc-event-only", "acc-case-only"):
        response = client.get("/search", params={"q": f"  {account} "}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].endswith(f"/accounts/{account}")
        page = client.get(f"/accounts/{account}")
        assert page.status_code == 200 and account in page.text
        assert 'id="timeline"' in page.text  # what the "no account" pages must not show
    case_id = client.case_id  # type: ignore[attr-defined]
    for query in (str(case_id), f"#{case_id}"):
        response = client.get("/search", params={"q": query}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].endswith(f"/cases/{case_id}")
    assert client.get("/search", params={"q": "  "}, follow_redirects=False).status_code == 303


def test_an_unknown_account_in_the_url_is_a_404_page(client: TestClient) -> None:
    for account in ("acc-never-seen", "203.0.113.7", "+44 7700 900123", "acc-case-only-2"):
        response = client.get(f"/accounts/{account}")
        assert response.status_code == 404, account
        assert "No such account" in response.text
        assert f"riskops has no account <code>{escape(account)}</code>" in response.text
        assert "takes an account id" in response.text
        assert 'id="timeline"' not in response.text


@settings(max_examples=50, deadline=None)
@given(st.ip_addresses())
def test_every_ip_address_looks_like_one(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert looks_like(str(address)) == "an IP address"


@settings(max_examples=50, deadline=None)
@given(
    st.from_regex(r"\+?[1-9][0-9]{1,3}[ -]?[0-9]{3}[ -]?[0-9]{3,4}[ -]?[0-9]{0,4}", fullmatch=True)
)
def test_phone_numbers_look_like_phone_numbers(phone: str) -> None:
    assert looks_like(phone) in ("a phone number", "an IP address")


@settings(max_examples=50, deadline=None)
@given(st.from_regex(r"acc-[a-z0-9]{4,12}", fullmatch=True))
def test_account_ids_look_like_nothing_else(account: str) -> None:
    assert looks_like(account) is None


@settings(max_examples=50, deadline=None)
@given(st.integers())
def test_case_numbers_are_database_ids_or_none(number: int) -> None:
    for query in (str(number), f"#{number}"):
        expected = number if 0 < number <= MAX_CASE_ID else None
        assert case_number(query) == expected


def test_in_the_browser_an_ip_finds_no_account_and_the_keyboard_searches_again(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    account = uid("acc")

    def seed(session: Session) -> None:
        raise_alert(
            session,
            AlertIn(
                source=AlertSource.EMAIL,
                source_ref=f"ref-{account}",
                account_id=account,
                kind="email",
                title=f"Report about {account}",
                severity=40,
                reason="customer reported",
            ),
        )

    served.seed(seed)
    login(page, "ana")
    page.keyboard.press("/")  # the shortcut focuses the search box
    page.keyboard.type("198.51.100.23")
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-account")
    assert page.locator("h1").inner_text() == "No account or case found"
    assert "198.51.100.23" in page.locator("#no-account-query").inner_text()
    assert "looks like an IP address" in page.locator("#no-account-hint").inner_text()
    assert "account id" in page.locator("#search-accepts").inner_text()
    again = page.locator("#search-again")
    assert again.evaluate("el => el === document.activeElement")  # type straight away
    assert again.input_value() == "198.51.100.23"
    again.fill(account)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/accounts/{account}")
    assert account in page.locator("h1").inner_text()

    response = page.goto("/accounts/acc-typed-by-hand")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "No such account"
