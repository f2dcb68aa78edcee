"""Use cases of the outbound outbox: enqueue a message in the caller's transaction, list
messages, and send a dead one again.

``enqueue`` is what every domain calls to make something leave riskops (a digest, a
spike notice, a webhook delivery): it only writes a row, in the caller's transaction, so
the message commits with the change that causes it or not at all; the deliverer
(``riskops.outbound.tasks``) sends it later. ADR 0032. An email or SMS to an account
holder is refused there: it goes through ``enqueue_customer``, which takes the
``Guarded`` message contact's tipping-off guard made (``riskops.outbound.guarded``,
ADR 0033).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.outbound import repository
from riskops.outbound.guarded import Guarded, Unguarded, is_customer_facing
from riskops.outbound.models import Channel, OutboundAttempt, OutboundMessage, Status

__all__ = [
    "Attachment",
    "Channel",
    "Guarded",
    "Queued",
    "Status",
    "enqueue",
    "enqueue_customer",
    "for_case",
    "get_message",
    "list_messages",
    "retry",
]

MAX_BODY_CHARS = 1_000_000
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
# A Reply-To: an unquoted local part and a host name (a dotless one too: a test domain).
_REPLY_TO = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that goes with an email (a PDF digest, a letter)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Queued:
    """The row written (``id``) and the id the receiver dedupes on (``message_id``: the
    email's Message-ID, the SMS / webhook ``X-Riskops-Message-Id`` header)."""

    id: int
    message_id: str


def field_reasons(reasons: dict[str, str], prefix: str = "") -> list[dict[str, str]]:
    """``{field: reason}`` as the API's error details: ``[{field, reason}]``."""
    return [{"field": prefix + field, "reason": reason} for field, reason in reasons.items()]


def new_message_id() -> str:
    return str(uuid.uuid4())


def _validate(
    channel: Channel,
    to: str,
    body: str,
    subject: str | None,
    purpose: str,
    dedupe_key: str | None,
    attachments: Sequence[Attachment],
    reply_to: str | None = None,
) -> None:
    reasons: dict[str, str] = {}
    if channel is Channel.EMAIL and not _EMAIL.match(to):
        reasons["to"] = "an email address (name@domain)"
    elif channel is Channel.SMS and not _PHONE.match(to):
        reasons["to"] = "a phone number in E.164 form (+ and 7 to 15 digits)"
    elif channel is Channel.WEBHOOK:
        parts = urlsplit(to)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            reasons["to"] = "an http(s) URL"
    if len(to) > 2048:
        reasons["to"] = "at most 2048 characters"
    if not body.strip() and channel is not Channel.WEBHOOK:
        reasons["body"] = "required, not blank"
    if len(body) > MAX_BODY_CHARS:
        reasons["body"] = f"at most {MAX_BODY_CHARS} characters"
    if subject is not None and ("\r" in subject or "\n" in subject or len(subject) > 512):
        reasons["subject"] = "one line of at most 512 characters"
    if channel is Channel.EMAIL and not subject:
        reasons["subject"] = "required for an email"
    if not purpose or len(purpose) > 64:
        reasons["purpose"] = "required, at most 64 characters"
    if dedupe_key is not None and not 0 < len(dedupe_key) <= 256:
        reasons["dedupe_key"] = "1 to 256 characters"
    if reply_to is not None:
        if channel is not Channel.EMAIL:
            reasons["reply_to"] = "only an email carries a Reply-To"
        elif len(reply_to) > 254 or not _REPLY_TO.match(reply_to):
            reasons["reply_to"] = "an email address (name@domain), at most 254 characters"
    if attachments and channel is not Channel.EMAIL:
        reasons["attachments"] = "only an email carries attachments"
    if sum(len(a.data) for a in attachments) > MAX_ATTACHMENT_BYTES:
        reasons["attachments"] = f"at most {MAX_ATTACHMENT_BYTES} bytes in all"
    for a in attachments:
        if not a.filename or "/" in a.filename or "\n" in a.filename or "/" not in a.content_type:
            reasons["attachments"] = "each needs a plain file name and a type/subtype"
    if reasons:
        details = field_reasons(reasons)
        raise ValidationFailed("the message cannot be sent as given", details=details)


def enqueue(
    session: Session,
    *,
    channel: Channel,
    to: str,
    body: str,
    subject: str | None = None,
    html: str | None = None,
    purpose: str,
    case_id: int | None = None,
    account_id: str | None = None,
    dedupe_key: str | None = None,
    attachments: Sequence[Attachment] = (),
    reply_to: str | None = None,
    now: datetime | None = None,
) -> Queued:
    """Write a message to deliver, in the caller's transaction (nothing leaves until the
    transaction commits and a deliverer takes it). A second call with the same
    ``dedupe_key`` writes nothing and returns the first message. ``reply_to``: the email's
    Reply-To address. Raises ``ValidationFailed`` (field-level reasons) for an address,
    body or attachment the channel cannot carry, and ``Unguarded`` (403) for an email or
    SMS to an account holder (``guarded.is_customer_facing``): those leave only through
    ``enqueue_customer``, with contact's checked message."""
    channel = Channel(channel)
    if is_customer_facing(channel, purpose, account_id):
        raise Unguarded(
            "refused: an email or SMS to an account holder leaves only through"
            " contact.service.send (the tipping-off guard), as a Guarded message",
            details={"channel": channel.value, "purpose": purpose},
        )
    _validate(channel, to, body, subject, purpose, dedupe_key, attachments, reply_to)
    return _insert(
        session,
        channel=channel,
        to=to,
        body=body,
        subject=subject,
        html=html,
        purpose=purpose,
        case_id=case_id,
        account_id=account_id,
        dedupe_key=dedupe_key,
        attachments=attachments,
        reply_to=reply_to,
        now=now,
    )


def enqueue_customer(
    session: Session,
    message: Guarded,
    *,
    purpose: str,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> Queued:
    """Write a message to an account holder, as contact's tipping-off guard checked it
    (``Guarded``: its fields are what is sent); otherwise as ``enqueue``."""
    if not isinstance(message, Guarded):
        raise Unguarded("refused: a message to an account holder must be a Guarded message")
    m = message
    _validate(m.channel, m.to, m.body, m.subject, purpose, dedupe_key, (), m.reply_to)
    return _insert(
        session,
        channel=message.channel,
        to=message.to,
        body=message.body,
        subject=message.subject,
        html=message.html,
        purpose=purpose,
        case_id=message.case_id,
        account_id=message.account_id,
        dedupe_key=dedupe_key,
        reply_to=message.reply_to,
        now=now,
    )


def _insert(
    session: Session,
    *,
    channel: Channel,
    to: str,
    body: str,
    purpose: str,
    subject: str | None = None,
    html: str | None = None,
    case_id: int | None = None,
    account_id: str | None = None,
    dedupe_key: str | None = None,
    attachments: Sequence[Attachment] = (),
    reply_to: str | None = None,
    subscription_id: int | None = None,
    topic: str | None = None,
    message_id: str | None = None,
    now: datetime | None = None,
) -> Queued:
    at = now or utcnow()
    row: dict[str, Any] = {
        "channel": channel,
        "recipient": to,
        "reply_to": reply_to,
        "subject": subject,
        "body": body,
        "html": html,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "data": base64.b64encode(a.data).decode("ascii"),
            }
            for a in attachments
        ],
        "purpose": purpose,
        "case_id": case_id,
        "account_id": account_id,
        "subscription_id": subscription_id,
        "topic": topic,
        "message_id": message_id or new_message_id(),
        "dedupe_key": dedupe_key,
        "status": Status.QUEUED,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }
    pk, mid = repository.insert_message(session, row)
    return Queued(id=pk, message_id=mid)


def list_messages(
    session: Session,
    who: Principal,
    *,
    status: Status | None = None,
    channel: Channel | None = None,
    case_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OutboundMessage], int]:
    """Messages newest first (filtered) and the number matching; needs ``outbox:view``;
    audited per account shown (addresses and bodies are personal data)."""
    require(who, Permission.OUTBOX_VIEW)
    rows, total = repository.listing(
        session, status=status, channel=channel, case_id=case_id, limit=limit, offset=offset
    )
    _record_views(session, who, rows)
    return rows, total


def for_case(session: Session, who: Principal, case_id: int) -> list[OutboundMessage]:
    """Every message of a case, newest first; needs ``outbox:view``; audited."""
    require(who, Permission.OUTBOX_VIEW)
    rows = repository.for_case(session, case_id)
    _record_views(session, who, rows)
    return rows


def get_message(
    session: Session, who: Principal, pk: int
) -> tuple[OutboundMessage, list[OutboundAttempt]]:
    """One message and its attempts; needs ``outbox:view``; audited."""
    require(who, Permission.OUTBOX_VIEW)
    message = repository.get(session, pk)
    if message is None:
        raise NotFound(f"no outbound message {pk}")
    _record_views(session, who, [message])
    return message, repository.attempts_of(session, pk)


def retry(session: Session, who: Principal, pk: int, *, now: datetime | None = None) -> None:
    """Send a dead message again (a fresh count of attempts, due now); needs
    ``outbox:retry``; audited. Only a dead message can be retried (409 otherwise)."""
    require(who, Permission.OUTBOX_RETRY)
    message = repository.get(session, pk)
    if message is None:
        raise NotFound(f"no outbound message {pk}")
    if message.status is not Status.DEAD:
        raise Conflict(
            f"message {pk} is {message.status.value}: only a dead message can be retried",
            details={"status": message.status.value},
        )
    at = now or utcnow()
    repository.requeue(session, message, at)
    audit.record(
        session,
        who,
        "outbox.retry",
        "outbound_message",
        pk,
        {"channel": message.channel.value, "last_error": message.last_error},
        now=at,
    )


def _record_views(session: Session, who: Principal, rows: Sequence[OutboundMessage]) -> None:
    shown: dict[str, list[int]] = {}
    for m in rows:
        if m.account_id:
            shown.setdefault(m.account_id, []).append(m.id)
    if shown:
        audit.record_views(session, who, "outbox.view", "account", shown)
