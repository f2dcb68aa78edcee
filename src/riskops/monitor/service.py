"""Monitor use cases: process a batch of the event log, resolve holds.

Services take the caller's session and never commit: one batch or one request is one
transaction owned by the boundary (the runtime or the HTTP request). ``process_batch``
writes the decisions, alerts and holds of a batch together with the checkpoint, so they
are durable together or not at all; the batch's live alerts are published on the kernel
outbox's ``ALERT_RAISED`` topic in the same transaction (one INSERT), for whoever subscribes
(cases drain it into case alerts, outside the decision's critical section). The monitor
names no subscriber (ADR 0023).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import msgspec
from sqlalchemy.orm import Session

from riskops.accounts.models import SignalKind
from riskops.accounts.rating import Signal
from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.events import schemas as s
from riskops.kernel import outbox
from riskops.kernel.bounds import alert_problems
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.monitor import repository as repo
from riskops.monitor.engine import Monitor, RowDecision
from riskops.monitor.models import (
    Alert,
    Decision,
    DecisionOutcome,
    Hold,
    HoldStatus,
    opens_case,
)
from riskops.outbound import webhooks
from riskops.rules.types import Action

_event_decoder = msgspec.json.Decoder(s.AnyEvent)


class LogRecord(Protocol):
    """What the monitor reads of ``riskops.events.models.EventRecord``."""

    seq: int
    payload: str


@dataclass
class BatchResult:
    """What one batch did: counts for the summary, and the decisions it made."""

    events: int = 0
    rows: int = 0
    last_seq: int = 0
    stored: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    decisions: list[RowDecision] = field(default_factory=list)
    latencies_us: list[int] = field(default_factory=list)
    skipped: int = 0  # quarantined before: not decided again
    quarantined: int = 0  # set aside by this batch (``riskops.monitor.quarantine``)

    @property
    def read(self) -> int:
        """Log records consumed: decided, skipped or quarantined (0: nothing new)."""
        return self.events + self.skipped + self.quarantined

    def merge(self, other: BatchResult, *, latencies: bool = True) -> None:
        """Add another result's counts (and latencies, unless a long-running total)."""
        self.events += other.events
        self.skipped += other.skipped
        self.quarantined += other.quarantined
        self.rows += other.rows
        self.last_seq = max(self.last_seq, other.last_seq)
        self.stored += other.stored
        self.outcomes.update(other.outcomes)
        self.alerts.update(other.alerts)
        if latencies:
            self.latencies_us.extend(other.latencies_us)


def should_store(decision: RowDecision) -> bool:
    """The decision log keeps what someone may ask about; plain allows are only counted."""
    return (
        decision.outcome is not Action.ALLOW
        or decision.event_type == "withdrawal.requested"
        or bool(decision.hits)
    )


def reasons_json(decision: RowDecision) -> list[dict[str, Any]]:
    return [msgspec.structs.asdict(reason) for reason in decision.reasons]


def process_batch(
    session: Session,
    monitor: Monitor,
    records: Sequence[LogRecord],
    *,
    checkpoint: str = "default",
    keep: Collection[str] = (),
    skip: Collection[int] = (),
    counted_through: int = 0,
    now: datetime | None = None,
) -> BatchResult:
    """Decide every record (in seq order) and write the results and the checkpoint.

    The row decisions of the events whose ids are in ``keep`` are returned in the result
    (the synchronous API answers with them). Records whose seq is in ``skip`` (quarantined,
    see ``riskops.monitor.quarantine``) are passed over: the checkpoint moves past them.
    Outcomes and alerts are counted for records after ``counted_through`` only, so a
    replay after a rebuild does not count the same decision twice. Neither the
    linked-accounts graph nor the account profiles, KYC reviews and ratings are kept here:
    followers of the log do, behind the monitor (ADR 0026, ADR 0028).
    """
    now = now or utcnow()
    result = BatchResult()
    decisions: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    holds: list[dict[str, Any]] = []
    told: list[tuple[s.Event, RowDecision]] = []  # held or blocked: for the webhooks
    facts: dict[str, s.Event] = {}  # events with a live hit that may make a case alert
    accounts: list[str] = []  # the account timeline: accounts[i] owns seqs[i]
    seqs: list[int] = []
    # A caller that decoded the events already (the partition worker) hands them over on
    # its records. Asked once a batch: a database row that lacks the attribute answers
    # through SQLAlchemy's slow key fallback, which cost more than its decode.
    carried = bool(records) and hasattr(records[0], "event")
    for record in records:
        if skip and record.seq in skip:
            result.skipped += 1
            result.last_seq = record.seq
            continue
        event = getattr(record, "event", None) if carried else None
        event = event or _event_decoder.decode(record.payload)
        accounts.append(event.account_id)
        seqs.append(record.seq)
        rows = monitor.decide(event, record.seq)
        result.events += 1
        result.rows += len(rows)
        result.last_seq = record.seq
        result.latencies_us.append(rows[0].latency_us)
        if keep and event.event_id in keep:
            result.decisions.extend(rows)
        for d in rows:
            if record.seq > counted_through:
                result.outcomes[d.outcome.label] += 1
            if should_store(d):
                decisions.append(_decision_row(d, now))
            for hit in d.hits:
                if record.seq > counted_through:
                    result.alerts[hit.rule_id] += 1
                alert = _alert_row(d, hit, now)
                alerts.append(alert)
                if opens_case(alert["shadow"], alert["action"]):
                    facts[event.event_id] = event
        if isinstance(event, s.WithdrawalRequested) and rows[0].outcome is Action.HOLD:
            holds.append(_hold_row(event, rows[0], now))
        if rows[0].outcome in _TOLD and record.seq > counted_through:  # not on a replay
            told.append((event, rows[0]))
    repo.insert_ignore(session, Decision, decisions)
    repo.insert_ignore(session, Alert, alerts)
    repo.insert_ignore(session, Hold, holds)
    repo.insert_timeline(session, accounts, seqs)
    if facts:  # the messages commit with the monitor alerts, delivered later (outbox)
        outbox.publish_many(session, ALERT_RAISED, _alert_messages(alerts, facts), now=now)
    for event, d in told:  # the payload is built only for a topic someone takes
        if webhooks.wanted(session, _TOLD[d.outcome]):
            topic, payload = _told(event, d)
            webhooks.emit(session, topic, payload, now=now)
    if records:
        repo.advance_checkpoint(session, checkpoint, result.last_seq, now)
    result.stored = len(decisions)
    return result


@dataclass(frozen=True)
class AccountFeed:
    """What the accounts follower (``riskops.accounts.tasks``, below the monitor) reads of
    the monitor, handed to it by the composition at the top: how far the monitor's
    checkpoint ``checkpoint`` has committed, and the signals of its decisions on a range of
    the log. Reading the decision log costs the monitor's batch nothing (ADR 0028)."""

    checkpoint: str = "default"

    def position(self, session: Session) -> int:
        return repo.get_checkpoint(session, self.checkpoint)

    def signals(self, session: Session, after: int, upto: int) -> list[Signal]:
        return account_signals(session, after, upto)


def account_signals(session: Session, after: int, upto: int) -> list[Signal]:
    """What the account rating weighs of the monitor's decisions on the events in
    (after, upto]: their live alerts that act, their held withdrawals and their blocked
    events, each keyed as before (a rule, event and row; the event), so the same decision
    read again adds nothing. The alerts are the decisions' reasons of live rules (a
    restriction's block is a reason of no rule): every alert that acts makes its decision
    act, so it is stored."""
    out: list[Signal] = []
    for d in repo.acting_decisions(session, after, upto):
        live = set(d.rule_ids or ())
        for reason in d.reasons or ():
            rule = reason.get("rule_id")
            # a reason of no live rule is a restriction's; a live allow hit is a signal
            if rule not in live or not opens_case(False, reason.get("action")):
                continue
            out.append(
                Signal(
                    d.account_id,
                    SignalKind.ALERT,
                    f"{rule}:{d.event_id}:{d.row}",
                    int(reason.get("score") or 0),
                    f"{rule}: {reason.get('reason', '')}",
                    d.decided_at,
                )
            )
        if d.row != 0:
            continue
        if d.outcome is DecisionOutcome.HOLD and d.asset is not None:
            detail = f"{d.asset} held"
            out.append(Signal(d.account_id, SignalKind.HOLD, d.event_id, 0, detail, d.decided_at))
        elif d.outcome is DecisionOutcome.BLOCK:
            out.append(
                Signal(d.account_id, SignalKind.BLOCK, d.event_id, 0, d.event_type, d.decided_at)
            )
    return out


def _decision_row(d: RowDecision, now: datetime) -> dict[str, Any]:
    return {
        "event_id": d.event_id,
        "row": d.row,
        "account_id": d.account_id,
        "seq": d.seq,
        "event_type": d.event_type,
        "outcome": DecisionOutcome(d.outcome.label),
        "score": d.score,
        "reasons": reasons_json(d),
        "rule_ids": [h.rule_id for h in d.live_hits],
        "decided_at": now,
        "latency_us": d.latency_us,
    }


def _alert_row(d: RowDecision, hit: Any, now: datetime) -> dict[str, Any]:
    return {
        "rule_id": hit.rule_id,
        "rule_version": hit.version,
        "typology": hit.typology,
        "event_id": d.event_id,
        "row": d.row,
        "account_id": d.account_id,
        "seq": d.seq,
        "action": DecisionOutcome(hit.action.label),
        "score": hit.score,
        "reason": hit.reason,
        "shadow": hit.shadow,
        "created_at": now,
    }


def _alert_messages(
    alerts: list[dict[str, Any]], facts: dict[str, s.Event]
) -> list[dict[str, Any]]:
    """The ``ALERT_RAISED`` messages of a batch: each live alert that acts (not shadow, not
    allow), JSON-able, with the event's USD value, type and occurrence time, so a subscriber
    needs no query of its own (a held withdrawal's hold id it looks up on delivery)."""
    messages = []
    for alert in alerts:
        event = facts.get(alert["event_id"])
        if event is None or not opens_case(alert["shadow"], alert["action"]):
            continue
        usd = getattr(event, "usd_value", None)
        _check_alert(alert, usd, event.occurred_at)
        messages.append(
            {
                **alert,
                "action": alert["action"].value,
                "created_at": alert["created_at"].isoformat(),
                "usd_value": None if usd is None else str(usd),
                "event_type": type(event).__struct_config__.tag,
                "occurred_at": event.occurred_at.isoformat(),
            }
        )
    return messages


def _check_alert(alert: dict[str, Any], usd: Decimal | None, occurred_at: datetime) -> None:
    """Refuse (fail the batch, so quarantine the event: ADR 0016) an alert that no case
    alert could be made of, by the one shared definition, rather than publish it."""
    problems = alert_problems(
        source_ref=f"{alert['rule_id']}:{alert['event_id']}:{alert['row']}",
        kind=alert["rule_id"],
        title=f"{alert['rule_id']}: {alert['reason']}",
        severity=int(alert["score"]),
        amount_usd=Decimal(usd) if usd is not None else Decimal(0),
        account_id=alert["account_id"],
        occurred_at=occurred_at,
    )
    if problems:
        raise ValidationFailed("invalid alert", details=problems)


_TOLD = {Action.HOLD: "decision.held", Action.BLOCK: "decision.blocked"}


def _told(event: s.Event, d: RowDecision) -> tuple[str, dict[str, Any]]:
    """The webhook topic and payload of a held or blocked event: the ids, the amount and
    the rules' reasons, nothing of the account's other data."""
    payload: dict[str, Any] = {
        "event_id": event.event_id,
        "event_type": type(event).__struct_config__.tag,
        "account_id": event.account_id,
        "reasons": [
            {"rule_id": r.get("rule_id"), "reason": r.get("reason")} for r in reasons_json(d)
        ],
    }
    if isinstance(event, s.WithdrawalRequested):
        payload.update(
            withdrawal_id=event.withdrawal_id,
            asset=event.asset,
            amount=str(event.amount),
            usd_value=str(event.usd_value),
        )
    return _TOLD[d.outcome], payload


def _hold_row(event: s.WithdrawalRequested, d: RowDecision, now: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "account_id": event.account_id,
        "withdrawal_id": event.withdrawal_id,
        "asset": event.asset,
        "amount": Decimal(event.amount),
        "usd_value": Decimal(event.usd_value),
        "status": HoldStatus.HELD,
        "reasons": reasons_json(d),
        "created_at": now,
    }


# --- holds ----------------------------------------------------------------------------


_RESOLUTIONS = {"release": HoldStatus.RELEASED, "reject": HoldStatus.REJECTED}
# The outbox topic a live alert that acts (hold, block, review) is told on, with the
# monitor_alerts row and the event's facts (``_alert_messages``); cases drain it (ADR 0023).
ALERT_RAISED = "monitor.alert_raised"
HOLD_RESOLVED = "hold.resolved"  # the outbox topic a resolved hold is told on (ADR 0019)


def next_hold_status(current: HoldStatus, action: str) -> HoldStatus:
    """The hold state machine: only a ``held`` withdrawal may be released or rejected."""
    if action not in _RESOLUTIONS:
        raise ValidationFailed(f"unknown hold action {action!r}; use release or reject")
    if current is not HoldStatus.HELD:
        raise Conflict(f"hold is already {current}; only a held withdrawal can be resolved")
    return _RESOLUTIONS[action]


def resolve_hold(
    session: Session,
    actor: Principal,
    hold_id: int,
    action: str,
    note: str,
    *,
    now: datetime | None = None,
    approved_by: str | None = None,
    context: dict[str, Any] | None = None,
) -> Hold:
    """Release or reject a held withdrawal: the one way a hold is resolved.

    Needs ``hold:resolve`` of the acting principal (a person, a token, or the approver of a
    case decision), a note saying why, and a hold still ``held``. The resolution is audited
    and told on the ``hold.resolved`` outbox topic in the same transaction, so the hold's
    case learns of it whoever resolved it. ``context`` (e.g. the deciding case and action)
    goes into the audit entry and the message. ``approved_by``: the second person of a
    four-eyes case decision whose maker (``actor``) chose the resolution; recorded on the hold.
    """
    require(actor, Permission.HOLD_RESOLVE)
    if action not in _RESOLUTIONS:
        raise ValidationFailed(
            f"unknown hold action {action!r}; use release or reject",
            details=[{"field": "$.action", "reason": "release or reject"}],
        )
    if not note or not note.strip():
        raise ValidationFailed(
            "a hold is resolved with a note",
            details=[{"field": "$.note", "reason": "a note explaining the decision is required"}],
        )
    hold = repo.get_hold(session, hold_id, for_update=True)
    if hold is None:
        raise NotFound(f"hold {hold_id} not found")
    status = next_hold_status(hold.status, action)
    now = now or utcnow()
    note = note.strip()
    if not repo.set_hold_resolution(session, hold_id, status, actor.name, note, now, approved_by):
        raise Conflict(f"hold {hold_id} was resolved meanwhile")
    hold.status, hold.resolved_by, hold.note, hold.resolved_at = status, actor.name, note, now
    hold.approved_by = approved_by
    detail: dict[str, Any] = {
        "action": action,
        "account_id": hold.account_id,
        "event_id": hold.event_id,
        "note": note,
        **({"approved_by": approved_by} if approved_by else {}),
        **(context or {}),
    }
    audit.record(session, actor, f"hold.{action}", "hold", hold_id, detail, now=now)
    message = {
        **detail,
        "hold_id": hold.id,
        "status": status.value,
        "resolved_by": actor.name,
        "resolved_at": now.isoformat(),
        "usd_value": str(hold.usd_value),
    }
    outbox.publish(session, HOLD_RESOLVED, message, now=now)
    told = {
        "hold_id": hold.id,
        "event_id": hold.event_id,
        "account_id": hold.account_id,
        "withdrawal_id": hold.withdrawal_id,
        "status": status.value,  # released: send it; rejected: do not
        "asset": hold.asset,
        "amount": str(hold.amount),
        "usd_value": str(hold.usd_value),
        "resolved_at": now,
    }
    webhooks.emit(session, HOLD_RESOLVED, told, now=now)
    return hold


# --- reads: each shows personal data, so each is recorded in the audit trail (ADR 0020) ---


def decisions(
    session: Session,
    reader: Principal,
    *,
    account_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Decision]:
    """The decision log, newest first (``case:view``); audited (``decision.list``)."""
    require(reader, Permission.CASE_VIEW)
    rows = repo.list_decisions(session, account_id, limit, offset)
    audit.record_views(session, reader, "decision.list", "account", _by_account(rows))
    return rows


def alerts(
    session: Session,
    reader: Principal,
    *,
    account_id: str | None = None,
    rule_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Alert]:
    """Rule hits, newest first (``case:view``); audited (``alert.list``)."""
    require(reader, Permission.CASE_VIEW)
    rows = repo.list_alerts(session, account_id, rule_id, limit, offset)
    audit.record_views(session, reader, "alert.list", "account", _by_account(rows))
    return rows


def holds(
    session: Session,
    reader: Principal,
    *,
    status: HoldStatus | None = HoldStatus.HELD,
    limit: int = 50,
    offset: int = 0,
) -> list[Hold]:
    """Held withdrawals, oldest first (``case:view``); audited (``hold.list``)."""
    require(reader, Permission.CASE_VIEW)
    rows = repo.list_holds(session, status, limit, offset)
    audit.record_views(session, reader, "hold.list", "account", _by_account(rows))
    return rows


def _by_account(rows: Sequence[Decision | Alert | Hold]) -> dict[str, list[int]]:
    """The ids of the rows shown, by account: one audit entry per account seen."""
    shown: dict[str, list[int]] = {}
    for row in rows:
        shown.setdefault(row.account_id, []).append(row.id)
    return shown
