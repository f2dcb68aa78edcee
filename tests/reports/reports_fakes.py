"""Builders for the reports tests: a history of alerts, events, cases and holds written
straight into the tables (the rollups read tables, not services), and a direct count of
what each rollup metric should hold."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.auth.permissions import Role
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseOutcome, CaseStatus, Queue
from riskops.events.models import EventRecord
from riskops.monitor.models import Alert, DecisionOutcome, Hold, HoldStatus
from riskops.reports.models import ReportDaily

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
QUEUES = ("aml", "ato")
RULES = ("R-1", "R-2", "R-3")
TYPOLOGIES = ("mule", "structuring")
ANALYSTS = ("ana", "bo")


@dataclass
class CaseSpec:
    queue: str
    typology: str
    opened: datetime
    due_hours: int
    closed: datetime | None = None
    outcome: CaseOutcome | None = None
    analyst: str | None = None
    rules: tuple[str, ...] = ()
    tag: str = ""  # the case's title: how a later step finds it


@dataclass
class HoldSpec:
    created: datetime
    usd: Decimal
    status: HoldStatus = HoldStatus.HELD
    resolved: datetime | None = None
    tag: str = ""  # the hold's event id


@dataclass
class History:
    alerts: list[tuple[datetime, str, str, bool]] = field(
        default_factory=list
    )  # at, rule, typ, shadow
    events: list[datetime] = field(default_factory=list)
    cases: list[CaseSpec] = field(default_factory=list)
    holds: list[HoldSpec] = field(default_factory=list)


def base(session: Session) -> None:
    """The queues and analysts every history refers to."""
    for key in QUEUES:
        session.add(Queue(key=key, name=key.upper(), description="", sla_minutes=60, position=0))
    for name in ANALYSTS:
        session.add(
            User(
                username=name,
                display_name=name,
                email=f"{name}@example.test",
                role=Role.ANALYST,
                password_hash="x",
                active=True,
                failed_logins=0,
                created_at=T0,
            )
        )
    session.flush()


_seq = 0


def write(session: Session, history: History) -> None:
    """Write the history's rows (in the caller's transaction)."""
    global _seq
    users = {u: i for u, i in session.execute(select(User.username, User.id))}
    for at, rule, typology, shadow in history.alerts:
        _seq += 1
        # the alert's event happened at ``at``, reached riskops later and was monitored
        # later still: the alert counts on the day its event happened
        event = EventRecord(
            event_id=f"ae{_seq}",
            type="deposit",
            account_id="acc",
            occurred_at=at,
            received_at=at + timedelta(hours=30),
            source="api",
            source_name=None,
            source_row=None,
            payload="{}",
        )
        session.add(event)
        session.flush()
        session.add(
            Alert(
                rule_id=rule,
                rule_version=1,
                typology=typology,
                event_id=f"e{_seq}",
                row=0,
                account_id="acc",
                seq=event.seq,
                action=DecisionOutcome.REVIEW,
                score=50,
                reason="",
                shadow=shadow,
                created_at=at + timedelta(hours=31),
            )
        )
    for at in history.events:
        _seq += 1
        session.add(
            EventRecord(
                event_id=f"ev{_seq}",
                type="deposit",
                account_id="acc",
                occurred_at=at,
                received_at=at,
                source="api",
                source_name=None,
                source_row=None,
                payload="{}",
            )
        )
    for spec in history.cases:
        _seq += 1
        case = Case(
            account_id=f"acc{_seq}",
            queue_key=spec.queue,
            status=CaseStatus.CLOSED if spec.closed else CaseStatus.NEW,
            title=spec.tag or f"c{_seq}",
            typology=spec.typology,
            severity=50,
            amount_at_risk_usd=Decimal("0"),
            priority=1,
            assignee_id=users.get(spec.analyst) if spec.analyst else None,
            alert_count=len(spec.rules),
            opened_at=spec.opened,
            due_at=spec.opened + timedelta(hours=spec.due_hours),
            updated_at=spec.closed or spec.opened,
            closed_at=spec.closed,
            outcome=spec.outcome,
        )
        session.add(case)
        session.flush()
        for i, rule in enumerate(spec.rules):
            session.add(
                CaseAlert(
                    source=AlertSource.MONITOR,
                    source_ref=f"{case.id}-{i}",
                    case_id=case.id,
                    account_id=case.account_id,
                    kind=rule,
                    typology=spec.typology,
                    severity=50,
                    amount_usd=Decimal("1"),
                    title="t",
                    reason="",
                    detail={},
                    occurred_at=spec.opened,
                    received_at=spec.opened,
                )
            )
    for h in history.holds:
        _seq += 1
        session.add(
            Hold(
                event_id=h.tag or f"h{_seq}",
                account_id="acc",
                withdrawal_id=None,
                asset="BTC",
                amount=Decimal("1"),
                usd_value=h.usd,
                status=h.status,
                reasons=[],
                created_at=h.created,
                resolved_at=h.resolved,
            )
        )
    session.flush()


def as_of(history: History, t: datetime) -> History:
    """The history as it stood at ``t``: later rows absent, later closings not yet."""
    return History(
        alerts=[a for a in history.alerts if a[0] <= t],
        events=[e for e in history.events if e <= t],
        cases=[
            c
            if c.closed is None or c.closed <= t
            else replace(c, closed=None, outcome=None, analyst=None)
            for c in history.cases
            if c.opened <= t
        ],
        holds=[
            h
            if h.resolved is None or h.resolved <= t
            else replace(h, status=HoldStatus.HELD, resolved=None)
            for h in history.holds
            if h.created <= t
        ],
    )


def advance(session: Session, history: History, t: datetime) -> None:
    """Bring a database written with ``as_of(history, t)`` to the whole history: close the
    cases and resolve the holds that ended after ``t``, add the rows that came after it."""
    users = {u: i for u, i in session.execute(select(User.username, User.id))}
    later = History(
        alerts=[a for a in history.alerts if a[0] > t],
        events=[e for e in history.events if e > t],
    )
    write(session, later)
    for c in history.cases:
        if c.opened <= t and c.closed is not None and c.closed > t:
            case = session.scalars(select(Case).where(Case.title == c.tag)).one()
            case.status, case.closed_at, case.outcome = CaseStatus.CLOSED, c.closed, c.outcome
            case.updated_at = c.closed
            case.assignee_id = users.get(c.analyst) if c.analyst else None
    for h in history.holds:
        if h.created <= t and h.resolved is not None and h.resolved > t:
            hold = session.scalars(select(Hold).where(Hold.event_id == h.tag)).one()
            hold.status, hold.resolved_at = h.status, h.resolved
    write(
        session,
        History(
            cases=[c for c in history.cases if c.opened > t],
            holds=[h for h in history.holds if h.created > t],
        ),
    )


def stored(session: Session) -> Counter[tuple[object, ...]]:
    """Every rollup row, as a counter of (day, metric, dims..., bucket) -> (n, cents)."""
    found: Counter[tuple[object, ...]] = Counter()
    for r in session.scalars(select(ReportDaily)):
        if r.n or r.usd_cents:
            found[(r.day, r.metric, r.rule, r.queue, r.typology, r.analyst, r.bucket, "n")] += r.n
            found[(r.day, r.metric, r.rule, r.queue, r.typology, r.analyst, r.bucket, "c")] += (
                r.usd_cents
            )
    return +found


TP = {CaseOutcome.RESTRICTED, CaseOutcome.OFFBOARDED, CaseOutcome.SAR_REFERRED}


def direct(history: History, now: datetime) -> Counter[tuple[object, ...]]:
    """What the rollups must hold, counted the plain way over the history."""
    out: Counter[tuple[object, ...]] = Counter()

    def put(
        day: date,
        metric: str,
        rule: str = "",
        queue: str = "",
        typ: str = "",
        analyst: str = "",
        bucket: str = "",
        cents: int = 0,
    ) -> None:
        out[(day, metric, rule, queue, typ, analyst, bucket, "n")] += 1
        out[(day, metric, rule, queue, typ, analyst, bucket, "c")] += cents

    for at, rule, typology, shadow in history.alerts:
        if not shadow:
            put(at.date(), "alerts", rule=rule, typ=typology)
    for at in history.events + [a[0] for a in history.alerts]:
        put(at.date(), "events")  # every alert's event is in the log too
    first = min([c.opened for c in history.cases] + [h.created for h in history.holds], default=now)
    for c in history.cases:
        put(c.opened.date(), "opened", queue=c.queue, typ=c.typology)
        if c.closed is not None:
            assert c.outcome is not None
            put(
                c.closed.date(),
                "closed",
                queue=c.queue,
                typ=c.typology,
                analyst=c.analyst or "",
                bucket=c.outcome.value,
            )
            if c.closed > c.opened + timedelta(hours=c.due_hours):
                put(c.closed.date(), "closed_late", queue=c.queue, typ=c.typology)
            verdict = (
                "tp" if c.outcome in TP else "fp" if c.outcome is CaseOutcome.DISMISSED else None
            )
            if verdict:
                for rule in set(c.rules):
                    put(
                        c.closed.date(),
                        "rule_outcome",
                        rule=rule,
                        queue=c.queue,
                        typ=c.typology,
                        bucket=verdict,
                    )
        # the backlog snapshot at each day's end (now, for today)
        day = first.date()
        while day <= now.date():
            at = min(datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1), now)
            if c.opened < at and (c.closed is None or c.closed > at):
                age = at - c.opened
                bucket = (
                    "<1d"
                    if age < timedelta(days=1)
                    else "1-3d"
                    if age < timedelta(days=3)
                    else "3-7d"
                    if age < timedelta(days=7)
                    else ">7d"
                )
                put(day, "backlog", queue=c.queue, typ=c.typology, bucket=bucket)
                if c.opened + timedelta(hours=c.due_hours) < at:
                    put(day, "breached", queue=c.queue, typ=c.typology)
            day += timedelta(days=1)
    for h in history.holds:
        cents = int(h.usd * 100)
        put(h.created.date(), "held", cents=cents)
        if h.status is HoldStatus.REJECTED and h.resolved is not None:
            put(h.resolved.date(), "rejected", cents=cents)
    return +out
