"""The console's investigation routes without a browser: who else used a value (/links),
the graph JSON, search by value and by name, the account page's investigation panels, the
case page's screening and KYC review sections and their decisions; bad values (malformed
addresses, IPv6, 10,000-character values, Arabic, Cyrillic and Han script) give a clear
page, never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from investigation_seed import Seeded, build, process, reload_list
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.accounts.models import KycReview
from riskops.audit.models import AuditEntry
from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.models import CaseAlert
from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.screening.models import Hit
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import api_login, make_user


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, Seeded, Engine]]:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        ensure_default_queues(session)
        make_user(session, "ana", "analyst")
        make_user(session, "sam", "senior_analyst")
    seeded = build(sessions, "inv", tmp_path / "lists")
    settings = Settings(data_dir=tmp_path, database_url="")
    with TestClient(create_app(Container(settings, engine), start_background=False)) as client:
        yield client, seeded, engine


def _login(client: TestClient, username: str) -> str:
    return api_login(client, username)


def _case_of(engine: Engine, account: str, source: str) -> int:
    with unit_of_work(session_factory(engine)) as session:
        alert = session.scalars(
            select(CaseAlert).where(CaseAlert.account_id == account, CaseAlert.source == source)
        ).first()
        assert alert is not None and alert.case_id is not None, (account, source)
        return alert.case_id


def test_who_else_lists_the_accounts_with_standing_intel_and_outside_links(world: Any) -> None:
    client, seeded, _ = world
    _login(client, "ana")
    page = client.get("/links", params={"kind": "ip", "value": seeded.ip})
    assert page.status_code == 200, page.text
    text = page.text
    assert seeded.a in text and seeded.b in text and seeded.c not in text
    assert 'id="who-else-count">2<' in text
    assert "withdrawal lock" in text  # b's standing
    assert 'data-intel-kind="ip"' in text
    assert "Source:" in text and "IP Geolocation by DB-IP" in text  # the licence's credit
    assert re.search(r'<a href="https://[^"]+" target="_blank" rel="noopener noreferrer">', text)
    assert f"/links?kind=ip_net&amp;value={seeded.ip.rsplit('.', 1)[0]}.0/24" in text
    # the same email under another spelling, and the phone, name the same two accounts
    for kind, value in (("email", seeded.email.upper()), ("phone", seeded.phone)):
        text = client.get("/links", params={"kind": kind, "value": value}).text
        assert seeded.a in text and seeded.b in text, kind
    # an address: its chain and validity, and its other use (a withdrawal destination)
    text = client.get("/links", params={"value": seeded.address}).text
    assert "deposit source address" in text and seeded.a in text
    assert 'class="intel-chain">bitcoin' in text and "valid" in text
    assert 'id="other-use"' in text and "withdrawal destination address of" in text
    # without a kind, the kind is read from the value
    text = client.get("/links", params={"value": seeded.device}).text
    assert "Who else used this device" in text and seeded.c in text


def test_who_else_pages_through_many_accounts(world: Any) -> None:
    client, _, engine = world
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    events = [
        s.Login(
            event_id=f"many-{i}",
            account_id=f"many-{i:03d}",
            occurred_at=now - timedelta(minutes=i),
            success=True,
            ip=f"5.6.7.{i}",
            device_id="dev-shared-by-all",
        )
        for i in range(1, 56)
    ]
    with unit_of_work(sessions) as session:
        ingest(session, [(None, e) for e in events], source="api")
    process(sessions, now)
    _login(client, "ana")
    first = client.get("/links", params={"kind": "ip_net", "value": "5.6.7.0/24"})
    assert first.status_code == 200
    assert 'id="who-else-count">55<' in first.text
    assert first.text.count('class="who-else-row"') == 50
    cursor = re.search(r'id="who-else-next" href="([^"]+)"', first.text)
    assert cursor is not None
    second = client.get(cursor.group(1).replace("&amp;", "&"))
    assert second.text.count('class="who-else-row"') == 5
    assert "many-055" in second.text and "many-001" not in second.text
    assert 'id="who-else-next"' not in second.text
    # one device on 55 accounts is a hub: listed with its marker and count, never followed
    hub = client.get("/links", params={"kind": "device", "value": "dev-shared-by-all"}).text
    assert 'id="hub-marker"' in hub and "shared by 55 accounts" in hub
    one = client.get("/accounts/many-001").text
    assert 'id="hub-values"' in one and 'id="linked-empty"' in one


BAD_VALUES = [
    ("ip", "999.1.1.1"),
    ("ip", "1.2.3"),
    ("ip", "2001:db8::zz"),
    ("ip", "x" * 10_000),
    ("email", "not-an-email"),
    ("phone", "12"),
    ("phone", "٠١٢٣٤٥٦٧٨٩٠"),
    ("deposit_address", "bc1qnotanaddress"),
    ("withdrawal_address", "0xZZZZ"),
    ("device", "محمد"),
    ("device", "Алекса́ндр"),
    ("device", "王小明"),
    ("", "x" * 10_000),
    ("", "محمد بن سلمان"),
    ("", "2001:db8::1"),
    ("nope", "1.2.3.4"),
    ("", ""),
    ("ip", "<script>alert(1)</script>"),
]


def test_bad_values_give_a_clear_page_never_a_500(world: Any) -> None:
    client, _, _ = world
    _login(client, "ana")
    for kind, value in BAD_VALUES:
        response = client.get("/links", params={"kind": kind, "value": value})
        assert response.status_code in (200, 422), (kind, value[:20], response.status_code)
        assert "Who else used this" in response.text, (kind, value[:20])
        assert "<script>alert(1)</script>" not in response.text
        if response.status_code == 422:
            assert 'id="who-else-problem"' in response.text
    long = client.get("/links", params={"kind": "ip", "value": "x" * 10_000})
    assert long.status_code == 422 and "10,000 characters" in long.text
    nobody = client.get("/links", params={"kind": "ip", "value": "2001:db8::1"})
    assert nobody.status_code == 200 and 'id="who-else-empty"' in nobody.text


def test_search_pivots_a_used_value_and_lists_a_name(world: Any) -> None:
    client, seeded, _ = world
    _login(client, "ana")
    for query, kind in (
        (seeded.ip, "ip"),
        (seeded.phone, "phone"),
        (seeded.email, "email"),
        (seeded.device, "device"),
    ):
        response = client.get("/search", params={"q": query}, follow_redirects=False)
        assert response.status_code == 303, (query, response.status_code)
        assert response.headers["location"].startswith(f"/links?kind={kind}&value="), query
    # a name, in another case and word order
    reversed_name = " ".join(reversed(seeded.name.upper().split()))
    page = client.get("/search", params={"q": reversed_name})
    assert page.status_code == 200 and seeded.a in page.text
    owner = client.get("/search", params={"q": seeded.owner})
    assert owner.status_code == 200 and seeded.d in owner.text and "beneficial owner" in owner.text
    for query in ("x" * 10_000, "محمد بن سلمان", "王小明", "Алекса́ндр", "2001:db8::99"):
        response = client.get("/search", params={"q": query}, follow_redirects=False)
        assert response.status_code == 404, (query[:20], response.status_code)
        assert "No account or case found" in response.text


def test_graph_json_has_one_and_two_hops(world: Any) -> None:
    client, seeded, _ = world
    _login(client, "ana")
    one = client.get(f"/accounts/{seeded.a}/graph.json").json()
    ids = {n["data"]["id"] for n in one["nodes"]}
    assert f"acct:{seeded.b}" in ids and f"acct:{seeded.c}" not in ids
    two = client.get(f"/accounts/{seeded.a}/graph.json", params={"hops": 2}).json()
    assert f"acct:{seeded.c}" in {n["data"]["id"] for n in two["nodes"]}
    assert all({"source", "target"} <= set(e["data"]) for e in two["edges"])
    for hops in ("3", "0", "x"):
        bad = client.get(f"/accounts/{seeded.a}/graph.json", params={"hops": hops})
        assert bad.status_code == 422, hops
    long = client.get(f"/accounts/{'a' * 5000}/graph.json")
    assert long.status_code == 422


def test_the_account_page_shows_rating_links_screening_kyc_and_intel(world: Any) -> None:
    client, seeded, _ = world
    _login(client, "ana")
    text = client.get(f"/accounts/{seeded.a}").text
    assert 'id="rating-band"' in text
    assert 'id="linked-table"' in text and seeded.b in text
    assert f"/links?kind=ip&amp;value={seeded.ip}" in text
    assert 'id="screening-hits"' in text and seeded.name in text
    assert 'class="kyc-review"' in text
    assert 'id="intel-table"' in text
    assert 'id="link-graph"' in text and "/static/vendor/cytoscape.min.js" in text
    lone = client.get(f"/accounts/{seeded.d}").text
    assert 'id="linked-empty"' in lone and "No linked accounts" in lone


def test_screening_review_on_the_case_page_and_not_a_match_survives_a_rescreen(
    world: Any,
) -> None:
    client, seeded, engine = world
    csrf = _login(client, "ana")
    case_id = _case_of(engine, seeded.a, "screening")
    text = client.get(f"/cases/{case_id}").text
    assert 'id="screening-review"' in text and "Record the screening decision" in text
    for section in ('id="rating-panel"', 'id="linked-table"', 'id="intel-table"', "link-graph"):
        assert section in text, section  # the account 360 on the case's screen
    hit_id = int(re.search(r'data-hit="(\d+)" data-status="open"', text).group(1))  # type: ignore[union-attr]
    # no note: refused with a clear page
    refused = client.post(
        f"/screening/hits/{hit_id}/review",
        data={"decision": "not_a_match", "note": " ", "case_id": str(case_id), "csrf_token": csrf},
    )
    assert refused.status_code == 422 and "needs a note" in refused.text
    done = client.post(
        f"/screening/hits/{hit_id}/review",
        data={
            "decision": "not_a_match",
            "note": "born 1960 in GB, the entry is another person",
            "case_id": str(case_id),
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case_id}?done=screened"
    again = client.post(
        f"/screening/hits/{hit_id}/review",
        data={"decision": "match", "note": "n", "case_id": str(case_id), "csrf_token": csrf},
    )
    assert again.status_code == 409
    assert reload_list(seeded, session_factory(engine), "Someone Else Entirely") > 0
    with unit_of_work(session_factory(engine)) as session:
        hits = session.scalars(select(Hit).where(Hit.account_id == seeded.a)).all()
    assert [(h.id, str(h.status)) for h in hits] == [(hit_id, "not_a_match")]


def test_the_kyb_review_on_the_case_page_and_its_decision(world: Any) -> None:
    client, seeded, engine = world
    _login(client, "ana")
    case_id = _case_of(engine, seeded.d, "monitor")
    text = client.get(f"/cases/{case_id}").text
    assert 'id="kyc-review"' in text and seeded.owner in text
    assert "kyc:review permission" in text  # an analyst may look, not decide
    review_id = int(re.search(r'data-review="(\d+)"', text).group(1))  # type: ignore[union-attr]
    csrf = _login(client, "ana")
    refused = client.post(
        f"/kyc/reviews/{review_id}/decide",
        data={"decision": "approve", "note": "ok", "case_id": str(case_id), "csrf_token": csrf},
    )
    assert refused.status_code == 403
    csrf = _login(client, "sam")
    text = client.get(f"/cases/{case_id}").text
    assert f'id="review-form-{review_id}"' in text
    for bad in ({"decision": "maybe", "note": "n"}, {"decision": "approve", "note": ""}):
        response = client.post(
            f"/kyc/reviews/{review_id}/decide",
            data={**bad, "case_id": str(case_id), "csrf_token": csrf},
        )
        assert response.status_code == 422, bad
    done = client.post(
        f"/kyc/reviews/{review_id}/decide",
        data={
            "decision": "more_info",
            "note": "proof of the owner's address",
            "case_id": str(case_id),
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    with unit_of_work(session_factory(engine)) as session:
        review = session.get(KycReview, review_id)
        assert review is not None and str(review.status) == "more_info"
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "kyc_review.decide")
        ).all()
        assert any(e.subject_id == str(review_id) for e in entries)
    assert "proof of the owner" in client.get(f"/cases/{case_id}").text
