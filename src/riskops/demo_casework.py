"""The case-work side of ``riskops demo``: people, a rota, alerts from every source, and a
few cases already in motion, so every queue of the console has work in it.

Everything goes through the same services the console and the API use: users are created
by ``auth.service``, emails are received by ``intake.service``, SMS signals by
``intake.sms``, support tickets by ``intake.service_requests``, and decisions by
``cases.decisions``. Nothing is written to the tables directly.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.accounts.models import RestrictionKind
from riskops.auth.models import User
from riskops.auth.permissions import Permission, Principal, Role
from riskops.auth.service import create_api_token, create_user, user_principal
from riskops.cases import decisions
from riskops.cases.intake import ensure_default_queues
from riskops.cases.models import ActionKind, CaseStatus
from riskops.cases.schemas import DecisionIn, NoteSections
from riskops.cases.service import assign, list_queue_cases
from riskops.cases.shifts import auto_assign, default_rota
from riskops.events.repository import payloads_of_type
from riskops.intake.schemas import (
    ServiceRequestIn,
    ServiceRequestKind,
    SmsSignal,
    SmsSignalType,
)
from riskops.intake.service import receive_email
from riskops.intake.service_requests import create_service_request
from riskops.intake.sms import receive_signal
from riskops.kernel.clock import utcnow

# (username, role, display name): one of each role, and enough analysts for a rota.
DEMO_PEOPLE: tuple[tuple[str, Role, str], ...] = (
    ("ana", Role.ANALYST, "Ana Ortiz"),
    ("ben", Role.ANALYST, "Ben Okafor"),
    ("chen", Role.ANALYST, "Chen Wei"),
    ("sam", Role.SENIOR_ANALYST, "Sam Rivera"),
    ("maya", Role.MANAGER, "Maya Lindqvist"),
    ("rui", Role.RULE_AUTHOR, "Rui Costa"),
    ("cora", Role.COMPLIANCE, "Cora Mensah"),
    ("ada", Role.ADMIN, "Ada Novak"),
)
EXCHANGE_SCOPES = [
    Permission.EVENT_INGEST,
    Permission.DECISION_REQUEST,
    Permission.SIGNAL_SUBMIT,
    Permission.SERVICE_REQUEST_CREATE,
]
_payload = msgspec.json.Decoder(dict[str, Any]).decode


@dataclass
class CaseworkSeed:
    """What the demo prints: who can log in, the exchange's API token, what was raised."""

    credentials: list[tuple[str, str, str]] = field(default_factory=list)  # user, role, pwd
    api_token: str = ""
    raised: dict[str, int] = field(default_factory=dict)


def seed(session: Session, *, now: datetime | None = None) -> CaseworkSeed:
    """Create the demo people and put work in every queue (in the caller's transaction)."""
    now = now or utcnow()
    out = CaseworkSeed()
    system = Principal.system("demo")
    ensure_default_queues(session)
    users: dict[str, User] = {}
    for username, role, name in DEMO_PEOPLE:
        password = f"{username}-{secrets.token_urlsafe(6)}"
        users[username] = create_user(
            session, system, username=username, password=password, role=role, display_name=name
        )
        out.credentials.append((username, str(role), password))
    out.api_token, _ = create_api_token(
        session, system, name="exchange-core (demo)", scopes=EXCHANGE_SCOPES
    )
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    workers = [users[u] for u in ("ana", "ben", "chen", "sam")]
    default_rota(session, workers, midnight, days=7)

    profiles = _profiles(session, limit=40)
    exchange = Principal.system("exchange-core")
    out.raised["emails"] = _emails(session, profiles, now)
    out.raised["sms signals"] = _signals(session, exchange, profiles[10:14], now)
    out.raised["service requests"] = _service_requests(session, exchange, profiles[14:19])
    out.raised["cases in motion"] = _in_motion(session, users, now)
    out.raised["auto-assigned"] = auto_assign(session, now, cap=3)
    return out


def _profiles(session: Session, limit: int) -> list[dict[str, Any]]:
    """Accounts as the exchange knows them (``account.created``), for realistic messages."""
    return [_payload(raw) for raw in payloads_of_type(session, "account.created", limit)]


def _mail(sender: str, subject: str, body: str, when: datetime) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "risk@exchange.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="demo.riskops")
    msg.set_content(body)
    return bytes(msg)


def _emails(session: Session, profiles: list[dict[str, Any]], now: datetime) -> int:
    """A customer's "this was not me", a partner bank's report, and a law-enforcement
    request that names nobody riskops knows (it lands in triage, not lost)."""
    victim, reported = profiles[0], profiles[1]
    messages = [
        _mail(
            victim.get("email") or "customer@example.com",
            "I did not make this withdrawal",
            "Hello, someone logged in to my account and changed my password. "
            "I did not request any withdrawal. Please stop it.",
            now - timedelta(minutes=20),
        ),
        _mail(
            "fraud-desk@partnerbank.example",
            f"Fraud report concerning your customer {reported['account_id']}",
            f"Our customer reports an authorised push payment scam. The funds were sent to "
            f"your customer account {reported['account_id']}. Please review and freeze.",
            now - timedelta(hours=2),
        ),
        _mail(
            "officer@police.example",
            "Request for information — case 2026/4471",
            "We request records for the holder of wallet bc1qunknownholder0000000000000 "
            "in connection with an ongoing investigation.",
            now - timedelta(hours=5),
        ),
    ]
    for raw in messages:
        receive_email(session, raw, channel="demo", source_name="demo mailbox", now=now)
    return len(messages)


def _signals(
    session: Session, exchange: Principal, profiles: list[dict[str, Any]], now: datetime
) -> int:
    kinds = ["sim_swap", "number_ported", "otp_delivery_failure", "sim_swap"]
    sent = 0
    for i, (profile, kind) in enumerate(zip(profiles, kinds, strict=False)):
        if not profile.get("phone"):
            continue
        signal = SmsSignal(
            signal_id=f"demo-{i}",
            type=SmsSignalType(kind),
            phone=profile["phone"],
            occurred_at=now - timedelta(minutes=5 * (i + 1)),
            provider="demo-sms",
        )
        receive_signal(session, exchange, signal, now=now)
        sent += 1
    return sent


def _service_requests(session: Session, exchange: Principal, profiles: list[dict[str, Any]]) -> int:
    requests = [
        (ServiceRequestKind.NOT_ME, "Customer did not log in from Vietnam"),
        (ServiceRequestKind.DISPUTE, "Disputes a P2P trade never paid"),
        (ServiceRequestKind.APPEAL, "Appeals the withdrawal lock"),
        (ServiceRequestKind.UNLOCK_REQUEST, "Asks to unlock after re-KYC"),
        (ServiceRequestKind.DISPUTE, "Card deposit not credited"),
    ]
    for i, (profile, (kind, subject)) in enumerate(zip(profiles, requests, strict=False)):
        body = ServiceRequestIn(
            account_id=profile["account_id"],
            kind=kind,
            subject=subject,
            description=f"{subject}. Raised from the helpdesk, ticket HD-{1000 + i}.",
            request_id=f"HD-{1000 + i}",
            raised_by="support agent",
        )
        create_service_request(session, exchange, body)
    return len(requests)


def _note(summary: str, decision: str) -> NoteSections:
    return NoteSections(
        summary=summary,
        evidence="Alerts and their reasons, the 30-day timeline, linked logins and devices.",
        findings="The pattern matches the alert's typology; no legitimate explanation on file.",
        decision=decision,
        rationale="Risk to the customer and the exchange outweighs the inconvenience.",
    )


def _in_motion(session: Session, users: dict[str, User], now: datetime) -> int:
    """A few cases mid-flight: escalated, waiting for the customer, waiting for approval."""
    ana = user_principal(users["ana"])
    picks = [
        *list_queue_cases(session, ana, "aml", statuses=[CaseStatus.NEW], limit=2),
        *list_queue_cases(session, ana, "fraud", statuses=[CaseStatus.NEW], limit=1),
    ]
    plans = [
        DecisionIn(
            action=ActionKind.ESCALATE,
            note=_note("Flows look like layering across linked accounts.", "Escalate to L2."),
        ),
        DecisionIn(
            action=ActionKind.REQUEST_INFO,
            note=_note("Large deposits need a source of funds.", "Ask for source of funds."),
            due_at=now + timedelta(days=3),
        ),
        DecisionIn(
            action=ActionKind.RESTRICT,
            restriction=RestrictionKind.FULL_FREEZE,
            note=_note("Funds of scam victims pass through this account.", "Freeze it."),
        ),
    ]
    for case, plan in zip(picks, plans, strict=False):
        assign(session, ana, case.id, users["ana"].id, now=now)
        decisions.decide(session, ana, case.id, plan, now=now)
    return len(picks)
