"""SMS provider signals: a signed webhook becomes alerts and ``provider.signal`` events.

The provider signs each request with the shared secret (``RISKOPS_SMS_HMAC_SECRET``):
``X-Riskops-Signature: sha256=<hex HMAC-SHA256 of "<X-Riskops-Timestamp>.<raw body>">``.
A timestamp more than five minutes away from now is refused, so a captured request cannot
be replayed later; within the window a replay is harmless because intake is idempotent on
(provider, signal_id). The caller must also present an API token with ``signal:submit``.

A valid signal raises an alert (``source_ref`` = ``provider:signal_id``) and, for each
linked account, is appended to the event log as a ``provider.signal`` event, where the
monitor's SIM-swap rules see it. Both are written in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.auth.permissions import Permission, Principal, require
from riskops.cases.alert_intake import raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.events.models import Source
from riskops.events.schemas import ProviderSignal, SignalKind
from riskops.events.service import ingest
from riskops.events.validation import FieldError, Rejection
from riskops.intake import linking
from riskops.intake.schemas import SignalAlertOut, SignalOut, SmsSignal, SmsSignalType
from riskops.kernel.bounds import decode_json
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import RiskopsError, Unauthorized

SIGNATURE_HEADER = "X-Riskops-Signature"
TIMESTAMP_HEADER = "X-Riskops-Timestamp"
MAX_SKEW_SECONDS = 300
DEAD_LETTER_SOURCE = Source.SMS.value
SOURCE_NAME = "/v1/signals/sms"

SEVERITY = {
    SmsSignalType.SIM_SWAP: 80,
    SmsSignalType.NUMBER_PORTED: 70,
    SmsSignalType.OTP_DELIVERY_FAILURE: 40,
}
_TYPOLOGY = {SmsSignalType.SIM_SWAP: "sim_swap", SmsSignalType.NUMBER_PORTED: "sim_swap"}
_EVENT_SIGNAL = {
    SmsSignalType.SIM_SWAP: SignalKind.SIM_SWAP,
    SmsSignalType.NUMBER_PORTED: SignalKind.NUMBER_PORTED,
    SmsSignalType.OTP_DELIVERY_FAILURE: SignalKind.SMS_DELIVERY_FAILURE,
}
_LABEL = {
    SmsSignalType.SIM_SWAP: "SIM swap",
    SmsSignalType.NUMBER_PORTED: "number ported",
    SmsSignalType.OTP_DELIVERY_FAILURE: "OTP delivery failure",
}


# The headers of a signed provider request, as the OpenAPI document states them (every
# endpoint ``verify_signature`` checks: SMS signals, the customers' SMS replies).
SIGNED_HEADERS: list[dict[str, object]] = [
    {
        "name": TIMESTAMP_HEADER,
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": f"unix seconds; refused when more than {MAX_SKEW_SECONDS} s from now",
    },
    {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": 'sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">',
    },
]


class NotConfigured(RiskopsError):
    """A feature needs a setting that is not set (the operator must configure it)."""

    status_code = 503
    code = "not_configured"


def sign(secret: str, timestamp: str, raw: bytes) -> str:
    """The signature header value for a body: what the provider sends (and tests use)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    raw: bytes,
    *,
    now: datetime | None = None,
    unconfigured: str = "SMS signals are not configured: set RISKOPS_SMS_HMAC_SECRET to the "
    "provider's secret",
) -> None:
    """Refuse (401, with the reason) a request that is not signed with ``secret`` now; 503
    (``unconfigured``, which names the setting) when no secret is set. Every signed inbound
    provider endpoint (SMS signals, the customers' SMS replies) checks with this."""
    if not secret:
        raise NotConfigured(unconfigured)
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    signature = headers.get(SIGNATURE_HEADER, "").strip()
    if not timestamp or not signature:
        raise Unauthorized(f"unsigned request: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    if not timestamp.isdigit():
        raise Unauthorized(f"{TIMESTAMP_HEADER} must be unix seconds")
    skew = abs((now or utcnow()).timestamp() - int(timestamp))
    if skew > MAX_SKEW_SECONDS:
        raise Unauthorized(
            f"{TIMESTAMP_HEADER} is {int(skew)} s from now; the limit is {MAX_SKEW_SECONDS} s"
        )
    if not signature.startswith("sha256="):
        raise Unauthorized(f"{SIGNATURE_HEADER} must be `sha256=<hex>`")
    expected = sign(secret, timestamp, raw).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body and timestamp")


def rejection(raw: bytes, errors: list[FieldError]) -> Rejection:
    """A refused body as the dead-letter store keeps it (signal_id, when readable)."""
    signal_id = None
    try:
        obj = decode_json(raw)
    except msgspec.DecodeError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("signal_id"), str):
        signal_id = obj["signal_id"][:128]
    return Rejection(errors, raw, signal_id)


def dead_letter(session: Session, refused: Rejection) -> None:
    """Keep a refused body with its reasons (source ``sms``)."""
    ingest(session, [(None, refused)], source=DEAD_LETTER_SOURCE, source_name=SOURCE_NAME)


def _id(prefix: str, *parts: str) -> str:
    """``prefix:part:part``, or its sha256 when longer than an event id may be (128)."""
    value = ":".join((prefix, *parts))
    return (
        value
        if len(value) <= 128
        else f"{prefix}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"
    )


def _mask(phone: str) -> str:
    return phone[:3] + "*" * max(0, len(phone) - 6) + phone[-3:]


def receive_signal(
    session: Session, principal: Principal, signal: SmsSignal, *, now: datetime | None = None
) -> SignalOut:
    """Raise the signal's alert(s) and log its ``provider.signal`` event(s); never commits."""
    require(principal, Permission.SIGNAL_SUBMIT)
    now = now or utcnow()
    if signal.account_id is not None:
        links = [
            linking.Link(signal.account_id, "account_id", signal.account_id, "signal", "signal")
        ]
    else:
        links = linking.unique(linking.by_phone(session, signal.phone))
    accounts: list[str | None] = list(linking.accounts(links)) or [None]
    several = len(accounts) > 1
    base = f"{signal.provider}:{signal.signal_id}"
    out: list[SignalAlertOut] = []
    events: list[tuple[int | None, ProviderSignal | Rejection]] = []
    for account_id in accounts:
        suffix = (account_id,) if several and account_id else ()
        event_id = _id("sms", signal.provider, signal.signal_id, *suffix)
        result = raise_alert(session, _alert(signal, account_id, base, suffix, event_id), now=now)
        out.append(
            SignalAlertOut(
                account_id=account_id,
                alert_id=result.alert.id,
                case_id=result.case.id,
                queue=result.case.queue_key,
                created=result.created_alert,
            )
        )
        if account_id is not None:
            events.append((None, _event(signal, account_id, event_id)))
    report = ingest(session, events, source=Source.API.value, source_name=f"sms:{signal.provider}")
    return SignalOut(
        signal_id=signal.signal_id,
        provider=signal.provider,
        duplicate=not any(a.created for a in out),
        linked_by=links[0].by if links else None,
        alerts=out,
        events_accepted=report.accepted,
    )


def _alert(
    signal: SmsSignal, account_id: str | None, base: str, suffix: tuple[str, ...], event_id: str
) -> AlertIn:
    label = _LABEL[signal.type]
    detail: dict[str, Any] = {
        "signal_id": signal.signal_id,
        "provider": signal.provider,
        "type": signal.type.value,
        "phone": signal.phone,
        "linked_by": "account_id" if signal.account_id else ("phone" if account_id else None),
    }
    if account_id is not None:
        detail["event_id"] = event_id  # the provider.signal event in the log
    if signal.detail:
        detail["provider_detail"] = signal.detail
    how = "" if account_id else "; no account has this phone number"
    return AlertIn(
        source=AlertSource.SMS,
        source_ref="#".join((base, *suffix)),
        account_id=account_id,
        kind=signal.type.value,
        title=f"{label} reported by {signal.provider} for {_mask(signal.phone)}"[:256],
        severity=SEVERITY[signal.type],
        typology=_TYPOLOGY.get(signal.type),
        reason=f"{label} on the account's phone number{how}",
        detail=detail,
        occurred_at=signal.occurred_at,
    )


def _event(signal: SmsSignal, account_id: str, event_id: str) -> ProviderSignal:
    return ProviderSignal(
        event_id=event_id,
        account_id=account_id,
        occurred_at=signal.occurred_at,
        signal=_EVENT_SIGNAL[signal.type],
        provider=signal.provider,
        phone=signal.phone,
    )
