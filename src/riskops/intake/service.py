"""Email intake: store a received message, link it to accounts, raise its alerts.

``receive_email`` is the one entry point of the file importer and the SMTP listener. It
runs in the caller's transaction and never commits: the importer commits per message, the
SMTP listener commits before it answers ``250``. A message already stored (same Message-ID,
or same bytes when it has none) changes nothing; unreadable input is kept as a dead letter
(source ``email``), its raw bytes included, and reported.

Every stored message raises one alert per linked account (``source_ref`` is the message's
ref, suffixed ``#<account>`` when it links to several), or one unlinked alert that opens a
case in the triage queue. Mail from a customer's own address while their case waits for
the customer is also recorded as the customer's reply (the case goes back to review).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases import repository as cases_repo
from riskops.cases.alert_intake import raise_alert
from riskops.cases.lifecycle import attach_reply, customer_replied
from riskops.cases.models import AlertSource, Case, CaseStatus
from riskops.cases.schemas import AlertIn
from riskops.events.models import Source
from riskops.events.service import kept_raw
from riskops.intake import linking, reply_tokens
from riskops.intake import repository as repo
from riskops.intake.email import (
    Category,
    Classification,
    Malformed,
    ParsedEmail,
    classify,
    mentions,
    parse_message,
)
from riskops.intake.models import EmailAttachment, InboundEmail
from riskops.intake.schemas import AttachmentOut, EmailOut, EmailPage
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import NotFound

DEAD_LETTER_SOURCE = Source.EMAIL.value
REPLIES = Principal.system("email")  # who moves a waiting case back to review
_encode = msgspec.json.encode
# Queues by category for linked mail; unlinked mail always goes to triage.
_QUEUES = {
    Category.LAW_ENFORCEMENT: "escalations",
    Category.PARTNER_BANK: "fraud",
    Category.FRAUD_REPORT: "fraud",
}


class MessageOutcome(enum.StrEnum):
    IMPORTED = "imported"
    KNOWN = "known"  # already stored: nothing changed
    MALFORMED = "malformed"  # kept as a dead letter


@dataclass(slots=True)
class Received:
    """What became of one message."""

    outcome: MessageOutcome
    ref: str | None = None
    email_id: int | None = None
    account_ids: list[str] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    category: str | None = None
    reason: str | None = None  # why it is malformed

    @property
    def unlinked(self) -> bool:
        return self.outcome is MessageOutcome.IMPORTED and not self.account_ids


def receive_email(
    session: Session,
    raw: bytes,
    *,
    channel: str,
    source_name: str | None = None,
    max_bytes: int | None = None,
    own_addresses: frozenset[str] = frozenset(),
    reply_secret: str = "",
    recipients: Sequence[str] = (),
    now: datetime | None = None,
) -> Received:
    """Store one raw message (idempotent), link it, raise its alerts; never commits.

    ``reply_secret`` checks reply tokens (``RISKOPS_REPLY_SECRET``); ``recipients`` are the
    SMTP envelope's, searched for a token beside the To and Cc headers."""
    now = now or utcnow()
    if max_bytes is not None and len(raw) > max_bytes:
        digest = hashlib.sha256(raw).hexdigest()
        reason = f"message is {len(raw)} bytes; the limit is {max_bytes}"
        return _dead_letter(session, Malformed(reason, digest), raw, source_name, now)
    parsed = parse_message(raw)
    if isinstance(parsed, Malformed):
        return _dead_letter(session, parsed, raw, source_name, now)
    known = repo.email_by_ref(session, parsed.ref)
    if known is not None:
        return Received(
            MessageOutcome.KNOWN, known.ref, known.id, list(known.account_ids), list(known.case_ids)
        )
    found = mentions(parsed, own_addresses=own_addresses)
    links = linking.link_mentions(session, found, exclude_emails=own_addresses)
    verdict = classify(parsed)
    email = repo.add_email(
        session, _row(parsed, raw, links, verdict, channel, source_name, now), _files(parsed)
    )
    replied = reply_tokens.case_of(
        reply_secret, [*recipients, *parsed.to_addresses], parsed.subject
    )
    reply_case = _attach_reply(session, email, parsed, replied, now) if replied else None
    if reply_case is not None and reply_case.status is not CaseStatus.CLOSED:
        case_ids = [reply_case.id]
    else:
        case_ids = _raise_alerts(session, email, parsed, links, verdict, now)
        if reply_case is not None:
            case_ids.insert(0, reply_case.id)
    email.case_ids = case_ids
    session.flush()
    return Received(
        MessageOutcome.IMPORTED,
        email.ref,
        email.id,
        list(email.account_ids),
        case_ids,
        verdict.category,
    )


def _row(
    parsed: ParsedEmail,
    raw: bytes,
    links: list[linking.Link],
    verdict: Classification,
    channel: str,
    source_name: str | None,
    now: datetime,
) -> InboundEmail:
    return InboundEmail(
        ref=parsed.ref,
        message_id=parsed.message_id[:998] if parsed.message_id else None,
        from_address=(parsed.from_address or "")[:320] or None,
        from_name=(parsed.from_name or "")[:256] or None,
        to_addresses=parsed.to_addresses,
        subject=parsed.subject,
        sent_at=parsed.sent_at,
        received_at=now,
        channel=channel,
        source_name=source_name[:512] if source_name else None,
        text_body=parsed.text_body,
        body_from=parsed.body_from,
        category=verdict.category.value,
        account_ids=linking.accounts(links),
        link_evidence=[link.as_dict() for link in links],
        case_ids=[],
        defects=parsed.defects,
        size=len(raw),
        raw_sha256=parsed.raw_sha256,
        raw=raw,
    )


def _files(parsed: ParsedEmail) -> list[EmailAttachment]:
    return [
        EmailAttachment(
            position=a.position,
            filename=(a.filename or "")[:512] or None,
            content_type=a.content_type[:255],
            size=len(a.content),
            sha256=a.sha256,
            content=a.content,
        )
        for a in parsed.attachments
    ]


def alert_ref(base: str, account_id: str | None, several: bool) -> str:
    """The alert's ``source_ref``: the base ref, ``#<account>`` added when there are several."""
    return f"{base}#{account_id}" if several and account_id else base


def _raise_alerts(
    session: Session,
    email: InboundEmail,
    parsed: ParsedEmail,
    links: list[linking.Link],
    verdict: Classification,
    now: datetime,
) -> list[int]:
    accounts: list[str | None] = list(linking.accounts(links)) or [None]
    several = len(accounts) > 1
    subject = parsed.subject or "(no subject)"
    detail: dict[str, Any] = {
        "email_id": email.id,
        "message_id": parsed.message_id or parsed.ref,
        "from": parsed.from_address,
        "subject": parsed.subject,
        "category": verdict.category.value,
        "attachments": [a.filename or f"attachment-{a.position}" for a in parsed.attachments],
    }
    if verdict.matched:
        detail["matched"] = verdict.matched
    case_ids: list[int] = []
    for account_id in accounts:
        evidence = [link.as_dict() for link in links if link.account_id == account_id]
        reason = verdict.label.capitalize()
        if evidence:
            reason += "; linked by " + ", ".join(f"{e['by']} {e['value']}" for e in evidence)
        else:
            reason += "; not linked to any account"
        alert = AlertIn(
            source=AlertSource.EMAIL,
            source_ref=alert_ref(email.ref, account_id, several),
            account_id=account_id,
            kind=f"email.{verdict.category.value}",
            title=f"Email ({verdict.label}): {subject}"[:256],
            severity=verdict.severity,
            typology=verdict.typology,
            reason=reason,
            detail={**detail, "links": evidence},
            occurred_at=parsed.sent_at or now,
            queue_key=_QUEUES.get(verdict.category) if account_id else None,
        )
        result = raise_alert(session, alert, now=now)
        if result.case.id not in case_ids:
            case_ids.append(result.case.id)
        if _is_reply(result.case, evidence):
            text = f"Email {parsed.message_id or parsed.ref}: {subject}\n\n{parsed.text_body}"
            customer_replied(session, REPLIES, result.case.id, text[:2000], now=now)
    return case_ids


def _attach_reply(
    session: Session, email: InboundEmail, parsed: ParsedEmail, case_id: int, now: datetime
) -> Case | None:
    """Attach a reply to the case its token names: a ``customer_reply`` history entry (the
    mail is kept as ``email_id``); a case waiting for the customer goes back to review."""
    case = cases_repo.get_case(session, case_id, for_update=True)
    if case is None:  # a valid token of a case since deleted: handled as any other mail
        return None
    subject = parsed.subject or "(no subject)"
    detail: dict[str, object] = {
        "email_id": email.id,
        "channel": "email",
        "message_id": parsed.message_id or parsed.ref,
        "from": parsed.from_address,
        "subject": parsed.subject,
        "attachments": [a.filename or f"attachment-{a.position}" for a in parsed.attachments],
    }
    resume_with = f"Email {parsed.message_id or parsed.ref}: {subject}\n\n{parsed.text_body}"
    attach_reply(
        session,
        REPLIES,
        case,
        text=parsed.text_body,
        detail=detail,
        resume_with=resume_with,
        now=now,
    )
    return case


def _is_reply(case: Case, evidence: list[dict[str, str]]) -> bool:
    """A reply is mail *from* the account's own address while its case waits for the
    customer; a bank or the police writing about the account is not the customer's answer."""
    from_customer = any(e["by"] == "email" and e["where"] == "from" for e in evidence)
    return from_customer and case.status == CaseStatus.WAITING_CUSTOMER


# --- dead letters ----------------------------------------------------------------------


def raw_for_dead_letter(raw: bytes) -> bytes:
    """Raw mail as the dead-letter store keeps it: its bytes exactly (binary, NUL, any
    encoding), at most 1 MiB of them (``events.service.kept_raw``)."""
    return kept_raw(raw)


def _dead_letter(
    session: Session, malformed: Malformed, raw: bytes, source_name: str | None, now: datetime
) -> Received:
    key = f"sha256:{malformed.raw_sha256}"
    if not repo.dead_letter_exists(session, DEAD_LETTER_SOURCE, key):
        repo.add_dead_letter(
            session,
            {
                "received_at": now,
                "source": DEAD_LETTER_SOURCE,
                "source_name": source_name[:512] if source_name else None,
                "source_row": None,
                "event_id": key,
                "reason": malformed.reason,
                "errors": _encode([{"field": "$", "reason": malformed.reason}]).decode(),
                "raw": raw_for_dead_letter(raw),
            },
        )
    return Received(MessageOutcome.MALFORMED, key, reason=malformed.reason)


# --- reading stored mail ---------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _view(email: InboundEmail, files: list[Any], *, full: bool) -> EmailOut:
    out = EmailOut(
        id=email.id,
        ref=email.ref,
        message_id=email.message_id,
        from_address=email.from_address,
        from_name=email.from_name,
        subject=email.subject,
        sent_at=_iso(email.sent_at),
        received_at=email.received_at.isoformat(),
        channel=email.channel,
        category=email.category,
        account_ids=list(email.account_ids),
        case_ids=list(email.case_ids),
        attachments=[
            AttachmentOut(
                position=f.position,
                filename=f.filename,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
            )
            for f in files
        ],
        size=email.size,
    )
    if full:
        out.to = list(email.to_addresses)
        out.text_body = email.text_body
        out.body_from = email.body_from
        out.link_evidence = list(email.link_evidence)
        out.defects = list(email.defects)
    return out


def list_emails(
    session: Session,
    principal: Principal,
    *,
    limit: int = 50,
    offset: int = 0,
    account_id: str | None = None,
) -> EmailPage:
    """Received mail, newest first, with attachment metadata (``case:view``); each message
    shown is audited (``email.list``)."""
    require(principal, Permission.CASE_VIEW)
    items, total = repo.list_emails(session, limit=limit, offset=offset, account_id=account_id)
    shown = {str(e.id): [e.id] for e in items}
    audit.record_views(session, principal, "email.list", "email", shown)
    files = repo.attachments_of(session, [e.id for e in items])
    views = [_view(e, files[e.id], full=False) for e in items]
    return EmailPage(total=total, limit=limit, offset=offset, items=views)


def email_detail(session: Session, principal: Principal, email_id: int) -> EmailOut:
    """One message with its text and link evidence (``case:view``; the view is audited)."""
    require(principal, Permission.CASE_VIEW)
    email = repo.get_email(session, email_id)
    if email is None:
        raise NotFound(f"no email {email_id}")
    audit.record(session, principal, "email.view", "email", email_id)
    return _view(email, repo.attachments_of(session, [email_id])[email_id], full=True)


def attachment(
    session: Session, principal: Principal, email_id: int, position: int
) -> EmailAttachment:
    """One attachment with its bytes (``case:view``; the download is audited)."""
    require(principal, Permission.CASE_VIEW)
    found = repo.get_attachment(session, email_id, position)
    if found is None:
        raise NotFound(f"email {email_id} has no attachment {position}")
    detail = {"position": position, "sha256": found.sha256}
    audit.record(session, principal, "email.attachment.download", "email", email_id, detail)
    return found
