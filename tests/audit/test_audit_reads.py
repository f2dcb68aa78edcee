"""Every read of personal data is audited, through the API as through the console: the
decision log, alerts, held withdrawals and dead letters (their raw payloads)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from riskops.audit.service import trail
from riskops.auth.permissions import Principal, Role
from riskops.kernel.clock import utcnow
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.models import Alert, Decision, DecisionOutcome, Hold, HoldStatus
from support import api_login, bearer, make_user, token_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

READER_SCOPES = ["case:view", "account:view", "dead_letter:view", "event:ingest"]
ACCOUNTS = ("acct-1", "acct-2")


@dataclass(frozen=True)
class Seeded:
    decisions: dict[str, int]  # account -> id
    alerts: dict[str, int]
    holds: dict[str, int]
    dead_letter: int


@pytest.fixture
def seeded(engine: Engine, client: TestClient) -> Seeded:
    now = utcnow()
    rows: dict[str, dict[str, int]] = {"decisions": {}, "alerts": {}, "holds": {}}
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "ana", Role.ANALYST)
        for n, account in enumerate(ACCOUNTS):
            decision = Decision(
                event_id=f"e-{n}",
                account_id=account,
                seq=n + 1,
                event_type="withdrawal.requested",
                outcome=DecisionOutcome.HOLD,
                score=40,
                reasons=[],
                rule_ids=[],
                decided_at=now,
                latency_us=1,
            )
            alert = Alert(
                rule_id="big-withdrawal",
                rule_version=1,
                typology="fraud",
                event_id=f"e-{n}",
                account_id=account,
                seq=n + 1,
                action=DecisionOutcome.HOLD,
                score=40,
                reason="large",
                shadow=False,
                created_at=now,
            )
            hold = Hold(
                event_id=f"e-{n}",
                account_id=account,
                withdrawal_id=f"wd-{n}",
                asset="BTC",
                amount=Decimal("1"),
                usd_value=Decimal("60000.00"),
                status=HoldStatus.HELD,
                reasons=[],
                created_at=now,
            )
            session.add_all([decision, alert, hold])
            session.flush()
            rows["decisions"][account] = decision.id
            rows["alerts"][account] = alert.id
            rows["holds"][account] = hold.id
    token = token_for(engine, READER_SCOPES, name="backoffice")
    refused = client.post("/v1/events", content=b'{"type": "nope"}', headers=bearer(token))
    assert refused.status_code in (202, 422), refused.text
    listed = client.get("/v1/dead-letters", headers=bearer(token)).json()["items"]
    assert len(listed) == 1
    client.headers.update(bearer(token))
    return Seeded(rows["decisions"], rows["alerts"], rows["holds"], listed[0]["id"])


def _entries(engine: Engine, action: str) -> list[tuple[str, str, str, list[str]]]:
    compliance = Principal.for_user(99, "cleo", Role.COMPLIANCE)
    with unit_of_work(session_factory(engine)) as session:
        found = trail(session, compliance, limit=500)
        return sorted(
            (e.actor, e.subject_type, e.subject_id, e.detail.get("ids", []))
            for e in found
            if e.action == action
        )


@pytest.mark.parametrize(
    ("path", "action", "kind"),
    [
        ("/v1/decisions", "decision.list", "decisions"),
        ("/v1/decisions?account_id=acct-2", "decision.list", "decisions"),
        ("/v1/alerts", "alert.list", "alerts"),
        ("/v1/alerts?rule_id=big-withdrawal", "alert.list", "alerts"),
        ("/v1/holds", "hold.list", "holds"),
        ("/v1/holds?status=held&limit=1", "hold.list", "holds"),
    ],
)
def test_api_lists_record_each_account_they_show(
    client: TestClient, engine: Engine, seeded: Seeded, path: str, action: str, kind: str
) -> None:
    assert _entries(engine, action) == []
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    shown: dict[str, list[str]] = {}
    for item in answer.json():
        shown.setdefault(item["account_id"], []).append(str(item["id"]))
    assert shown, "the listing showed nothing to audit"
    ids = getattr(seeded, kind)
    assert all(ids[account] == int(i) for account, got in shown.items() for i in got)
    assert _entries(engine, action) == sorted(
        ("token:backoffice", "account", account, got) for account, got in shown.items()
    )


def test_an_empty_page_records_nothing(client: TestClient, engine: Engine, seeded: Seeded) -> None:
    assert client.get("/v1/decisions", params={"account_id": "nobody"}).json() == []
    assert _entries(engine, "decision.list") == []


def test_dead_letter_payloads_read_through_the_api_are_audited(
    client: TestClient, engine: Engine, seeded: Seeded
) -> None:
    listed = client.get("/v1/dead-letters").json()["items"]
    assert [d["id"] for d in listed] == [seeded.dead_letter]
    one = client.get(f"/v1/dead-letters/{seeded.dead_letter}")
    assert one.status_code == 200
    assert '"nope"' in one.json()["raw"]
    ref = str(seeded.dead_letter)
    # The fixture's own listing (to learn the id) is a read too: two list entries.
    assert (
        _entries(engine, "dead_letter.list")
        == [("token:backoffice", "dead_letter", ref, [ref])] * 2
    )
    assert _entries(engine, "dead_letter.view") == [("token:backoffice", "dead_letter", ref, [])]
    assert client.get("/v1/dead-letters/999999").status_code == 404
    assert len(_entries(engine, "dead_letter.view")) == 1


def test_the_console_holds_page_is_audited_like_the_api(
    client: TestClient, engine: Engine, seeded: Seeded
) -> None:
    del client.headers["Authorization"]
    api_login(client, "ana")
    page = client.get("/holds")
    assert page.status_code == 200
    assert _entries(engine, "hold.list") == sorted(
        ("ana", "account", account, [str(seeded.holds[account])]) for account in ACCOUNTS
    )


def test_reading_an_accounts_restrictions_is_audited(
    client: TestClient, engine: Engine, seeded: Seeded
) -> None:
    assert client.get("/v1/accounts/acct-1/restrictions").status_code == 200
    compliance = Principal.for_user(99, "cleo", Role.COMPLIANCE)
    with unit_of_work(session_factory(engine)) as session:
        found = trail(session, compliance, subject_type="account", subject_id="acct-1")
    assert [(e.actor, e.action) for e in found] == [("token:backoffice", "restriction.list")]


def test_case_and_mail_lists_record_what_they_show(engine: Engine, client: TestClient) -> None:
    """The queue's cases, one's own cases and received mail: each list read writes one entry
    per account (or message) it showed, through the API as through the console."""
    from riskops.cases.alert_intake import ensure_default_queues, raise_alert
    from riskops.cases.models import AlertSource
    from riskops.cases.schemas import AlertIn
    from riskops.intake.service import receive_email

    mail = (
        b"From: bank@example.com\r\nTo: risk@example.com\r\nSubject: recall\r\n\r\n"
        b"please recall the transfer\r\n"
    )
    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        make_user(session, "max", Role.MANAGER)
        alert = AlertIn(
            source=AlertSource.EMAIL,
            source_ref="ref-acct-5",
            account_id="acct-5",
            kind="email",
            title="Report about acct-5",
            severity=50,
            reason="customer reported",
        )
        case = raise_alert(session, alert).case
        case_id, queue = case.id, case.queue_key
        email_id = receive_email(session, mail, channel="import").email_id
    client.headers.update(bearer(token_for(engine, ["case:view"], name="desk")))
    assert client.get(f"/v1/queues/{queue}/cases").status_code == 200
    assert client.get("/v1/emails").status_code == 200
    del client.headers["Authorization"]
    api_login(client, "max")
    assert client.get(f"/queues/{queue}").status_code == 200  # the console's queue page
    listed = [e for e in _entries(engine, "case.list") if e[1] == "account"]
    assert listed == [
        ("max", "account", "acct-5", [str(case_id)]),
        ("token:desk", "account", "acct-5", [str(case_id)]),
    ]
    assert _entries(engine, "email.list") == [
        ("token:desk", "email", str(email_id), [str(email_id)])
    ]


def test_account_actions_read_through_the_api_are_audited(
    client: TestClient, engine: Engine, seeded: Seeded
) -> None:
    """The four-eyes account actions, listed and one by one: one entry per account shown;
    an empty page records nothing."""
    from riskops.accounts import service as accounts
    from riskops.accounts.models import AccountAction, RestrictionKind

    maker = Principal.for_user(98, "ana", Role.ANALYST)
    made: dict[str, int] = {}
    with unit_of_work(session_factory(engine)) as session:
        for account in ACCOUNTS:
            done = accounts.restrict(
                session, maker, account, RestrictionKind.FULL_FREEZE, "mule ring"
            )
            assert isinstance(done, AccountAction)
            made[account] = done.id
    assert client.get("/v1/account-actions", params={"account_id": "nobody"}).json() == []
    assert _entries(engine, "account_action.list") == []
    listed = client.get("/v1/account-actions")
    assert listed.status_code == 200, listed.text
    assert sorted(a["id"] for a in listed.json()) == sorted(made.values())
    assert _entries(engine, "account_action.list") == sorted(
        ("token:backoffice", "account", account, [str(made[account])]) for account in ACCOUNTS
    )
    assert client.get(f"/v1/account-actions/{made['acct-2']}").status_code == 200
    assert client.get("/v1/account-actions/999999").status_code == 404
    assert _entries(engine, "account_action.view") == [
        ("token:backoffice", "account", "acct-2", [str(made["acct-2"])])
    ]


def test_an_accounts_timeline_is_audited_on_the_console(
    client: TestClient, engine: Engine, seeded: Seeded
) -> None:
    """The timeline (the account page and its partial) shows the account's events: one
    entry naming them; a page with no events records nothing."""
    from riskops.events import schemas as s
    from riskops.events.service import ingest
    from riskops.investigation.timeline import timeline

    with unit_of_work(session_factory(engine)) as session:
        created = s.AccountCreated(
            event_id="acct-1-created",
            account_id="acct-1",
            occurred_at=utcnow(),
            email="ana@example.com",
            phone="+447700900123",
            country="GB",
        )
        ingest(session, [(None, created)], source="api")
    del client.headers["Authorization"]
    api_login(client, "ana")
    assert client.get("/accounts/acct-1/timeline").status_code == 200
    assert client.get("/accounts/acct-9/timeline").status_code == 200
    assert _entries(engine, "account.timeline") == [
        ("ana", "account", "acct-1", ["acct-1-created"])
    ]
    analyst = Principal.for_user(97, "ivy", Role.ANALYST)
    with unit_of_work(session_factory(engine)) as session:
        page = timeline(session, analyst, "acct-1")
    assert [item.event_id for item in page.rows] == ["acct-1-created"]
    assert len(_entries(engine, "account.timeline")) == 2


def test_approvals_read_through_the_api_are_audited(
    client: TestClient, engine: Engine, seeded: Seeded
) -> None:
    """The actions waiting for a second person name the account they act on: one entry per
    account shown; an empty page records nothing."""
    from riskops.cases.alert_intake import ensure_default_queues, raise_alert
    from riskops.cases.models import AlertSource
    from riskops.cases.schemas import AlertIn

    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        make_user(session, "sen", Role.SENIOR_ANALYST)
        alert = AlertIn(
            source=AlertSource.EMAIL,
            source_ref="ref-acct-7",
            account_id="acct-7",
            kind="email",
            title="Report about acct-7",
            severity=50,
            reason="customer reported",
        )
        case_id = raise_alert(session, alert).case.id
    approver = TestClient(client.app)
    api_login(approver, "sen")
    empty = approver.get("/v1/approvals")
    assert empty.status_code == 200 and empty.json() == []
    assert _entries(engine, "approval.list") == []
    del client.headers["Authorization"]
    api_login(client, "ana", sticky=True)
    taken = client.post("/v1/cases/take-next", json={})
    assert taken.status_code == 200 and taken.json()["id"] == case_id, taken.text
    note = {k: "x" for k in ("summary", "evidence", "findings", "decision", "rationale")}
    made = client.post(
        f"/v1/cases/{case_id}/decisions",
        json={"action": "restrict", "restriction": "full_freeze", "note": note},
    )
    assert made.status_code == 201, made.text
    action_id = made.json()["action"]["id"]
    listed = approver.get("/v1/approvals")
    assert [a["id"] for a in listed.json()] == [action_id]
    assert _entries(engine, "approval.list") == [("sen", "account", "acct-7", [str(action_id)])]
