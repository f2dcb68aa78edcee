"""Webhooks out: the exchange subscribes a URL to topics; ``emit`` fans a domain event out
to the matching subscriptions as outbound messages, in the caller's transaction.

Each delivery is signed: ``X-Riskops-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 of ``"<t>.<body>"`` under the subscription's secret. A receiver checks it with
``verify`` (or its own copy of it: five lines in any language) and drops a message id it
has already seen (``X-Riskops-Message-Id``): a delivery may come twice, never zero times.

``emit`` sits on hot paths (a monitor decision, a hold resolved): without a subscription to
the topic it costs a lookup in a per-process cache of the subscribed topics, refreshed
every ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import NotFound, ValidationFailed
from riskops.outbound import repository
from riskops.outbound.models import Channel, WebhookSubscription
from riskops.outbound.service import _insert, field_reasons, new_message_id

TOPICS = (
    "decision.held",
    "decision.blocked",
    "hold.resolved",
    "account.restricted",
    "account.restriction_lifted",
    "case.closed",
    "report.spike",
)
# http(s), a host name or address, an optional port and path: what a subscription posts to.
URL_PATTERN = re.compile(r"^https?://[A-Za-z0-9._~-]+(:[0-9]{1,5})?([/?][!-~]*)?$")
SIGNATURE_HEADER = "X-Riskops-Signature"
MESSAGE_ID_HEADER = "X-Riskops-Message-Id"
TOPIC_HEADER = "X-Riskops-Topic"
CACHE_SECONDS = 5.0
DEFAULT_TOLERANCE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class _Target:
    id: int
    url: str
    topics: frozenset[str]


class _Cache:
    """The active subscriptions per database (engine), kept ``CACHE_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: weakref.WeakKeyDictionary[
            Engine, tuple[float, tuple[_Target, ...], frozenset[str]]
        ] = weakref.WeakKeyDictionary()

    def targets(self, session: Session, topic: str) -> tuple[_Target, ...]:
        key = session.get_bind().engine
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            subs = repository.subscriptions(session)
            found = tuple(_Target(s.id, s.url, frozenset(s.topics)) for s in subs)
            topics = frozenset(t for s in found for t in s.topics)
            entry = (now + CACHE_SECONDS, found, topics)
            with self._lock:
                self._entries[key] = entry
        if topic not in entry[2]:
            return ()
        return tuple(t for t in entry[1] if topic in t.topics)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _Cache()


def invalidate() -> None:
    """Forget the cached subscriptions (after a change in this process; tests)."""
    _cache.clear()


def wanted(session: Session, topic: str) -> bool:
    """Whether an active subscription takes ``topic`` (one cached lookup): a hot path asks
    before it builds a payload nobody would receive."""
    return bool(_cache.targets(session, topic))


def emit(
    session: Session, topic: str, payload: Mapping[str, Any], *, now: datetime | None = None
) -> int:
    """Queue ``payload`` (JSON-able: ids, kinds, amounts, reasons; never more than the
    exchange needs) for every active subscription to ``topic``, in the caller's
    transaction; returns how many deliveries were queued (0 costs one cached lookup)."""
    targets = _cache.targets(session, topic)
    if not targets:
        return 0
    at = now or utcnow()
    for target in targets:
        message_id = new_message_id()
        body = msgspec.json.encode(
            {"id": message_id, "topic": topic, "created_at": at, "data": dict(payload)}
        ).decode()
        _insert(
            session,
            channel=Channel.WEBHOOK,
            to=target.url,
            body=body,
            purpose="webhook",
            subscription_id=target.id,
            topic=topic,
            message_id=message_id,
            account_id=_str_or_none(payload.get("account_id")),
            case_id=_int_or_none(payload.get("case_id")),
            now=at,
        )
    return len(targets)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# Signing


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Riskops-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (``X-Riskops-Signature``) signs ``body`` under ``secret`` and was
    made within ``tolerance`` seconds of ``now`` (a replay of an old delivery fails).

    For receivers: take the raw request body (before any JSON parsing), check this, then
    drop the delivery if its ``X-Riskops-Message-Id`` was seen before."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).partition("v1=")[2]
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))


# Subscriptions (the API's use cases)


def _check(url: str, topics: Sequence[str], description: str) -> None:
    reasons: dict[str, str] = {}
    if not URL_PATTERN.match(url) or not urlsplit(url).hostname:
        reasons["url"] = "an http(s) URL of at most 2048 characters"
    unknown = sorted(set(topics) - set(TOPICS))
    if not topics:
        reasons["topics"] = f"at least one of {', '.join(TOPICS)}"
    elif unknown:
        reasons["topics"] = f"unknown {', '.join(unknown)}; known: {', '.join(TOPICS)}"
    if len(description) > 256:
        reasons["description"] = "at most 256 characters"
    if reasons:
        details = field_reasons(reasons, "$.")
        raise ValidationFailed("the subscription cannot be made as given", details=details)


def create_subscription(
    session: Session,
    who: Principal,
    *,
    url: str,
    topics: Sequence[str],
    description: str = "",
    now: datetime | None = None,
) -> WebhookSubscription:
    """Subscribe ``url`` to ``topics`` with a new secret (returned on the row: show it once);
    needs ``webhook:manage``; audited (without the secret)."""
    require(who, Permission.WEBHOOK_MANAGE)
    _check(url, topics, description)
    at = now or utcnow()
    sub = repository.add_subscription(
        session,
        WebhookSubscription(
            url=url,
            topics=sorted(set(topics)),
            secret="whsec_" + secrets.token_hex(24),
            description=description,
            active=True,
            created_at=at,
            created_by=who.name,
        ),
    )
    audit.record(
        session,
        who,
        "webhook.subscribe",
        "webhook_subscription",
        sub.id,
        {"url": url, "topics": sub.topics},
        now=at,
    )
    invalidate()
    return sub


def list_subscriptions(session: Session, who: Principal) -> list[WebhookSubscription]:
    """Active subscriptions; needs ``webhook:manage``."""
    require(who, Permission.WEBHOOK_MANAGE)
    return repository.subscriptions(session)


def get_subscription(session: Session, who: Principal, pk: int) -> WebhookSubscription:
    require(who, Permission.WEBHOOK_MANAGE)
    sub = repository.subscription(session, pk)
    if sub is None or not sub.active:
        raise NotFound(f"no webhook subscription {pk}")
    return sub


def delete_subscription(
    session: Session, who: Principal, pk: int, *, now: datetime | None = None
) -> None:
    """Stop delivering to the subscription (deactivated; queued deliveries to it go dead);
    needs ``webhook:manage``; audited."""
    sub = get_subscription(session, who, pk)
    sub.active = False
    audit.record(
        session, who, "webhook.unsubscribe", "webhook_subscription", pk, {"url": sub.url}, now=now
    )
    invalidate()
