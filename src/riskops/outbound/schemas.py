"""The outbound API's bodies and answers (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

from riskops.kernel.bounds import ShortText
from riskops.outbound.models import OutboundAttempt, OutboundMessage, WebhookSubscription
from riskops.outbound.webhooks import TOPICS, URL_PATTERN

Url = Annotated[str, msgspec.Meta(max_length=2048, pattern=URL_PATTERN.pattern)]
Topic = Literal[
    "decision.held",
    "decision.blocked",
    "hold.resolved",
    "account.restricted",
    "account.restriction_lifted",
    "case.closed",
    "report.spike",
]
assert set(get_args(Topic)) == set(TOPICS), "the API's topics are the webhooks' topics"


class AttemptOut(msgspec.Struct):
    number: int
    at: datetime
    ok: bool
    error: str | None


class MessageOut(msgspec.Struct):
    id: int
    channel: str  # email, sms, webhook
    to: str
    reply_to: str | None
    subject: str | None
    purpose: str
    case_id: int | None
    account_id: str | None
    topic: str | None
    message_id: str  # what the receiver dedupes on (Message-ID, X-Riskops-Message-Id)
    status: str  # queued, sending, sent, retrying, dead
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    body: str | None = None  # one message only (GET /v1/outbox/{id})
    attempt_log: list[AttemptOut] | None = None


def message_out(
    m: OutboundMessage, attempts: list[OutboundAttempt] | None = None, *, full: bool = False
) -> MessageOut:
    waiting = m.status.value in ("queued", "retrying")
    return MessageOut(
        id=m.id,
        channel=m.channel.value,
        to=m.recipient,
        reply_to=m.reply_to,
        subject=m.subject,
        purpose=m.purpose,
        case_id=m.case_id,
        account_id=m.account_id,
        topic=m.topic,
        message_id=m.message_id,
        status=m.status.value,
        attempts=m.attempts,
        next_attempt_at=m.next_attempt_at if waiting else None,
        last_error=m.last_error,
        created_at=m.created_at,
        sent_at=m.sent_at,
        body=m.body if full else None,
        attempt_log=[AttemptOut(a.number, a.at, a.ok, a.error) for a in attempts]
        if attempts is not None
        else None,
    )


class MessagePage(msgspec.Struct):
    total: int
    items: list[MessageOut]


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    """Where to POST and which topics: decision.held, decision.blocked, hold.resolved,
    account.restricted, account.restriction_lifted, case.closed, report.spike."""

    url: Url
    topics: Annotated[list[Topic], msgspec.Meta(min_length=1, max_length=len(TOPICS))]
    description: ShortText = ""


class SubscriptionOut(msgspec.Struct):
    id: int
    url: str
    topics: list[str]
    description: str
    created_at: datetime
    created_by: str
    secret: str | None = None  # only in the answer that made it: shown once


def subscription_out(s: WebhookSubscription, *, with_secret: bool = False) -> SubscriptionOut:
    return SubscriptionOut(
        id=s.id,
        url=s.url,
        topics=list(s.topics),
        description=s.description,
        created_at=s.created_at,
        created_by=s.created_by,
        secret=s.secret if with_secret else None,
    )
