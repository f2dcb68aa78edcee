"""Contact over HTTP: templates, preview and send from a case, the tipping-off refusal
(403, audited), and the SMS provider's signed inbound webhook (signature, replay)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from contact_support import REPLY_SECRET, SMS_SECRET, seed_accounts
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.audit.service import REFUSED
from riskops.auth.permissions import Role
from riskops.auth.service import TOKENS
from riskops.cases import alert_intake
from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.models import AlertSource, Case, CaseEvent, CaseStatus
from riskops.cases.schemas import AlertIn
from riskops.contact.models import ContactReply
from riskops.intake.sms import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.outbound.models import OutboundMessage
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import client_for, make_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    TOKENS.clear()
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        make_user(session, "ana", Role.ANALYST)
        make_user(session, "rita", Role.RULE_AUTHOR)
        ensure_default_queues(session)
        alert = AlertIn(
            source=AlertSource.MONITOR,
            source_ref="api-1",
            account_id="acc-0000201",
            kind="RULE-1",
            title="alert",
            typology="mule",
        )
        alert_intake.raise_alert(session, alert)
    settings = Settings(
        data_dir=tmp_path,
        reply_secret=REPLY_SECRET,
        reply_domain="reply.example.test",
        sms_inbound_secret=SMS_SECRET,
    )
    yield create_app(Container(settings, engine), start_background=False)
    TOKENS.clear()


def _take(client: TestClient) -> int:
    taken = client.post("/v1/cases/take-next", json={})
    assert taken.status_code == 200, taken.text
    return int(taken.json()["id"])


def test_templates_preview_and_send(app: FastAPI, engine: Engine) -> None:
    ana = client_for(app, "ana")
    keys = {t["key"] for t in ana.get("/v1/contact/templates").json()}
    assert {"request_info", "education_2fa", "custom"} <= keys
    case_id = _take(ana)
    shown = ana.post(
        f"/v1/cases/{case_id}/messages/preview", json={"template": "education_phishing"}
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["language"] == "es" and shown.json()["channels"] == ["email", "sms"]
    due = (utcnow() + timedelta(days=2)).isoformat()
    sent = ana.post(
        f"/v1/cases/{case_id}/messages",
        json={"template": "request_info", "details": "Proof of address", "due_at": due},
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["case_status"] == "waiting_customer"
    with session_factory(engine)() as session:
        assert session.get(OutboundMessage, sent.json()["outbound_id"]) is not None
    missing = ana.post(f"/v1/cases/{case_id}/messages", json={"template": "restriction_applied"})
    assert missing.status_code == 422
    assert {d["field"] for d in missing.json()["details"]} == {"$.restriction"}


def test_tipping_off_is_refused_and_audited(app: FastAPI, engine: Engine) -> None:
    ana = client_for(app, "ana")
    case_id = _take(ana)
    body = {"template": "custom", "subject": "Hello", "message": "We sent a SAR to FinCEN."}
    refused = ana.post(f"/v1/cases/{case_id}/messages", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"] == "tipping_off"
    assert "FinCEN" not in refused.text and "SAR" not in refused.text
    with session_factory(engine)() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == REFUSED))
        assert any("tip the customer off" in str(e.detail) for e in entries)
        assert session.scalars(select(OutboundMessage)).all() == []


def test_a_role_without_contact_send_is_refused(app: FastAPI) -> None:
    rita = client_for(app, "rita")
    assert rita.get("/v1/contact/templates").status_code == 403


def _signed(raw: bytes, secret: str = SMS_SECRET, at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, raw),
        "Content-Type": "application/json",
    }


def test_sms_reply_is_signed_attached_and_not_replayed(app: FastAPI, engine: Engine) -> None:
    ana = client_for(app, "ana")
    case_id = _take(ana)
    due = (utcnow() + timedelta(days=2)).isoformat()
    asked = ana.post(
        f"/v1/cases/{case_id}/messages",
        json={
            "template": "request_info",
            "channel": "sms",
            "details": "Is the withdrawal yours?",
            "due_at": due,
        },
    )
    assert asked.status_code == 201, asked.text
    raw = msgspec.json.encode(
        {"message_id": "prov-1", "from": "+34 600 111 222", "text": "Yes, it was me."}
    )
    provider = TestClient(app)
    assert provider.post("/v1/contact/sms-inbound", content=raw).status_code == 401
    forged = _signed(raw, secret="not-the-secret")
    assert provider.post("/v1/contact/sms-inbound", content=raw, headers=forged).status_code == 401
    stale = _signed(raw, at=int(time.time()) - 3600)
    assert provider.post("/v1/contact/sms-inbound", content=raw, headers=stale).status_code == 401
    tampered = _signed(raw)
    altered = raw.replace(b"Yes", b"No!")
    assert (
        provider.post("/v1/contact/sms-inbound", content=altered, headers=tampered).status_code
        == 401
    )
    answer = provider.post("/v1/contact/sms-inbound", content=raw, headers=_signed(raw))
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "id": answer.json()["id"],
        "case_id": case_id,
        "account_id": "acc-0000201",
        "resumed": True,
    }
    replay = provider.post("/v1/contact/sms-inbound", content=raw, headers=_signed(raw))
    assert replay.status_code == 409
    with session_factory(engine)() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status is CaseStatus.IN_REVIEW
        kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id))
        assert "customer_reply" in set(kinds)
        assert len(session.scalars(select(ContactReply)).all()) == 1
    panel = ana.get(f"/cases/{case_id}/contact")
    assert panel.status_code == 200 and "Yes, it was me." in panel.text
