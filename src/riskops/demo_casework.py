"""The case-work side of ``riskops demo``: people, a rota, the month's earlier case work,
alerts from every source, and a few cases already in motion, so every queue of the console
has work in it, and no more than the analysts on shift can work inside the SLA.

The simulated month is history: in a live system each of its alerts became a case as it
arrived and the shift on duty worked it (a held withdrawal within the queue's 15 minutes).
The demo monitors the whole month at once, so every case of the month opens at the same
moment; ``work_history`` has the earlier shifts work them, and leaves open only the newest
(the current shift's backlog), sized to what the analysts on shift can clear inside the
held-withdrawal SLA (docs/adr/0021-demo-lives-through-its-month.md).

Everything goes through the same services the console and the API use: users are created
by ``auth.service``, emails are received by ``intake.service``, SMS signals by
``intake.sms``, support tickets by ``intake.service_requests``, and decisions by
``cases.decisions``. Nothing is written to the tables directly.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
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
from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.holds import held_withdrawals
from riskops.cases.models import ActionKind, Case, CaseStatus
from riskops.cases.repository import alerts_of, get_queue
from riskops.cases.schemas import DecisionIn, HoldChoice, NoteSections
from riskops.cases.service import assign, list_queue_cases, queue_overview
from riskops.cases.shifts import SHIFT_HOURS, auto_assign, default_rota, on_shift
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
from riskops.kernel.errors import NotFound

# (username, role, display name): one of each role, and enough analysts for a rota of
# two people on every 8-hour shift (00-08 UTC: ana, dan; 08-16: ben, eve; 16-24: chen, sam).
DEMO_PEOPLE: tuple[tuple[str, Role, str], ...] = (
    ("ana", Role.ANALYST, "Ana Ortiz"),
    ("ben", Role.ANALYST, "Ben Okafor"),
    ("chen", Role.ANALYST, "Chen Wei"),
    ("dan", Role.ANALYST, "Dan Murphy"),
    ("eve", Role.ANALYST, "Eve Sato"),
    ("sam", Role.SENIOR_ANALYST, "Sam Rivera"),
    ("maya", Role.MANAGER, "Maya Lindqvist"),
    ("rui", Role.RULE_AUTHOR, "Rui Costa"),
    ("lena", Role.RULE_AUTHOR, "Lena Vogel"),  # a second author approves Rui's promotions
    ("cora", Role.COMPLIANCE, "Cora Mensah"),
    ("ada", Role.ADMIN, "Ada Novak"),
)
# Who is on the rota (the senior analyst works cases too).
CASE_WORKERS = ("ana", "ben", "chen", "dan", "eve", "sam")
HELD_QUEUE = "held_withdrawals"
# Minutes an analyst spends on one held withdrawal: read its alerts and the account's last
# 30 days, call the customer when needed, release or reject. With the queue's SLA it sets
# how many held withdrawals one analyst clears before they breach.
HOLD_REVIEW_MINUTES = 5
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
    history: HistoryWorked | None = None
    on_shift: list[str] = field(default_factory=list)  # who works cases now


@dataclass
class People:
    """The demo team (created first: the rule authors promote the demo's model before the
    monitor runs), their passwords and the exchange's API token."""

    users: dict[str, User]
    credentials: list[tuple[str, str, str]]  # user, role, password
    api_token: str

    def principal(self, username: str) -> Principal:
        return user_principal(self.users[username])


def seed_people(session: Session) -> People:
    """Create the demo people and the exchange's API token (in the caller's transaction)."""
    system = Principal.system("demo")
    users: dict[str, User] = {}
    credentials = []
    for username, role, name in DEMO_PEOPLE:
        password = f"{username}-{secrets.token_urlsafe(6)}"
        users[username] = create_user(
            session, system, username=username, password=password, role=role, display_name=name
        )
        credentials.append((username, str(role), password))
    token, _ = create_api_token(
        session, system, name="exchange-core (demo)", scopes=EXCHANGE_SCOPES
    )
    return People(users, credentials, token)


def seed(
    session: Session,
    *,
    now: datetime | None = None,
    history: History | None = None,
    people: People | None = None,
) -> CaseworkSeed:
    """Put work in every queue (in the caller's transaction), with the demo people
    (``people``, or created here).

    With ``history`` (the simulated month), the rota covers the month too and the earlier
    shifts work its cases (``work_history``) before the day's alerts arrive.
    """
    now = now or utcnow()
    ensure_default_queues(session)
    people = people or seed_people(session)
    users = people.users
    out = CaseworkSeed(credentials=list(people.credentials), api_token=people.api_token)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = min(midnight, history.start) if history is not None else midnight
    workers = [users[u] for u in CASE_WORKERS]
    default_rota(session, workers, first, days=(midnight - first).days + 7)
    if history is not None:
        out.history = work_history(session, workers, history, now)

    profiles = _profiles(session, limit=40)
    exchange = Principal.system("exchange-core")
    out.raised["emails"] = _emails(session, profiles, now)
    out.raised["sms signals"] = _signals(session, exchange, profiles[10:14], now)
    out.raised["service requests"] = _service_requests(session, exchange, profiles[14:19])
    out.raised["cases in motion"] = _in_motion(session, users, now)
    out.raised["auto-assigned"] = auto_assign(session, now, cap=3)
    out.on_shift = [u.username for u in on_shift(session, now)]
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


_INNOCENT = "The activity matches the customer's history and declared profile."
_FITS = "The pattern matches the alert's typology; no legitimate explanation on file."


def _note(summary: str, decision: str, findings: str = _FITS) -> NoteSections:
    return NoteSections(
        summary=summary,
        evidence="Alerts and their reasons, the 30-day timeline, linked logins and devices.",
        findings=findings,
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


# --- the month's earlier case work ---------------------------------------------------------


@dataclass(frozen=True)
class History:
    """The simulated month: when it began, and its labels (the analysts' judgement)."""

    start: datetime
    event_labels: Mapping[str, object]  # event id -> typology label (planted events)
    account_labels: Mapping[str, object]  # account id -> label (planted accounts)


@dataclass
class HistoryWorked:
    """What the earlier shifts did, and from when the shift on duty has the backlog."""

    cases: int = 0
    released: int = 0
    rejected: int = 0
    restricted: int = 0
    dismissed: int = 0
    backlog_since: datetime | None = None
    capacity: int = 0  # held withdrawals the shift on duty clears inside the SLA


def held_capacity(session: Session, now: datetime) -> int:
    """Held withdrawals the analysts on shift at ``now`` can work before the queue's SLA
    runs out: analysts on shift x (SLA // minutes per held withdrawal)."""
    queue = get_queue(session, HELD_QUEUE)
    if queue is None:
        raise NotFound(f"queue {HELD_QUEUE!r} not found")
    return len(on_shift(session, now)) * (queue.sla_minutes // HOLD_REVIEW_MINUTES)


def work_history(
    session: Session, workers: Sequence[User], history: History, now: datetime
) -> HistoryWorked:
    """Have the earlier shifts work the month's cases, through the decision services.

    The backlog left to the shift on duty is the alerts of its own 8 hours (the month's
    last) but never more held withdrawals than it can clear inside the SLA: in a team
    that keeps up, older held withdrawals were released or rejected within minutes of
    arriving. An earlier shift rejects a held withdrawal the simulation planted and
    releases the others, restricts withdrawals of a planted account and dismisses the
    rest as false positives: the analysts' judgement stands in for the labels. The
    detection the demo prints is scored on the monitor's alerts, which this never touches.
    """
    system = Principal.system("demo")
    cases = [
        case
        for queue in queue_overview(session, system, now)
        for case in _open_cases(session, system, queue.key)
    ]
    out = HistoryWorked(capacity=held_capacity(session, now))
    if not cases:
        return out
    latest = {c.id: max(a.occurred_at for a in alerts_of(session, c.id)) for c in cases}
    since = backlog_since(
        [(c.queue_key, latest[c.id]) for c in cases],
        out.capacity,
        timedelta(hours=SHIFT_HOURS),
    )
    out.backlog_since = since
    earlier = sorted((c for c in cases if latest[c.id] <= since), key=lambda c: latest[c.id])
    for i, case in enumerate(earlier):
        _work(session, workers[i % len(workers)], case, history, out, now)
    out.cases = len(earlier)
    return out


def backlog_since(
    cases: Sequence[tuple[str, datetime]], capacity: int, shift: timedelta
) -> datetime:
    """When the backlog of the shift on duty begins, from each open case's (queue, latest
    alert time): the last ``shift`` of the month, cut later if need be so that at most
    ``capacity`` held-withdrawal cases come after it. Cases at or before it were worked."""
    since = max(t for _, t in cases) - shift
    held = sorted((t for queue, t in cases if queue == HELD_QUEUE), reverse=True)
    if len(held) > capacity:
        since = max(since, held[capacity])  # that one and every older one were worked
    return since


def _open_cases(session: Session, principal: Principal, queue_key: str) -> list[Case]:
    cases: list[Case] = []
    while page := list_queue_cases(session, principal, queue_key, limit=500, offset=len(cases)):
        cases.extend(page)
    return cases


def _work(
    session: Session, user: User, case: Case, history: History, out: HistoryWorked, now: datetime
) -> None:
    """One case, one decision, as an analyst would: the case's held withdrawals rejected
    when the simulation planted them (or their account), released otherwise; a planted
    account's withdrawals locked, anything else dismissed as a false positive."""
    analyst = user_principal(user)
    assign(session, analyst, case.id, user.id, now=now)
    planted_account = case.account_id in history.account_labels
    choices = []
    for hold in held_withdrawals(session, analyst, case.id):
        reject = planted_account or hold.event_id in history.event_labels
        choices.append(HoldChoice(hold_id=hold.id, resolution="reject" if reject else "release"))
    out.rejected += sum(c.resolution == "reject" for c in choices)
    out.released += sum(c.resolution == "release" for c in choices)
    if planted_account:
        out.restricted += 1
        body = DecisionIn(
            action=ActionKind.RESTRICT,
            restriction=RestrictionKind.WITHDRAWAL_LOCK,
            holds=choices,
            note=_note("The alerts fit the typology.", "Lock withdrawals; reject those held."),
        )
    else:
        out.dismissed += 1
        body = DecisionIn(
            action=ActionKind.DISMISS,
            reason_code="false_positive",
            holds=choices,
            note=_note("The alerts have an innocent explanation.", "Dismiss.", _INNOCENT),
        )
    decisions.decide(session, analyst, case.id, body, now=now)
