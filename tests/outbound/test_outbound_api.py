"""The outbound API and console pages: webhook subscriptions (secret shown once, topics
checked), the outbox listing and retry, each with its permission; the /outbox page and the
case page's delivery panel."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.engine import Engine

from riskops.auth.service import TOKENS
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.outbound import guarded, webhooks
from riskops.outbound.models import OutboundMessage, Status
from riskops.outbound.service import Channel, enqueue, enqueue_customer
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import client_for, make_user

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    TOKENS.clear()
    webhooks.invalidate()
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "ada", "admin")
        make_user(session, "max", "manager")
        make_user(session, "ana", "analyst")
    yield create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    TOKENS.clear()
    webhooks.invalidate()


def seed(engine: Engine) -> tuple[int, int]:
    """A sent email of case 5 and a dead SMS; their ids."""
    with unit_of_work(session_factory(engine)) as s:
        checked = guarded.issue(
            channel=Channel.EMAIL,
            to="c@example.com",
            subject="We need a document",
            body="Please upload your ID.",
            reply_to="reply+c5-token@reply.example.test",
            case_id=5,
            account_id="acc-5",
        )
        sent = enqueue_customer(s, checked, purpose="rfi", now=T0)
        dead = enqueue(
            s, channel=Channel.SMS, to="+447700900123", body="Code", purpose="otp", now=T0
        )
        s.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == sent.id)
            .values(status=Status.SENT, attempts=1, sent_at=T0)
        )
        s.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == dead.id)
            .values(status=Status.DEAD, attempts=8, last_error="HTTP 503: down")
        )
    return sent.id, dead.id


def test_webhook_subscriptions_show_the_secret_once(app: FastAPI) -> None:
    admin = client_for(app, "ada")
    body = {"url": "https://exchange.example/hooks", "topics": ["decision.held", "case.closed"]}
    made = admin.post("/v1/webhooks", json=body)
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert secret.startswith("whsec_")
    sub_id = made.json()["id"]
    listed = admin.get("/v1/webhooks").json()
    assert [s["id"] for s in listed] == [sub_id] and listed[0]["secret"] is None
    assert admin.get(f"/v1/webhooks/{sub_id}").json()["secret"] is None
    for wrong, field in (
        ({"url": "ftp://x", "topics": ["case.closed"]}, "$.url"),
        ({"url": "https://x.io", "topics": ["nope"]}, "$.topics[0]"),
        ({"url": "https://x.io", "topics": []}, "$.topics"),
    ):
        bad = admin.post("/v1/webhooks", json=wrong)
        assert bad.status_code == 422
        assert [d["field"] for d in bad.json()["details"]] == [field]
    assert admin.post("/v1/webhooks", json={"url": "https://x.io"}).status_code == 422
    assert client_for(app, "max").get("/v1/webhooks").status_code == 403
    assert admin.delete(f"/v1/webhooks/{sub_id}").status_code == 204
    assert admin.get(f"/v1/webhooks/{sub_id}").status_code == 404
    assert admin.get("/v1/webhooks").json() == []


def test_outbox_listing_and_retry(app: FastAPI, engine: Engine) -> None:
    sent, dead = seed(engine)
    analyst, manager = client_for(app, "ana"), client_for(app, "max")
    page = analyst.get("/v1/outbox", params={"status": "dead"}).json()
    assert page["total"] == 1 and page["items"][0]["id"] == dead
    assert analyst.get("/v1/outbox", params={"case_id": 5}).json()["items"][0]["id"] == sent
    assert analyst.get("/v1/outbox", params={"status": "lost"}).status_code == 422
    one = analyst.get(f"/v1/outbox/{sent}").json()
    assert one["body"] == "Please upload your ID." and one["attempt_log"] == []
    assert one["reply_to"] == "reply+c5-token@reply.example.test"
    assert analyst.post(f"/v1/outbox/{dead}/retry").status_code == 403
    assert manager.post(f"/v1/outbox/{sent}/retry").status_code == 409
    again = manager.post(f"/v1/outbox/{dead}/retry")
    assert again.status_code == 200 and again.json()["status"] == "retrying"
    assert again.json()["attempts"] == 0
    assert manager.get("/v1/outbox/999999").status_code == 404


def test_console_outbox_page_and_case_panel(app: FastAPI, engine: Engine) -> None:
    sent, dead = seed(engine)
    manager = client_for(app, "max")
    html = manager.get("/outbox").text
    assert f'id="outbox-{sent}"' in html and f'id="outbox-{dead}"' in html
    assert html.count("outbox-retry") == 1  # only the dead one
    filtered = manager.get("/outbox", params={"channel": "email"}).text
    assert f'id="outbox-{sent}"' in filtered and f'id="outbox-{dead}"' not in filtered
    assert "Please upload your ID." in manager.get(f"/outbox/{sent}").text
    done = manager.post(f"/outbox/{dead}/retry", data={}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/outbox")
    panel = manager.get("/cases/5/outbox").text
    assert f'id="case-outbox-{sent}"' in panel and "We need a document" in panel
    assert 'id="case-outbox-empty"' in manager.get("/cases/6/outbox").text
    analyst = client_for(app, "ana")
    assert "outbox-retry" not in analyst.get("/outbox").text
    assert analyst.post(f"/outbox/{dead}/retry", data={}).status_code == 403


def test_without_outbox_view_the_panel_says_so(app: FastAPI, engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "rui", "rule_author")
    seed(engine)
    client: TestClient = client_for(app, "rui")
    assert "needs the outbox:view permission" in client.get("/cases/5/outbox").text
    assert client.get("/outbox").status_code == 403
