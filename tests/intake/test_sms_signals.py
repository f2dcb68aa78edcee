"""POST /v1/signals/sms: signed, token-authorized, validated, idempotent; alerts and events."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from fastapi.testclient import TestClient
from intake_support import SMS_SECRET
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.auth.permissions import Permission
from riskops.cases.models import AlertSource, Case, CaseAlert
from riskops.events.models import DeadLetter, EventRecord
from riskops.intake.sms import sign
from riskops.kernel.db import unit_of_work
from support import bearer, token_for

URL = "/v1/signals/sms"


def _signal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "signal_id": "sig-1",
        "type": "sim_swap",
        "phone": "+447700900101",
        "occurred_at": "2025-03-01T12:00:00Z",
        "provider": "twilio",
    }
    body.update(overrides)
    return body


def _post(
    client: TestClient,
    token: str,
    body: dict[str, Any] | bytes,
    *,
    secret: str = SMS_SECRET,
    timestamp: int | None = None,
    signed: bool = True,
) -> Any:
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    headers = {**bearer(token), "Content-Type": "application/json"}
    if signed:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers["X-Riskops-Timestamp"] = ts
        headers["X-Riskops-Signature"] = sign(secret, ts, raw)
    return client.post(URL, content=raw, headers=headers)


def _token(engine: Engine) -> str:
    return token_for(engine, ["signal:submit"])


def test_unsigned_is_401(client: TestClient, engine: Engine) -> None:
    response = _post(client, _token(engine), _signal(), signed=False)
    assert response.status_code == 401
    assert "unsigned" in response.json()["message"]


def test_wrong_signature_is_401(client: TestClient, engine: Engine) -> None:
    response = _post(client, _token(engine), _signal(), secret="not-the-secret")
    assert response.status_code == 401
    assert "does not match" in response.json()["message"]


def test_stale_timestamp_is_401(client: TestClient, engine: Engine) -> None:
    response = _post(client, _token(engine), _signal(), timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert "the limit is 300 s" in response.json()["message"]


def test_without_a_token_is_401(client: TestClient) -> None:
    raw = msgspec.json.encode(_signal())
    ts = str(int(time.time()))
    headers = {"X-Riskops-Timestamp": ts, "X-Riskops-Signature": sign(SMS_SECRET, ts, raw)}
    assert client.post(URL, content=raw, headers=headers).status_code == 401


def test_token_without_the_scope_is_403(client: TestClient, engine: Engine) -> None:
    response = _post(client, token_for(engine, ["event:ingest"]), _signal())
    assert response.status_code == 403
    assert "signal:submit" in response.json()["message"]


def test_not_configured_is_503(
    engine: Engine, seeded: sessionmaker[Session], tmp_path: Any
) -> None:
    from riskops.kernel.config import Settings
    from riskops.web.app import create_app
    from riskops.web.deps import Container

    app = create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    with TestClient(app) as bare:
        response = _post(bare, _token(engine), _signal())
    assert response.status_code == 503
    assert response.json()["error"] == "not_configured"
    assert "RISKOPS_SMS_HMAC_SECRET" in response.json()["message"]


def test_malformed_is_422_with_every_field_and_a_dead_letter(
    client: TestClient, engine: Engine, seeded: sessionmaker[Session]
) -> None:
    body = _signal(type="carrier_pigeon", phone="0770090", occurred_at="yesterday", extra=1)
    del body["provider"]
    response = _post(client, _token(engine), body)
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["details"]}
    assert fields == {"$.type", "$.phone", "$.occurred_at", "$.provider", "$.extra"}
    with unit_of_work(seeded) as session:
        [dead] = session.scalars(select(DeadLetter).where(DeadLetter.source == "sms")).all()
    assert dead.event_id == "sig-1"
    assert "$.phone" in dead.reason and '"carrier_pigeon"' in dead.raw
    viewer = bearer(token_for(engine, [Permission.DEAD_LETTER_VIEW], name="viewer"))
    listed = client.get("/v1/dead-letters", params={"source": "sms"}, headers=viewer)
    assert listed.status_code == 200
    assert [d["event_id"] for d in listed.json()["items"]] == ["sig-1"]


def test_valid_signal_alerts_and_logs_a_provider_signal_event(
    client: TestClient, engine: Engine, seeded: sessionmaker[Session]
) -> None:
    response = _post(client, _token(engine), _signal())
    assert response.status_code == 202, response.text
    out = response.json()
    assert out["duplicate"] is False and out["linked_by"] == "phone"
    assert out["events_accepted"] == 1
    [alert_out] = out["alerts"]
    assert alert_out["account_id"] == "acc-0000101"
    assert alert_out["queue"] == "account_takeover"
    with unit_of_work(seeded) as session:
        alert = session.scalars(select(CaseAlert).where(CaseAlert.source == AlertSource.SMS)).one()
        case = session.get(Case, alert.case_id)
        event = session.scalars(
            select(EventRecord).where(EventRecord.type == "provider.signal")
        ).one()
    assert alert.source_ref == "twilio:sig-1"
    assert (alert.kind, alert.typology, alert.severity) == ("sim_swap", "sim_swap", 80)
    assert case is not None and case.account_id == "acc-0000101"
    assert event.account_id == "acc-0000101" and event.event_id == "sms:twilio:sig-1"
    payload = msgspec.json.decode(event.payload)
    assert payload["signal"] == "sim_swap" and payload["phone"] == "+447700900101"
    assert alert.detail["event_id"] == event.event_id

    replay = _post(client, _token(engine), _signal())
    assert replay.status_code == 202
    assert replay.json()["duplicate"] is True and replay.json()["events_accepted"] == 0
    with unit_of_work(seeded) as session:
        assert len(session.scalars(select(CaseAlert)).all()) == 1
        query = select(EventRecord).where(EventRecord.type == "provider.signal")
        assert len(session.scalars(query).all()) == 1


def test_account_id_wins_over_the_phone(
    client: TestClient, engine: Engine, seeded: sessionmaker[Session]
) -> None:
    body = _signal(type="otp_delivery_failure", account_id="acc-0000104", signal_id="s2")
    out = _post(client, _token(engine), body).json()
    assert out["linked_by"] == "account_id"
    assert [a["account_id"] for a in out["alerts"]] == ["acc-0000104"]
    with unit_of_work(seeded) as session:
        alert = session.scalars(select(CaseAlert)).one()
        event = session.scalars(
            select(EventRecord).where(EventRecord.type == "provider.signal")
        ).one()
    assert (alert.kind, alert.severity, alert.typology) == ("otp_delivery_failure", 40, None)
    assert msgspec.json.decode(event.payload)["signal"] == "sms_delivery_failure"


def test_a_shared_phone_alerts_every_account(client: TestClient, engine: Engine) -> None:
    body = _signal(type="number_ported", phone="+4915112345678", signal_id="s3")
    out = _post(client, _token(engine), body).json()
    assert sorted(a["account_id"] for a in out["alerts"]) == ["acc-0000106", "acc-0000107"]
    assert out["events_accepted"] == 2


def test_a_changed_phone_links(client: TestClient, engine: Engine) -> None:
    out = _post(client, _token(engine), _signal(phone="+15550001234", signal_id="s4")).json()
    assert [a["account_id"] for a in out["alerts"]] == ["acc-0000105"]


def test_an_unknown_phone_goes_to_triage(
    client: TestClient, engine: Engine, seeded: sessionmaker[Session]
) -> None:
    out = _post(client, _token(engine), _signal(phone="+19999999999", signal_id="s5")).json()
    assert out["linked_by"] is None and out["events_accepted"] == 0
    [alert_out] = out["alerts"]
    assert alert_out["account_id"] is None and alert_out["queue"] == "triage"
