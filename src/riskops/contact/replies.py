"""Customer replies by SMS: the provider's signed inbound webhook attaches them to the case.

The provider forwards each SMS a customer sends to the exchange's number to
``POST /v1/contact/sms-inbound``, signed like its other webhooks
(``X-Riskops-Signature: sha256=<hex HMAC-SHA256 of "<X-Riskops-Timestamp>.<raw body>">``,
``intake.sms.sign``) with ``RISKOPS_SMS_INBOUND_SECRET``. A timestamp more than five
minutes from now is refused; within that window a replay (the same provider message id)
is refused too (409), as the id is stored unique. The sender's phone is matched to the
accounts whose events gave that number; the reply goes to the account's open case (one
per account): a ``customer_reply`` entry in its history and, when the case waits for the
customer, the reply that resumes its SLA. A reply no case waits for is kept unattached.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from riskops.audit import service as audit
from riskops.auth.permissions import Principal
from riskops.cases.lifecycle import attach_reply
from riskops.cases.models import Case, CaseStatus
from riskops.contact import repository as repo
from riskops.contact.models import ContactReply
from riskops.contact.schemas import SmsInbound, SmsInboundOut
from riskops.contact.service import mask_phone
from riskops.intake import linking
from riskops.intake.sms import verify_signature
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict

REPLIES = Principal.system("sms")


def verify(secret: str, headers: Mapping[str, str], raw: bytes, *, now: datetime) -> None:
    """Refuse (401, with the reason) a request not signed with ``secret`` within the window:
    the SMS provider signs replies as it signs signals (``intake.sms.verify_signature``)."""
    verify_signature(
        secret,
        headers,
        raw,
        now=now,
        unconfigured="SMS replies are not configured: set RISKOPS_SMS_INBOUND_SECRET to the "
        "provider's secret",
    )


def _case_for(session: Session, phone: str) -> tuple[str | None, Case | None]:
    """The account the phone belongs to and its open case, preferring a case that waits
    for the customer when the number is shared by several accounts."""
    accounts = linking.accounts(linking.unique(linking.by_phone(session, phone, "sms_reply")))
    found: list[tuple[str, Case]] = []
    for account_id in accounts:
        case = repo.open_case_of(session, account_id)
        if case is not None:
            found.append((account_id, case))
    waiting = [f for f in found if f[1].status is CaseStatus.WAITING_CUSTOMER]
    if waiting or found:
        return (waiting or found)[0]
    return (accounts[0] if accounts else None), None


def receive(session: Session, inbound: SmsInbound, *, now: datetime | None = None) -> SmsInboundOut:
    """Attach one inbound SMS to its case (see the module's docstring); never commits."""
    now = now or utcnow()
    if repo.reply_by_provider_id(session, inbound.message_id) is not None:
        raise Conflict(f"message {inbound.message_id} was already received (a replay)")
    account_id, case = _case_for(session, inbound.from_)
    reply = repo.add_reply(
        session,
        ContactReply(
            case_id=case.id if case else None,
            account_id=account_id,
            channel="sms",
            provider_message_id=inbound.message_id,
            from_masked=mask_phone(inbound.from_),
            body=inbound.text,
            received_at=inbound.received_at or now,
        ),
    )
    if reply is None:
        raise Conflict(f"message {inbound.message_id} was already received (a replay)")
    resumed = False
    if case is not None:
        detail: dict[str, object] = {
            "reply_id": reply.id,
            "channel": "sms",
            "from": reply.from_masked,
        }
        resumed = attach_reply(
            session,
            REPLIES,
            case,
            text=inbound.text,
            detail=detail,
            resume_with=f"SMS: {inbound.text}",
            now=now,
        )
    session.flush()
    audit.record(
        session,
        REPLIES,
        "contact.reply",
        "case" if case else "contact_reply",
        case.id if case else reply.id,
        {"reply_id": reply.id, "channel": "sms"},
        now=now,
    )
    return SmsInboundOut(
        id=reply.id, case_id=case.id if case else None, account_id=account_id, resumed=resumed
    )
