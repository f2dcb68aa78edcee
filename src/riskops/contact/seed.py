"""Demo messages: information requests and security education sent from the demo's cases.

``seed(session, now, rng)`` runs in the caller's transaction after the case work is seeded
(the lead calls it from ``riskops.demo``): for the open cases being worked, each case's
own analyst asks some customers for information (the case then waits for the reply, until
a due date a few days on) and sends others a security tip, by email or SMS where the
account has one. Everything goes through ``contact.service.send``, so the messages are on
the outbound outbox, in the case history and in the audit trail like any other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from riskops.auth import repository as auth_repo
from riskops.auth.service import user_principal
from riskops.contact import repository as repo
from riskops.contact import service
from riskops.contact.schemas import MessageIn
from riskops.kernel.errors import RiskopsError

EDUCATION = ("education_2fa", "education_antiphishing", "education_whitelist", "education_phishing")
QUESTIONS = (
    "Please confirm that you made the latest withdrawal, and tell us who the recipient is.",
    "Please send a recent bank statement showing the source of your last deposit.",
    "Please describe the purpose of the transfers you received this week.",
)


@dataclass
class ContactSeed:
    requests: int = 0
    education: int = 0
    skipped: list[str] = field(default_factory=list)


def seed(session: Session, now: datetime, rng: random.Random, *, cases: int = 8) -> ContactSeed:
    """Up to ``cases`` cases contacted: about a third asked for information, the rest sent a
    security tip. A case whose account has no address, or whose message is refused, is
    skipped with the reason."""
    out = ContactSeed()
    # The held withdrawals are left to the shift on duty (a 15-minute SLA the demo shows
    # running): asking those customers would pause their clocks.
    worked = repo.cases_to_contact(session, cases, skip_queues=("held_withdrawals",))
    for i, case in enumerate(worked):
        user = auth_repo.user_by_id(session, case.assignee_id) if case.assignee_id else None
        if user is None or case.account_id is None:
            continue
        analyst = user_principal(user)
        recipient = repo.recipient(session, case.account_id)
        channels = service.channels(recipient)
        if not channels:
            out.skipped.append(f"case {case.id}: the account has no email or phone")
            continue
        if i % 3 == 0:
            body = MessageIn(
                template="request_info",
                channel=channels[0],
                details=rng.choice(QUESTIONS),
                due_at=now + timedelta(days=rng.choice((2, 3, 5))),
                note="Demo: the customer's answer decides the case.",
            )
        else:
            body = MessageIn(template=rng.choice(EDUCATION), channel=rng.choice(channels))
        try:
            with session.begin_nested():  # a refused message leaves nothing behind
                service.send(session, analyst, case.id, body, now=now)
        except RiskopsError as exc:
            out.skipped.append(f"case {case.id}: {exc.message}")
            continue
        if body.template == "request_info":
            out.requests += 1
        else:
            out.education += 1
    return out
