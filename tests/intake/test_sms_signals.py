"""POST /v1/signals/sms: signed, token-authorized, validated, idempotent; alerts and events."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from intake_support import SMS_SECRET
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.auth.permissions import Permission
from riskops.cases.models import AlertSource, Case, CaseAlert
from riskops.events.models import DeadLetter, EventRecord
from riskops.intake.sms import MAX_SKEW_SECONDS, NotConfigured, sign, verify_signature
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import Unauthorized
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


def test_far_future_timestamp_is_401(client: TestClient, engine: Engine) -> None:
    # A timestamp a day ahead would let a captured request be replayed for a day.
    response = _post(client, _token(engine), _signal(), timestamp=int(time.time()) + 86_400)
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
    assert "$.phone" in dead.reason and b'"carrier_pigeon"' in dead.raw
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


# --- The signature scheme, pinned by vectors computed outside the code -----------------
#
# The provider signs "<X-Riskops-Timestamp>.<raw body>" with HMAC-SHA256 under the shared
# secret. These hex digests were computed with OpenSSL, not with ``sign()``, so a change of
# the scheme in the code (the timestamp left out, another separator, another hash) fails:
#
#   printf '%s' "1740830400.$BODY" | openssl dgst -sha256 -hmac test-shared-secret
#
# with BODY the bytes of VECTOR_BODY below (and the other inputs as each comment says).
VECTOR_BODY = (
    b'{"signal_id":"sig-vec-1","type":"sim_swap","phone":"+447700900101",'
    b'"occurred_at":"2025-03-01T12:00:00Z","provider":"twilio"}'
)
VECTOR_TS = 1740830400  # 2025-03-01T12:00:00Z
VECTOR_NOW = datetime.fromtimestamp(VECTOR_TS, UTC)
VECTORS = [
    # "1740830400.$BODY"
    ("1740830400", "abf71b5c9d58cbe8d5ca1f4805a6cd40b9105af0a86dcd5b958057dae9819b3f"),
    # "1740830401.$BODY": one second later, another digest
    ("1740830401", "946cba056a76d56a561c26930cf710e4f152030dd4d8eb06a4a53673a6108dcf"),
]
# Digests of the same secret over other messages, each a plausible mistake of a signer.
WRONG_SCHEMES = {
    # printf '%s' "$BODY": the body alone, without the timestamp
    "body alone": "c7e6c808d93483bb9fde6ad9e413778740698b338becd9959de541850177407e",
    # printf '%s' "1740830400$BODY": no separator
    "no separator": "4abf527ebd9c4997d340f766b317389fd76a65f3a5aa26f2e9fa78bc64c53b74",
    # printf '%s' "$BODY.1740830400": timestamp after the body
    "timestamp last": "05f883957675c30621f843bf71e5e98b85b24f8ba7923885e32a6dbd4c3d2ff1",
    # printf '%s' "1740830400." : the timestamp without the body
    "timestamp alone": "43be6768dca42dc97f6937752f8456d9f8c54702b1e8cfc6184f238d484891dd",
    # the right message under another secret (-hmac another-secret)
    "other secret": "1c8295f7c39097ebe559e64e44e8dcbeec21d972e070edef2171a6173cd4952f",
}


def _headers(timestamp: str, digest: str) -> dict[str, str]:
    return {"X-Riskops-Timestamp": timestamp, "X-Riskops-Signature": f"sha256={digest}"}


@pytest.mark.parametrize(("timestamp", "digest"), VECTORS)
def test_the_openssl_vectors_are_accepted(timestamp: str, digest: str) -> None:
    verify_signature(SMS_SECRET, _headers(timestamp, digest), VECTOR_BODY, now=VECTOR_NOW)
    # sign() is what tests and the provider's examples use: it must give the same bytes.
    assert sign(SMS_SECRET, timestamp, VECTOR_BODY) == f"sha256={digest}"


@pytest.mark.parametrize("mistake", sorted(WRONG_SCHEMES))
def test_a_signature_of_another_message_is_refused(mistake: str) -> None:
    headers = _headers(str(VECTOR_TS), WRONG_SCHEMES[mistake])
    with pytest.raises(Unauthorized, match="does not match the body and timestamp"):
        verify_signature(SMS_SECRET, headers, VECTOR_BODY, now=VECTOR_NOW)


def test_a_vector_under_another_timestamp_is_refused() -> None:
    # The digest of second 1740830401 presented with second 1740830400: the timestamp is
    # part of what is signed, so it cannot be moved to refresh a captured request.
    with pytest.raises(Unauthorized, match="does not match"):
        verify_signature(
            SMS_SECRET, _headers(str(VECTOR_TS), VECTORS[1][1]), VECTOR_BODY, now=VECTOR_NOW
        )


def test_a_changed_body_is_refused() -> None:
    headers = _headers(*VECTORS[0])
    for body in (VECTOR_BODY + b" ", VECTOR_BODY.replace(b"sim_swap", b"sim_swaq"), b""):
        with pytest.raises(Unauthorized, match="does not match"):
            verify_signature(SMS_SECRET, headers, body, now=VECTOR_NOW)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unsigned request"),
        ({"X-Riskops-Timestamp": str(VECTOR_TS)}, "unsigned request"),
        ({"X-Riskops-Signature": f"sha256={VECTORS[0][1]}"}, "unsigned request"),
        ({"X-Riskops-Timestamp": "  ", "X-Riskops-Signature": "  "}, "unsigned request"),
        (_headers("-1740830400", VECTORS[0][1]), "must be unix seconds"),
        (_headers("1740830400.0", VECTORS[0][1]), "must be unix seconds"),
        (
            {"X-Riskops-Timestamp": str(VECTOR_TS), "X-Riskops-Signature": VECTORS[0][1]},
            "must be `sha256=<hex>`",
        ),
        (
            {"X-Riskops-Timestamp": str(VECTOR_TS), "X-Riskops-Signature": f"sha1={VECTORS[0][1]}"},
            "must be `sha256=<hex>`",
        ),
        (
            {
                "X-Riskops-Timestamp": str(VECTOR_TS),
                "X-Riskops-Signature": f"SHA256={VECTORS[0][1]}",
            },
            "must be `sha256=<hex>`",
        ),
        (_headers(str(VECTOR_TS), VECTORS[0][1].upper()), "does not match"),
        (_headers(str(VECTOR_TS), VECTORS[0][1][:-1]), "does not match"),
        (_headers(str(VECTOR_TS), "é" * 64), "does not match"),
    ],
)
def test_malformed_headers_are_refused_with_the_reason(
    headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(Unauthorized, match=re.escape(reason)) as err:
        verify_signature(SMS_SECRET, headers, VECTOR_BODY, now=VECTOR_NOW)
    assert err.value.status_code == 401


def test_surrounding_blanks_in_the_headers_are_ignored() -> None:
    timestamp, digest = VECTORS[0]
    headers = {
        "X-Riskops-Timestamp": f" {timestamp} ",
        "X-Riskops-Signature": f" sha256={digest}\t",
    }
    verify_signature(SMS_SECRET, headers, VECTOR_BODY, now=VECTOR_NOW)


def test_no_secret_is_not_configured_whatever_the_request() -> None:
    with pytest.raises(NotConfigured) as err:
        verify_signature("", _headers(*VECTORS[0]), VECTOR_BODY, now=VECTOR_NOW)
    assert err.value.status_code == 503
    assert str(err.value) == (
        "SMS signals are not configured: set RISKOPS_SMS_HMAC_SECRET to the provider's secret"
    )


def test_a_signature_that_is_not_encodable_is_refused_not_an_error() -> None:
    # A lone surrogate cannot be encoded as UTF-8: the comparison must still refuse (401),
    # never raise (500).
    headers = _headers(str(VECTOR_TS), "\udc80" * 64)
    with pytest.raises(Unauthorized, match="does not match"):
        verify_signature(SMS_SECRET, headers, VECTOR_BODY, now=VECTOR_NOW)


@settings(max_examples=50, deadline=None)
@given(st.integers(-(10**9), 10**9))
def test_only_a_timestamp_within_the_skew_is_accepted(offset: int) -> None:
    # The clock moves, the signed request stays: seen ``offset`` seconds after (or, when
    # negative, before) it was signed. Both directions are bounded: a request stamped far in
    # the future would otherwise stay replayable until then.
    headers = _headers(*VECTORS[0])
    now = VECTOR_NOW + timedelta(seconds=offset)
    if abs(offset) <= MAX_SKEW_SECONDS:
        verify_signature(SMS_SECRET, headers, VECTOR_BODY, now=now)
    else:
        with pytest.raises(Unauthorized, match=f"is {abs(offset)} s from now; the limit is 300"):
            verify_signature(SMS_SECRET, headers, VECTOR_BODY, now=now)


@pytest.mark.parametrize("offset", [-301, -300, 0, 300, 301, -86_400 * 365, 86_400 * 365])
def test_the_skew_limit_is_inclusive_in_both_directions(offset: int) -> None:
    headers = _headers(*VECTORS[0])
    now = VECTOR_NOW - timedelta(seconds=offset)  # the request is stamped ``offset`` from now
    if abs(offset) <= MAX_SKEW_SECONDS:
        verify_signature(SMS_SECRET, headers, VECTOR_BODY, now=now)
    else:
        with pytest.raises(Unauthorized, match="the limit is 300 s"):
            verify_signature(SMS_SECRET, headers, VECTOR_BODY, now=now)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00",
        b'{"signal_id": "sig-\x00", "type": "sim_swap"}',  # a raw NUL: not JSON
        b'{"signal_id": "sig-\\u0000", "type": "sim_swap"}',  # an id with a NUL escape
        b'{"signal_id": "\\ud800", "type": "sim_swap"}',  # a lone surrogate escape
        b"\xff\xfe\xfd",
        bytes(range(256)),
    ],
)
def test_hostile_bodies_are_kept_exactly_once(
    client: TestClient, engine: Engine, seeded: sessionmaker[Session], raw: bytes
) -> None:
    """NUL, lone surrogates, bytes that are not UTF-8: refused with a 4xx, kept byte for
    byte on both databases, and once however often they are sent."""
    token = _token(engine)
    for _ in range(2):
        response = _post(client, token, raw)
        assert 400 <= response.status_code < 500, response.text
    with unit_of_work(seeded) as session:
        [dead] = session.scalars(select(DeadLetter).where(DeadLetter.source == "sms")).all()
        assert dead.raw == raw
        assert "\x00" not in (dead.event_id or "") + dead.reason
