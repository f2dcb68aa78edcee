"""Alert intake: every alert source (monitor, email, SMS, service requests) ends here.

``raise_alert`` stores the alert once per (source, source_ref), routes it to a queue, and
groups it into the account's open case (at most one, by a partial unique index) or opens one.
An alert whose detail names a ``group_key`` (a cluster of linked accounts: every state of
the cluster is an alert of the same key) goes first to the open case that holds its group,
so a cluster that grows is one case that gains the new accounts, even when its id changes.
A duplicate (same account, kind and subject as an alert already in the case) is stored and
linked with ``duplicate_of`` but does not raise the case's severity, amount or count.

Runs in the caller's transaction; never commits. The monitor does no case work in its batch
transaction (the decision's critical section): it publishes its alerts on the kernel
outbox's ``monitor.service.ALERT_RAISED`` topic in that transaction, naming no subscriber,
and ``drain_outbox`` raises them as case alerts later, in order, in its own transaction
(``cases.tasks`` runs it in the server and the worker). A crash can neither skip a case
alert (its outbox message stays until a drain commits) nor double one (alerts are unique on
(source, source_ref)); see docs/adr/0008-cases-grouping-and-take-next.md and 0023.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.cases import repository as repo
from riskops.cases.domain import DEFAULT_QUEUES, priority, route, subject_of
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseStatus, Queue
from riskops.cases.schemas import AlertIn
from riskops.kernel import outbox
from riskops.kernel.bounds import alert_problems
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, ValidationFailed
from riskops.kernel.logging import get_logger
from riskops.monitor import repository as monitor_repo
from riskops.monitor.models import DecisionOutcome, opens_case
from riskops.monitor.service import ALERT_RAISED
from riskops.screening.schemas import HIT_RAISED

log = get_logger(__name__)
ACTOR = "system:intake"
# Each lost race means another transaction committed part of this batch's work, which the
# retry then sees; drainers replaying the same alerts concurrently lost 3 in a row under load.
_RETRIES = 10
# Monitor rule actions that make a case alert (an allow-action hit is a signal: it only
# scores), by the monitor's one rule; a shadow hit is never published.
CASE_ACTIONS = frozenset(a.value for a in DecisionOutcome if opens_case(False, a))
_alert_decoder = msgspec.json.Decoder(AlertIn)


@dataclass(slots=True)
class IntakeResult:
    """The stored alert and its case; flags say whether this call created them."""

    alert: CaseAlert
    case: Case
    created_alert: bool
    created_case: bool


def ensure_default_queues(session: Session) -> None:
    """Create the default queues that do not exist yet (idempotent; settings are kept).

    Runs before every intake batch and housekeeping pass, so it reads first: once the
    queues exist it writes nothing (on SQLite an insert that ignores every row still takes
    the write lock the monitor needs)."""
    keys = [q.key for q in DEFAULT_QUEUES]
    present = repo.queues_by_key(session, keys)
    if len(present) == len(keys):
        return
    repo.insert_queues_ignore(
        session,
        [
            {
                "key": q.key,
                "name": q.name,
                "description": q.description,
                "sla_minutes": q.sla_minutes,
                "position": i,
                "active": True,
            }
            for i, q in enumerate(DEFAULT_QUEUES)
            if q.key not in present
        ],
    )


def raise_alert(session: Session, alert: AlertIn, *, now: datetime | None = None) -> IntakeResult:
    """Store an alert and group it into its account's open case, or open a case.

    The same (source, source_ref) again returns the stored rows and changes nothing. On
    PostgreSQL, a concurrent transaction that opened the account's case (or stored the same
    alert) first makes this one retry and join it.
    """
    return raise_alerts(session, [alert], now=now)[0]


def raise_alerts(
    session: Session, alerts: Sequence[AlertIn], *, now: datetime | None = None
) -> list[IntakeResult]:
    """``raise_alert`` for many alerts at once, with the same result as one call per alert
    in order, but a fixed number of queries per batch instead of several per alert."""
    for alert in alerts:
        _validate(alert)
    now = now or utcnow()
    refs = [(a.source, a.source_ref) for a in alerts]
    for _ in range(_RETRIES):
        stored = repo.alerts_by_refs(session, refs)
        if len(stored) == len(set(refs)):
            cases = _cases_of(session, stored.values())
            return [_stored(stored[ref], cases) for ref in refs]
        try:
            with repo.savepoint(session):
                return _Batch(session, now, stored).run(alerts)
        except repo.Raced:
            continue
    source, ref = refs[0]
    more = f" and {len(refs) - 1} more" if len(refs) > 1 else ""
    raise Conflict(f"alert {source}:{ref}{more} kept losing races; retry")


def drain_outbox(session: Session, limit: int = 500, *, now: datetime | None = None) -> int:
    """Raise the oldest ``limit`` monitor alerts waiting in the outbox, in order; returns
    how many messages were taken.

    The messages are deleted in the caller's transaction, so they are gone only if their
    case alerts commit with them. On PostgreSQL two concurrent drainers take different
    messages (``FOR UPDATE SKIP LOCKED``). A message delivered twice anyway (a replayed
    monitor batch publishes its alerts again) finds its alert stored and changes nothing.
    Rows an earlier version left in the cases' own outbox table are delivered first; the
    screening hits (``riskops.screening.schemas.HIT_RAISED``) last, to the screening queue.
    """
    legacy = repo.take_outbox(session, limit)
    alerts = [_alert_decoder.decode(payload) for _, payload in legacy]
    messages = (
        outbox.take(session, ALERT_RAISED, limit - len(legacy)) if len(legacy) < limit else []
    )
    alerts += _case_alerts(messages)
    taken = len(legacy) + len(messages)
    hits = outbox.take(session, HIT_RAISED, limit - taken) if taken < limit else []
    alerts += _screening_alerts(hits)
    if alerts:
        raise_alerts(session, _with_hold_ids(session, alerts), now=now)
    return taken + len(hits)


def _case_alerts(messages: Iterable[Mapping[str, Any]]) -> list[AlertIn]:
    """The case alerts of ``ALERT_RAISED`` messages: those whose action makes a case. One
    that is invalid (the edge's bounds make it unexpected) is logged and left out, never
    allowed to block the delivery of every later alert; its monitor alert stays stored."""
    alerts = []
    for message in messages:
        if _action(message) not in CASE_ACTIONS:
            continue
        row = {
            **message,
            "occurred_at": _instant(message.get("occurred_at")),
            "created_at": _instant(message.get("created_at")),
        }
        alert = monitor_alert_in(_monitor_ref(row), row)
        if _valid(alert, "cases.monitor_alert_refused"):
            alerts.append(alert)
    return alerts


def _screening_alerts(messages: Iterable[Mapping[str, Any]]) -> list[AlertIn]:
    """The case alerts of screening hits (``HIT_RAISED`` messages), for the screening queue;
    one that is invalid is logged and left out (its hit stays in screening's review list)."""
    alerts = (screening_alert_in(message) for message in messages)
    return [a for a in alerts if _valid(a, "cases.screening_alert_refused")]


def screening_alert_in(message: Mapping[str, Any]) -> AlertIn:
    """The case alert of a screening hit: the match, its score and reasons in the detail."""
    keys = (
        "hit_id",
        "subject_id",
        "subject_role",
        "subject_name",
        "list_name",
        "list_version_id",
        "entry_id",
        "entry_kind",
        "matched_name",
        "score",
        "reasons",
        "programs",
    )
    detail = {key: message.get(key) for key in keys}
    score = float(message.get("score") or 0)
    title = (
        f"Screening: {message['subject_name']} ~ {message['matched_name']} "
        f"({message['list_name']} {message['entry_id']}, {score:.2f})"
    )
    return AlertIn(
        source=AlertSource.SCREENING,
        source_ref=f"hit:{message['hit_id']}",
        account_id=message["account_id"],
        kind="sanctions_screening",
        title=title[:256],
        severity=max(0, min(100, round(score * 100))),
        typology="sanctions_screening",
        reason="; ".join(str(r) for r in message.get("reasons") or [])[:1000],
        detail=detail,
        occurred_at=_instant(message.get("occurred_at") or message.get("created_at")),
        queue_key="screening",
    )


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _with_hold_ids(session: Session, alerts: list[AlertIn]) -> list[AlertIn]:
    """Monitor alerts about a held withdrawal (the event's first row) name the hold."""
    rows = [
        a
        for a in alerts
        if a.source is AlertSource.MONITOR
        and a.detail.get("event_type") == "withdrawal.requested"
        and a.detail.get("row") == 0
        and "hold_id" not in a.detail
    ]
    if rows:
        held = monitor_repo.hold_ids(session, {a.detail["event_id"] for a in rows})
        for alert in rows:
            if (hold_id := held.get(alert.detail["event_id"])) is not None:
                alert.detail["hold_id"] = hold_id
    return alerts


def monitor_alert_in(ref: str, row: Mapping[str, Any]) -> AlertIn:
    """The case alert of a monitor alert row (an ``ALERT_RAISED`` message)."""
    detail: dict[str, Any] = {
        "rule_id": row["rule_id"],
        "rule_version": row["rule_version"],
        "rule_action": _action(row),
        "event_id": row["event_id"],
        "row": row["row"],
        "seq": row["seq"],
    }
    if row.get("event_type"):
        detail["event_type"] = row["event_type"]
    if row.get("hold_id") is not None:
        detail["hold_id"] = row["hold_id"]
    for key in _GROUP_KEYS:  # a cluster's alert: the group, its accounts, what grew it
        if row.get(key) is not None:
            detail[key] = row[key]
    usd = row.get("usd_value")
    return AlertIn(
        source=AlertSource.MONITOR,
        source_ref=ref,
        account_id=row["account_id"],
        kind=row["rule_id"],
        title=f"{row['rule_id']}: {row['reason']}"[:256],
        severity=int(row["score"]),
        typology=row.get("typology"),
        amount_usd=Decimal(usd) if usd is not None else Decimal(0),
        reason=row["reason"],
        detail=detail,
        occurred_at=row.get("occurred_at") or row.get("created_at"),
    )


# What a grouped alert (``riskops.links``' cluster alerts) carries beyond a rule hit's facts.
_GROUP_KEYS = (
    "group_key",
    "cluster_id",
    "cluster_size",
    "accounts",
    "trigger_account_id",
    "trigger_event_id",
)


def _group_of(alert: AlertIn) -> str | None:
    key = alert.detail.get("group_key")
    return key if isinstance(key, str) and key else None


def _monitor_ref(row: Mapping[str, Any]) -> str:
    if row.get("id") is not None:
        return str(row["id"])
    return f"{row['rule_id']}:{row['event_id']}:{row['row']}"


def _action(row: Mapping[str, Any]) -> str:
    return str(getattr(row["action"], "value", row["action"]))


# --- internals ------------------------------------------------------------------------


def _validate(alert: AlertIn) -> None:
    problems = alert_problems(
        source_ref=alert.source_ref,
        kind=alert.kind,
        title=alert.title,
        severity=alert.severity,
        amount_usd=alert.amount_usd,
        account_id=alert.account_id,
        occurred_at=alert.occurred_at,
    )
    if problems:
        raise ValidationFailed("invalid alert", details=problems)


def _valid(alert: AlertIn, refused: str) -> bool:
    """Whether ``alert`` is valid; one that is not is logged as ``refused``, so a delivery
    leaves it out instead of failing on it."""
    try:
        _validate(alert)
    except ValidationFailed as exc:
        log.error(refused, ref=alert.source_ref, problems=exc.details)
        return False
    return True


def _queues(session: Session, keys: Collection[str]) -> dict[str, Queue]:
    queues = repo.queues_by_key(session, keys)
    if len(queues) < len(set(keys)):
        ensure_default_queues(session)
        queues = repo.queues_by_key(session, keys)
    for key in keys:
        if key not in queues:
            raise ValidationFailed(
                "unknown queue", details=[{"field": "$.queue_key", "reason": f"no queue {key!r}"}]
            )
    return queues


def _cases_of(session: Session, alerts: Iterable[CaseAlert]) -> dict[int, Case]:
    return repo.cases_by_ids(session, {a.case_id for a in alerts if a.case_id is not None})


def _stored(alert: CaseAlert, cases: dict[int, Case]) -> IntakeResult:
    case = cases.get(alert.case_id) if alert.case_id is not None else None
    if case is None:  # pragma: no cover - every stored alert has a case
        raise Conflict(f"alert {alert.id} has no case")
    return IntakeResult(alert, case, False, False)


def _route(alert: AlertIn) -> str:
    return alert.queue_key or route(
        source=alert.source.value,
        account_id=alert.account_id,
        kind=alert.kind,
        typology=alert.typology,
        detail=dict(alert.detail),
    )


@dataclass(slots=True)
class _Member:
    """An original (not duplicate) alert of a case, as far as grouping cares; ``row`` is set
    for an alert of this batch, whose id is known only once it is inserted."""

    id: int | None
    kind: str
    subject: str | None
    row: CaseAlert | None = None

    @property
    def alert_id(self) -> int | None:
        return self.id if self.row is None else self.row.id


@dataclass(slots=True)
class _Placed:
    """A new alert row, its case and, for a duplicate, the alert it duplicates."""

    row: CaseAlert
    case: Case
    original: _Member | None


@dataclass(slots=True)
class _Event:
    """A case event, written once the ids of the cases and alerts are known."""

    case: Case
    kind: str
    row: CaseAlert
    to_status: CaseStatus | None = None
    reason: str = ""
    moved: tuple[str, str] | None = None  # (from, to) queue


class _Batch:
    """One attempt at taking in a batch of alerts, inside the caller's savepoint.

    Reads what grouping needs up front (the queues, the open cases of the batch's accounts,
    locked, and their original alerts), groups every alert in memory in arrival order,
    exactly as one ``raise_alert`` after the other would, then writes: new and changed
    cases in one flush, the alerts in one, the events in one INSERT.
    """

    def __init__(
        self, session: Session, now: datetime, stored: dict[tuple[AlertSource, str], CaseAlert]
    ) -> None:
        self.session = session
        self.now = now
        self.stored = stored
        self.open: dict[str, Case] = {}
        self.grouped: dict[str, Case] = {}  # group_key -> its open case
        self.queues: dict[str, Queue] = {}
        self.members: dict[Case, list[_Member]] = {}
        self.new_cases: list[Case] = []
        self.placed: list[_Placed] = []
        self.events: list[_Event] = []

    def run(self, alerts: Sequence[AlertIn]) -> list[IntakeResult]:
        fresh = [a for a in alerts if (a.source, a.source_ref) not in self.stored]
        keys = [_route(a) for a in fresh]
        self.queues = _queues(self.session, keys)
        accounts = {a.account_id for a in fresh if a.account_id is not None}
        self.open = repo.open_cases_of(self.session, accounts, for_update=True)
        groups = {g for a in fresh if (g := _group_of(a)) is not None}
        self.grouped = repo.open_cases_of_groups(self.session, groups, for_update=True)
        known = [*self.open.values(), *self.grouped.values()]
        self.queues.update(_queues(self.session, [c.queue_key for c in known]))
        by_id = {c.id: c for c in known}
        for case_id, alert_id, kind, detail in repo.grouping_facts(self.session, list(by_id)):
            member = _Member(alert_id, kind, subject_of(detail))
            self.members.setdefault(by_id[case_id], []).append(member)
        cases = _cases_of(self.session, self.stored.values())
        taken: dict[tuple[AlertSource, str], IntakeResult] = {}
        queue_of = dict(zip((id(a) for a in fresh), keys, strict=True))
        results = []
        for alert in alerts:
            ref = (alert.source, alert.source_ref)
            if ref in self.stored:
                results.append(_stored(self.stored[ref], cases))
            elif ref in taken:  # the same alert twice in one batch: the second is a replay
                results.append(IntakeResult(taken[ref].alert, taken[ref].case, False, False))
            else:
                taken[ref] = self._take(alert, self.queues[queue_of[id(alert)]])
                results.append(taken[ref])
        self._write()
        return results

    def _take(self, alert: AlertIn, queue: Queue) -> IntakeResult:
        row = _alert_row(alert, self.now)
        group = _group_of(alert)
        case = self.grouped.get(group) if group is not None else None
        if case is None and alert.account_id is not None:
            case = self.open.get(alert.account_id)
        if group is not None and case is not None:
            self.grouped.setdefault(group, case)
        if case is None:
            case = _new_case(row, queue, self.now)
            self.new_cases.append(case)
            if alert.account_id is not None:
                self.open[alert.account_id] = case
            if group is not None:
                self.grouped[group] = case
            self.members[case] = [_Member(None, row.kind, subject_of(row.detail), row)]
            self.placed.append(_Placed(row, case, None))
            self.events.append(_Event(case, "opened", row, to_status=CaseStatus.NEW))
            return IntakeResult(row, case, True, True)
        self._join(case, row, queue)
        return IntakeResult(row, case, True, False)

    def _join(self, case: Case, row: CaseAlert, queue: Queue) -> None:
        members = self.members.setdefault(case, [])
        subject = subject_of(row.detail)
        original = None
        if subject is not None:
            original = next(
                (m for m in members if m.kind == row.kind and m.subject == subject), None
            )
        self.placed.append(_Placed(row, case, original))
        if original is not None:
            self.events.append(_Event(case, "duplicate_merged", row))
            return
        case.alert_count += 1
        case.severity = max(case.severity, row.severity)
        # Money at risk counts each subject once: two rules on one withdrawal are one amount.
        if subject is None or all(m.subject != subject for m in members):
            case.amount_at_risk_usd = case.amount_at_risk_usd + row.amount_usd
        members.append(_Member(None, row.kind, subject, row))
        case.typology = case.typology or row.typology
        self.events.append(_Event(case, "alert_added", row))
        current = self.queues[case.queue_key]
        if queue.sla_minutes < current.sla_minutes:
            due = min(case.due_at, self.now + timedelta(minutes=queue.sla_minutes))
            moved = (current.key, queue.key)
            self.events.append(
                _Event(case, "moved_queue", row, reason="shorter SLA alert", moved=moved)
            )
            case.queue_key, case.due_at, current = queue.key, due, queue
        case.priority = priority(case.severity, case.amount_at_risk_usd, current.sla_minutes)
        case.updated_at = self.now
        case.version += 1

    def _write(self) -> None:
        # The new cases, and the changes to the open ones, in one flush.
        repo.add_all(self.session, self.new_cases)
        # The alerts in arrival order (so their ids are too), in one flush; a duplicate of
        # an alert of this batch waits for that alert's id.
        pending: list[CaseAlert] = []
        for placed in self.placed:
            placed.row.case_id = placed.case.id
            if placed.original is not None:
                if placed.original.alert_id is None:
                    repo.add_all(self.session, pending)
                    pending = []
                placed.row.duplicate_of = placed.original.alert_id
            pending.append(placed.row)
        repo.add_all(self.session, pending)
        repo.insert_events(self.session, [self._event_row(e) for e in self.events])

    def _event_row(self, event: _Event) -> dict[str, Any]:
        row = event.row
        if event.moved is not None:
            detail = {"from": event.moved[0], "to": event.moved[1], "alert_id": row.id}
        elif row.duplicate_of is not None:
            detail = {**_facts(row), "duplicate_of": row.duplicate_of}
        else:
            detail = _facts(row)
        return {
            "case_id": event.case.id,
            "at": self.now,
            "actor": ACTOR,
            "kind": event.kind,
            "from_status": None,
            "to_status": event.to_status.value if event.to_status else None,
            "reason": event.reason,
            "detail": detail,
        }


def _alert_row(alert: AlertIn, now: datetime) -> CaseAlert:
    return CaseAlert(
        source=alert.source,
        source_ref=alert.source_ref,
        account_id=alert.account_id,
        kind=alert.kind,
        typology=alert.typology,
        severity=alert.severity,
        amount_usd=alert.amount_usd,
        title=alert.title[:256],
        reason=alert.reason,
        detail=dict(alert.detail),
        occurred_at=alert.occurred_at or now,
        received_at=now,
        case_id=None,
        duplicate_of=None,  # every row names every column: one multi-row INSERT
    )


def _new_case(row: CaseAlert, queue: Queue, now: datetime) -> Case:
    return Case(
        account_id=row.account_id,
        queue_key=queue.key,
        status=CaseStatus.NEW,
        title=row.title,
        typology=row.typology,
        severity=row.severity,
        amount_at_risk_usd=row.amount_usd,
        priority=priority(row.severity, row.amount_usd, queue.sla_minutes),
        alert_count=1,
        opened_at=now,
        due_at=now + timedelta(minutes=queue.sla_minutes),
        updated_at=now,
        version=1,
    )


def _facts(row: CaseAlert) -> dict[str, Any]:
    return {
        "alert_id": row.id,
        "source": row.source.value,
        "kind": row.kind,
        "severity": row.severity,
        "amount_usd": str(row.amount_usd),
    }
