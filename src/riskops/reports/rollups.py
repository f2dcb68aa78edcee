"""Daily rollups of the trend metrics, kept incrementally and rebuilt from scratch (ADR 0035).

Two kinds of source:

- append-only (monitor alerts, the event log): counted once each, by id, and *added* to the
  day's rows; the cursor remembers the last id counted;
- mutable (cases close, holds resolve): each pass recomputes every metric fed by them from
  the last pass's day (so its unfinished day, and every change since, is counted), or
  from the earliest day of a case or hold written since (by id: a backdated row restates
  history from its own day). Days before are kept: a case moved to another queue counts
  in its old queue's backlog for the days it spent there, until a rebuild restates all
  history with every case's current queue, typology and assignee.

``rebuild`` clears every row and rolls up all history with the same functions, so an
incremental pass and a rebuild agree (tests/reports/test_reports_rollups.py).

Metrics (``report_daily.metric``), their dimensions and ``bucket``:

- ``events``: events received (day);
- ``alerts``: live monitor alerts (day, rule, typology);
- ``opened``: cases opened (day, queue, typology);
- ``closed``: cases closed (day, queue, typology, analyst; bucket = outcome);
- ``closed_late``: cases closed after their SLA deadline (day, queue, typology);
- ``rule_outcome``: closed cases holding a rule's alert (day, rule, queue, typology;
  bucket = ``tp`` for restricted, offboarded, SAR referred; ``fp`` for dismissed);
- ``held``: withdrawals held, and their USD (day placed, whatever became of them);
- ``rejected``: held withdrawals rejected, the loss prevented in USD (day resolved);
- ``backlog``: cases open at the day's end (now, today) (queue, typology; bucket = age);
- ``breached``: of those, past their SLA deadline (queue, typology).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from riskops.cases.models import CaseOutcome
from riskops.monitor.models import HoldStatus
from riskops.reports import repository as repo
from riskops.reports.repository import CaseRow, HoldRow, Key

EVENTS = "events"
ALERTS = "alerts"
OPENED = "opened"
CLOSED = "closed"
CLOSED_LATE = "closed_late"
RULE_OUTCOME = "rule_outcome"
HELD = "held"
REJECTED = "rejected"
BACKLOG = "backlog"
BREACHED = "breached"
MUTABLE = (OPENED, CLOSED, CLOSED_LATE, RULE_OUTCOME, HELD, REJECTED, BACKLOG, BREACHED)

TRUE_POSITIVE = frozenset(
    {CaseOutcome.RESTRICTED, CaseOutcome.OFFBOARDED, CaseOutcome.SAR_REFERRED}
)
FALSE_POSITIVE = frozenset({CaseOutcome.DISMISSED})
# Age of an open case at the snapshot, oldest bucket last.
AGE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("<1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    (">7d", timedelta.max),
)
# A change committed a little after the last pass read may carry an earlier timestamp: the
# pass recomputes from the day of this long before its previous run.
OVERLAP = timedelta(minutes=5)

Counts = dict[Key, tuple[int, int]]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def age_bucket(age: timedelta) -> str:
    for name, limit in AGE_BUCKETS:
        if age < limit:
            return name
    return AGE_BUCKETS[-1][0]


def cents(usd: Decimal) -> int:
    return int((usd * 100).to_integral_value())


class _Tally:
    def __init__(self) -> None:
        self.rows: defaultdict[Key, list[int]] = defaultdict(lambda: [0, 0])

    def add(
        self,
        day: date,
        metric: str,
        *,
        rule: str = "",
        queue: str = "",
        typology: str = "",
        analyst: str = "",
        bucket: str = "",
        usd_cents: int = 0,
    ) -> None:
        row = self.rows[(day, metric, rule, queue, typology, analyst, bucket)]
        row[0] += 1
        row[1] += usd_cents

    def counts(self) -> Counts:
        return {k: (v[0], v[1]) for k, v in self.rows.items()}


def mutable_counts(
    cases: Iterable[CaseRow],
    rules_of: dict[int, set[str]],
    holds: Iterable[HoldRow],
    start: date,
    now: datetime,
) -> Counts:
    """Every mutable metric's rows from day ``start`` to ``now``'s day, from the cases and
    holds that reach into that span. Pure: the rollup's arithmetic, tested on its own."""
    tally = _Tally()
    today = now.date()
    for c in cases:
        if c.opened_at > now:
            continue
        opened = c.opened_at.date()
        if opened >= start:
            tally.add(opened, OPENED, queue=c.queue, typology=c.typology)
        closed = c.closed_at if c.closed_at is not None and c.closed_at <= now else None
        if closed is not None and closed.date() >= start:
            day = closed.date()
            outcome = c.outcome.value if c.outcome is not None else ""
            tally.add(
                day, CLOSED, queue=c.queue, typology=c.typology, analyst=c.analyst, bucket=outcome
            )
            if closed > c.due_at:
                tally.add(day, CLOSED_LATE, queue=c.queue, typology=c.typology)
            verdict = (
                "tp"
                if c.outcome in TRUE_POSITIVE
                else "fp"
                if c.outcome in FALSE_POSITIVE
                else None
            )
            if verdict is not None:
                for rule in sorted(rules_of.get(c.id, ())):
                    tally.add(
                        day,
                        RULE_OUTCOME,
                        rule=rule,
                        queue=c.queue,
                        typology=c.typology,
                        bucket=verdict,
                    )
        day = max(opened, start)
        last = min(closed.date() if closed is not None else today, today)
        while day <= last:
            at = min(day_start(day + timedelta(days=1)), now)
            # open at the snapshot: opened before it (a case opened at midnight is the next
            # day's), not closed by it
            if c.opened_at < at and (closed is None or closed > at):
                tally.add(
                    day,
                    BACKLOG,
                    queue=c.queue,
                    typology=c.typology,
                    bucket=age_bucket(at - c.opened_at),
                )
                if c.due_at < at:
                    tally.add(day, BREACHED, queue=c.queue, typology=c.typology)
            day += timedelta(days=1)
    for h in holds:
        if h.created_at <= now and h.created_at.date() >= start:
            tally.add(h.created_at.date(), HELD, usd_cents=cents(h.usd))
        resolved = h.resolved_at
        if (
            h.status is HoldStatus.REJECTED
            and resolved is not None
            and resolved <= now
            and resolved.date() >= start
        ):
            tally.add(resolved.date(), REJECTED, usd_cents=cents(h.usd))
    return tally.counts()


@dataclass(frozen=True)
class Rolled:
    """What a pass did."""

    alerts: int
    events: int
    from_day: date | None  # the first day the mutable metrics were recomputed from
    rebuilt: bool = False


def _append_only(session: Session, after_alert: int, after_seq: int) -> tuple[int, int, int, int]:
    upto_alert = repo.last_alert_id(session)
    upto_seq = repo.last_event_seq(session)
    tally: Counts = {}
    alerts = events = 0
    if upto_alert > after_alert:
        for day, rule, typology, n in repo.alert_counts(session, after_alert, upto_alert):
            tally[(day, ALERTS, rule, "", typology, "", "")] = (n, 0)
            alerts += n
    if upto_seq > after_seq:
        for day, n in repo.event_counts(session, after_seq, upto_seq):
            tally[(day, EVENTS, "", "", "", "", "")] = (n, 0)
            events += n
    repo.add_daily(session, tally)
    return upto_alert, upto_seq, alerts, events


def _recompute(session: Session, start: date, now: datetime) -> None:
    at = day_start(start)
    counts = mutable_counts(
        repo.cases_since(session, at),
        repo.case_rules(session, at),
        repo.holds_since(session, at),
        start,
        now,
    )
    repo.replace_daily(session, MUTABLE, start, counts)


def rebuild(session: Session, now: datetime) -> Rolled:
    """Clear every rollup row and roll up all history (``riskops reports rebuild``)."""
    repo.clear_daily(session)
    upto_alert, upto_seq, alerts, events = _append_only(session, 0, 0)
    upto_case, upto_hold = repo.last_ids(session)
    first = repo.earliest_source(session)
    start = first.date() if first is not None else now.date()
    _recompute(session, start, now)
    repo.save_cursor(session, upto_alert, upto_seq, upto_case, upto_hold, now)
    repo.analyze(session)
    return Rolled(alerts, events, start, rebuilt=True)


def roll_up(session: Session, now: datetime) -> Rolled:
    """One incremental pass (one transaction; the composition schedules it): add the alerts
    and events since the cursor; recompute the mutable metrics from the last pass's day,
    or from the earliest day of a case or hold written since (a backdated row restates
    history from its own day). The first pass ever is a rebuild."""
    cursor = repo.cursor(session)
    if cursor is None:
        return rebuild(session, now)
    upto_alert, upto_seq, alerts, events = _append_only(session, cursor.alert_id, cursor.event_seq)
    upto_case, upto_hold = repo.last_ids(session)
    start = (cursor.passed_at - OVERLAP).date()
    new = repo.earliest_new(session, cursor.case_id, cursor.hold_id)
    if new is not None:
        start = min(start, new.date())
    start = min(start, now.date())
    _recompute(session, start, now)
    repo.save_cursor(session, upto_alert, upto_seq, upto_case, upto_hold, now)
    return Rolled(alerts, events, start)
