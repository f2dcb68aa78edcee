"""The case state machine and priority: pure functions on domain values, no database.

new → assigned → in_review → (waiting_customer | waiting_approval) → closed; closed cases can
be reopened. Each command names the statuses it may start from; anything else is a Conflict.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from riskops.cases.models import CaseStatus
from riskops.kernel.errors import Conflict

S = CaseStatus


class Command(enum.StrEnum):
    ASSIGN = "assign"  # take next, auto-assign, reassign
    UNASSIGN = "unassign"  # back to the queue
    START_REVIEW = "start_review"
    WAIT_CUSTOMER = "wait_customer"  # information requested: the SLA clock pauses
    CUSTOMER_REPLIED = "customer_replied"
    REQUEST_APPROVAL = "request_approval"  # four-eyes action proposed
    APPROVAL_REFUSED = "approval_refused"
    ESCALATE = "escalate"  # to the escalation queue, unassigned
    CLOSE = "close"
    REOPEN = "reopen"
    # the case's held withdrawals were all resolved outside it (holds page, API) and nothing
    # else waits on it: it closes, even unassigned (ADR 0019)
    HOLDS_SETTLED = "holds_settled"
    # the KYC / KYB review its alerts come from was decided (cases.review_outcomes)
    REVIEW_DECIDED = "review_decided"


_OPEN = frozenset({S.NEW, S.ASSIGNED, S.IN_REVIEW, S.WAITING_CUSTOMER, S.WAITING_APPROVAL})
_WORKING = frozenset({S.ASSIGNED, S.IN_REVIEW})

# command -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[Command, tuple[frozenset[CaseStatus], CaseStatus]] = {
    Command.ASSIGN: (frozenset({S.NEW, S.ASSIGNED, S.IN_REVIEW}), S.ASSIGNED),
    Command.UNASSIGN: (frozenset({S.ASSIGNED, S.IN_REVIEW}), S.NEW),
    Command.START_REVIEW: (frozenset({S.ASSIGNED, S.IN_REVIEW}), S.IN_REVIEW),
    Command.WAIT_CUSTOMER: (_WORKING, S.WAITING_CUSTOMER),
    Command.CUSTOMER_REPLIED: (frozenset({S.WAITING_CUSTOMER}), S.IN_REVIEW),
    Command.REQUEST_APPROVAL: (_WORKING, S.WAITING_APPROVAL),
    Command.APPROVAL_REFUSED: (frozenset({S.WAITING_APPROVAL}), S.IN_REVIEW),
    Command.ESCALATE: (_WORKING | {S.NEW}, S.NEW),
    Command.CLOSE: (_WORKING | {S.WAITING_APPROVAL, S.WAITING_CUSTOMER}, S.CLOSED),
    Command.REOPEN: (frozenset({S.CLOSED}), S.IN_REVIEW),
    Command.HOLDS_SETTLED: (_WORKING | {S.NEW}, S.CLOSED),
    Command.REVIEW_DECIDED: (_WORKING | {S.NEW, S.WAITING_CUSTOMER}, S.CLOSED),
}


def is_open(status: CaseStatus) -> bool:
    return status in _OPEN


def next_status(current: CaseStatus, command: Command) -> CaseStatus:
    """Where ``command`` takes a case in ``current``; Conflict (409) if it may not."""
    allowed, target = TRANSITIONS[command]
    if current not in allowed:
        raise Conflict(f"cannot {command.value.replace('_', ' ')} a case that is {current.value}")
    return target


# --- SLA ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sla:
    """A case's SLA clock: the deadline, and when it was paused (waiting for the customer)."""

    due_at: datetime
    paused_at: datetime | None = None

    def pause(self, now: datetime) -> Sla:
        return self if self.paused_at is not None else Sla(self.due_at, now)

    def resume(self, now: datetime) -> Sla:
        """The time spent waiting for the customer is added to the deadline."""
        if self.paused_at is None:
            return self
        return Sla(self.due_at + (now - self.paused_at), None)

    def remaining(self, now: datetime) -> timedelta:
        """Time left (negative once breached); frozen while paused."""
        return self.due_at - (self.paused_at or now)

    def breached(self, now: datetime) -> bool:
        return self.remaining(now) < timedelta(0)


# --- priority -------------------------------------------------------------------------


def priority(severity: int, amount_at_risk_usd: Decimal, sla_minutes: int) -> int:
    """Higher first. Severity (0-100) dominates; money at risk adds up to 60 (10 per decade
    of USD above $1); a short SLA queue adds up to 40 (a 15-minute queue outranks a day).

    Time left is the tie-breaker in queue order (``due_at``), not part of this number, so a
    stored priority never goes stale.
    """
    severity = max(0, min(100, severity))
    usd = float(amount_at_risk_usd) if amount_at_risk_usd > 0 else 0.0
    money = min(60, int(10 * math.log10(usd))) if usd > 1 else 0
    urgency = 0
    if sla_minutes:
        urgency = max(0, min(40, int(40 - 8 * math.log2(max(1, sla_minutes) / 15))))
    return severity + money + urgency


# --- queues and routing ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueSpec:
    key: str
    name: str
    sla_minutes: int
    description: str


# The default queues, in overview order. A held withdrawal waits minutes, AML days.
DEFAULT_QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("held_withdrawals", "Held withdrawals", 15, "Withdrawals held by the monitor"),
    QueueSpec("account_takeover", "Account takeover", 60, "ATO, SIM swap, credential stuffing"),
    QueueSpec("escalations", "Escalations", 4 * 60, "Cases escalated to senior analysts"),
    QueueSpec("fraud", "Fraud", 4 * 60, "Payment fraud, scams, multi-accounting"),
    QueueSpec("triage", "Triage", 2 * 60, "Alerts not linked to an account (or unrouted)"),
    QueueSpec("service_requests", "Service requests", 8 * 60, "Disputes, appeals, unlocks"),
    QueueSpec("aml", "AML", 24 * 60, "Structuring, pass-through, mules, exposure"),
    QueueSpec("screening", "Screening hits", 24 * 60, "Sanctions and PEP screening hits"),
    QueueSpec("kyc", "KYC reviews", 48 * 60, "KYC / KYB reviews"),
)
QUEUE_SLA: dict[str, int] = {q.key: q.sla_minutes for q in DEFAULT_QUEUES}

# typology (or alert kind) -> queue
ROUTES: dict[str, str] = {
    **dict.fromkeys(
        ["account_takeover", "sim_swap", "number_ported", "otp_failure", "credential_stuffing"],
        "account_takeover",
    ),
    **dict.fromkeys(
        ["card_fraud", "payment_fraud", "scam_victim", "multi_accounting", "synthetic_identity"],
        "fraud",
    ),
    **dict.fromkeys(
        [
            "structuring",
            "pass_through",
            "mule",
            "sanctions_exposure",
            "high_risk_geography",
            "behaviour_change",
            "layering",
        ],
        "aml",
    ),
    **dict.fromkeys(["kyc", "kyc_review", "kyb", "kyb_review", "rekyc"], "kyc"),
    **dict.fromkeys(["escalation", "escalate"], "escalations"),
    **dict.fromkeys(["sanctions_screening"], "screening"),
}


def route(
    *,
    source: str,
    account_id: str | None,
    kind: str,
    typology: str | None,
    detail: dict[str, object],
) -> str:
    """The queue an alert goes to when the source did not name one.

    Unlinked alerts go to triage, held withdrawals to their 15-minute queue, SMS provider
    signals to account takeover, service requests to their queue; then the typology, then
    the kind decide; anything else is triaged by a person.
    """
    if account_id is None:
        return "triage"
    if detail.get("hold_id") is not None or detail.get("action") == "hold":
        return "held_withdrawals"
    if source == "service_request":
        return "service_requests"
    if source == "sms":
        return "account_takeover"
    for key in (typology, kind):
        if key and key in ROUTES:
            return ROUTES[key]
    return "triage"


def subject_of(detail: dict[str, object]) -> str | None:
    """What an alert is about, beyond the account: the event, the hold or the message.

    Two alerts of the same account and kind about the same subject are duplicates.
    """
    for key in ("event_id", "hold_id", "message_id"):
        value = detail.get(key)
        if value is not None and value != "":
            return f"{key}:{value}"
    return None
