"""SMS through a provider over HTTP (generic JSON, Twilio's form post) and webhooks out,
each with the message id on every attempt; webhook deliveries signed and verifiable."""

from __future__ import annotations

import base64
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

from outbound_fakes import http_receiver
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal, Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.outbound import webhooks
from riskops.outbound.models import OutboundMessage, Status
from riskops.outbound.service import Channel, enqueue
from riskops.outbound.tasks import Deliverer, Policy
from riskops.outbound.transports import (
    JsonSmsTransport,
    MailboxTransport,
    Transport,
    Transports,
    TwilioSmsTransport,
    WebhookTransport,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = Principal.for_user(1, "ada", Role.ADMIN)


def deliverer(engine: Engine, tmp_path: Path, sms: Transport) -> Deliverer:
    transports = Transports(MailboxTransport(tmp_path, "r@x.io"), sms, WebhookTransport())
    return Deliverer(session_factory(engine), transports, Policy(), rng=random.Random(1))


def queue_sms(engine: Engine) -> str:
    with unit_of_work(session_factory(engine)) as s:
        q = enqueue(
            s, channel=Channel.SMS, to="+447700900123", body="Code 1234", purpose="otp", now=T0
        )
    return q.message_id


def test_json_sms_provider_gets_the_message_id_on_every_attempt(
    engine: Engine, tmp_path: Path
) -> None:
    mid = queue_sms(engine)
    with http_receiver([503]) as provider:
        sms = JsonSmsTransport(url=provider.url("/sms"), token="tok", sender="RISKOPS")
        d = deliverer(engine, tmp_path, sms)
        assert d.run_pass(now=T0).retrying == 1
        assert d.run_pass(now=T0 + timedelta(hours=1)).sent == 1
    first, second = provider.requests
    for r in (first, second):
        assert r.headers["Idempotency-Key"] == mid == r.headers["X-Riskops-Message-Id"]
        assert r.headers["Authorization"] == "Bearer tok"
        assert json.loads(r.body) == {
            "to": "+447700900123",
            "from": "RISKOPS",
            "body": "Code 1234",
            "message_id": mid,
        }


def test_twilio_messages_api_shape(sqlite_engine: Engine, tmp_path: Path) -> None:
    mid = queue_sms(sqlite_engine)
    with http_receiver() as twilio:
        sms = TwilioSmsTransport(
            account_sid="AC123", auth_token="secret", sender="+15005550006", url=twilio.url("/m")
        )
        assert deliverer(sqlite_engine, tmp_path, sms).run_pass(now=T0).sent == 1
    [r] = twilio.requests
    assert parse_qs(r.body.decode()) == {
        "To": ["+447700900123"],
        "From": ["+15005550006"],
        "Body": ["Code 1234"],
    }
    assert r.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:secret").decode()
    assert r.headers["Idempotency-Key"] == mid


def test_a_refusing_provider_makes_the_message_dead_at_once(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    queue_sms(sqlite_engine)
    with http_receiver([400]) as provider:
        sms = JsonSmsTransport(url=provider.url("/sms"))
        assert deliverer(sqlite_engine, tmp_path, sms).run_pass(now=T0).dead == 1
    with session_factory(sqlite_engine)() as s:
        m = s.scalars(select(OutboundMessage)).one()
        assert m.status is Status.DEAD and m.last_error and "400" in m.last_error


def test_webhooks_are_signed_retried_with_one_id_and_stop_after_unsubscribe(
    engine: Engine, tmp_path: Path
) -> None:
    sessions = session_factory(engine)
    webhooks.invalidate()
    with http_receiver([500]) as exchange:
        with unit_of_work(sessions) as s:
            sub = webhooks.create_subscription(
                s, ADMIN, url=exchange.url("/hooks"), topics=["decision.held"]
            )
            secret = sub.secret
        with unit_of_work(sessions) as s:
            payload = {"account_id": "acc-1", "decision_id": 9, "amount": "1.5", "asset": "BTC"}
            assert webhooks.emit(s, "decision.held", payload, now=T0) == 1
        d = deliverer(engine, tmp_path, JsonSmsTransport())
        assert d.run_pass(now=T0).retrying == 1
        assert d.run_pass(now=T0 + timedelta(hours=1)).sent == 1
        with unit_of_work(sessions) as s:
            webhooks.emit(s, "decision.held", {"account_id": "acc-2"}, now=T0)
            webhooks.delete_subscription(s, ADMIN, sub.id)
        assert d.run_pass(now=T0 + timedelta(hours=2)).dead == 1  # its subscription is gone
    webhooks.invalidate()
    first, second = exchange.requests
    assert first.headers["X-Riskops-Message-Id"] == second.headers["X-Riskops-Message-Id"]
    body = json.loads(second.body)
    assert body["topic"] == "decision.held" and body["data"] == payload
    assert body["id"] == second.headers["X-Riskops-Message-Id"]
    assert second.headers["X-Riskops-Topic"] == "decision.held"
    signature = second.headers["X-Riskops-Signature"]
    assert webhooks.verify(secret, second.body, signature)
    assert not webhooks.verify(secret, second.body + b" ", signature)
    assert not webhooks.verify("whsec_other", second.body, signature)
    assert not webhooks.verify(secret, second.body, signature, now=time.time() + 3600)


def test_verify_accepts_only_its_own_signature() -> None:
    body = b'{"a":1}'
    header = webhooks.sign("k", body, 1_700_000_000)
    assert webhooks.verify("k", body, header, now=1_700_000_010)
    assert not webhooks.verify("k", body, header.replace("v1=", "v1=0"), now=1_700_000_010)
    assert not webhooks.verify("k", body, "v1=abc", now=1_700_000_010)
    assert not webhooks.verify("k", body, "", now=1_700_000_010)
