"""Demo data of the outbox: a few messages to customers of the demo's cases and a webhook
subscription of the "exchange", so /outbox and the case pages' delivery panels show mail
sent, SMS waiting and webhooks retrying against an exchange that is not listening.

The lead's ``riskops.demo`` calls ``seed(session, now, rng, cases=[(case_id, account_id),
...])`` once the cases exist; the worker's delivery pass then sends the messages (into the
local mailbox unless ``RISKOPS_SMTP_URL`` is set) and tries the webhooks.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.outbound import repository, webhooks
from riskops.outbound.service import Channel, enqueue

# Nothing listens on the discard port: the demo's webhooks fail and wait, retrying.
DEMO_HOOK_URL = "http://127.0.0.1:9/riskops-demo-exchange"
DEMO_TOPICS = ("decision.held", "decision.blocked", "hold.resolved", "case.closed")


@dataclass(frozen=True)
class Summary:
    emails: int
    sms: int
    subscription_id: int | None


def seed(
    session: Session,
    now: datetime,
    rng: random.Random,
    *,
    cases: Sequence[tuple[int, str]] = (),
    subscribe: bool = True,
) -> Summary:
    """Queue a request for information (email) for each of ``cases`` (case id, account id)
    and a security notice (SMS) for every other one; subscribe the demo exchange's webhook
    (unless ``subscribe`` is False). Idempotent: the messages carry dedupe keys, and an
    existing demo subscription is kept."""
    emails = sms = 0
    for i, (case_id, account_id) in enumerate(cases):
        at = now - timedelta(minutes=rng.randint(5, 600))
        enqueue(
            session,
            channel=Channel.EMAIL,
            to=f"{_local(account_id)}@customers.example",
            subject="We need a document to review your account",
            body=(
                "Hello,\n\nto finish a routine review of your account we need a recent proof "
                "of address. Please reply to this email with a scan or a photo within 7 days."
                "\n\nThe risk team"
            ),
            html=(
                "<p>Hello,</p><p>to finish a routine review of your account we need a recent "
                "<b>proof of address</b>. Please reply to this email with a scan or a photo "
                "within 7 days.</p><p>The risk team</p>"
            ),
            purpose="rfi",
            case_id=case_id,
            account_id=account_id,
            dedupe_key=f"demo:rfi:{case_id}",
            now=at,
        )
        emails += 1
        if i % 2 == 0:
            enqueue(
                session,
                channel=Channel.SMS,
                to=f"+4477009{rng.randint(0, 99_999):05d}",
                body="Security tip: we will never ask for your 2FA code. Set an anti-phishing "
                "code in your account settings.",
                purpose="security_education",
                case_id=case_id,
                account_id=account_id,
                dedupe_key=f"demo:sms:{case_id}",
                now=at,
            )
            sms += 1
    subscription_id = None
    if subscribe:
        existing = [s for s in repository.subscriptions(session) if s.url == DEMO_HOOK_URL]
        if existing:
            subscription_id = existing[0].id
        else:
            sub = webhooks.create_subscription(
                session,
                Principal.system("demo"),
                url=DEMO_HOOK_URL,
                topics=DEMO_TOPICS,
                description="The demo exchange (not listening: its deliveries retry)",
                now=now,
            )
            subscription_id = sub.id
    return Summary(emails, sms, subscription_id)


def _local(account_id: str) -> str:
    kept = "".join(c if c.isalnum() or c in "._-" else "-" for c in account_id.lower())
    return kept.strip(".-") or "customer"
