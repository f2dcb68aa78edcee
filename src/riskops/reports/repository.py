"""Queries for reports (all SQL of the reports package lives here): the sources the rollups
read (alerts, events, cases, holds), the rollup rows themselves, and the cursor."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.auth.permissions import Role
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseOutcome, Queue
from riskops.events.models import EventRecord
from riskops.links.models import LinkCluster
from riskops.monitor.models import Alert, Hold, HoldStatus
from riskops.reports.detection import AlertRef
from riskops.reports.models import ReportCursor, ReportDaily, ReportSpike

CURSOR = "daily"


def alert_refs(session: Session) -> list[AlertRef]:
    """Every alert, reduced to what detection scoring needs."""
    rows = session.execute(
        select(
            Alert.rule_id,
            Alert.typology,
            Alert.event_id,
            Alert.account_id,
            Alert.shadow,
            Alert.opens_case,
        )
    )
    return [AlertRef(*row) for row in rows]


# ---- sources -------------------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in SQL."""
    if _is_postgres(session):
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps UTC text: 'YYYY-MM-DD HH:MM:SS...'


def as_day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def last_alert_id(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(Alert.id), 0))) or 0)


def last_event_seq(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(EventRecord.seq), 0))) or 0)


def alert_counts(session: Session, after_id: int, upto_id: int) -> list[tuple[date, str, str, int]]:
    """Live alerts with ``after_id < id <= upto_id``: (day, rule, typology, count). An
    alert's day is its event's (when the activity happened, as the event log says), or the
    day it was raised when the log no longer holds the event."""
    day = _day(session, func.coalesce(EventRecord.occurred_at, Alert.created_at))
    rows = session.execute(
        select(day, Alert.rule_id, Alert.typology, func.count())
        .select_from(Alert)
        .outerjoin(EventRecord, EventRecord.seq == Alert.seq)
        .where(Alert.id > after_id, Alert.id <= upto_id, Alert.shadow.is_(False))
        .group_by(day, Alert.rule_id, Alert.typology)
    )
    return [(as_day(d), rule, typology, int(n)) for d, rule, typology, n in rows]


def event_counts(session: Session, after_seq: int, upto_seq: int) -> list[tuple[date, int]]:
    """Events in the log with ``after_seq < seq <= upto_seq``, per day they happened."""
    day = _day(session, EventRecord.occurred_at)
    rows = session.execute(
        select(day, func.count())
        .where(EventRecord.seq > after_seq, EventRecord.seq <= upto_seq)
        .group_by(day)
    )
    return [(as_day(d), int(n)) for d, n in rows]


@dataclass(frozen=True)
class CaseRow:
    id: int
    queue: str
    typology: str
    analyst: str
    opened_at: datetime
    due_at: datetime
    closed_at: datetime | None
    outcome: CaseOutcome | None


@dataclass(frozen=True)
class HoldRow:
    status: HoldStatus
    usd: Decimal
    created_at: datetime
    resolved_at: datetime | None


def cases_since(session: Session, start: datetime) -> list[CaseRow]:
    """Cases open at or after ``start`` (closed after it, or still open)."""
    rows = session.execute(
        select(
            Case.id,
            Case.queue_key,
            Case.typology,
            User.username,
            Case.opened_at,
            Case.due_at,
            Case.closed_at,
            Case.outcome,
        )
        .outerjoin(User, User.id == Case.assignee_id)
        .where(or_(Case.closed_at.is_(None), Case.closed_at >= start))
    )
    return [
        CaseRow(i, q, t or "", a or "", opened, due, closed, outcome)
        for i, q, t, a, opened, due, closed, outcome in rows
    ]


def case_rules(session: Session, start: datetime) -> dict[int, set[str]]:
    """The monitor rules whose alerts are in each case closed at or after ``start``."""
    closed = select(Case.id).where(Case.closed_at >= start)
    rows = session.execute(
        select(CaseAlert.case_id, CaseAlert.kind)
        .where(CaseAlert.source == AlertSource.MONITOR, CaseAlert.case_id.in_(closed))
        .distinct()
    )
    found: dict[int, set[str]] = {}
    for case_id, kind in rows:
        if case_id is not None:
            found.setdefault(case_id, set()).add(kind)
    return found


def holds_since(session: Session, start: datetime) -> list[HoldRow]:
    """Holds placed or resolved at or after ``start``."""
    rows = session.execute(
        select(Hold.status, Hold.usd_value, Hold.created_at, Hold.resolved_at).where(
            or_(Hold.created_at >= start, Hold.resolved_at >= start)
        )
    )
    return [HoldRow(*row) for row in rows]


def last_ids(session: Session) -> tuple[int, int]:
    """The newest case id and hold id."""
    return (
        int(session.scalar(select(func.coalesce(func.max(Case.id), 0))) or 0),
        int(session.scalar(select(func.coalesce(func.max(Hold.id), 0))) or 0),
    )


def earliest_new(session: Session, after_case: int, after_hold: int) -> datetime | None:
    """The earliest opening of a case, or placing of a hold, written after the given ids
    (a new row may be backdated: it restates history from its own day)."""
    found = [
        t
        for t in (
            session.scalar(select(func.min(Case.opened_at)).where(Case.id > after_case)),
            session.scalar(select(func.min(Hold.created_at)).where(Hold.id > after_hold)),
        )
        if t is not None
    ]
    return min(found) if found else None


def earliest_source(session: Session) -> datetime | None:
    """The oldest case opening or hold: where a rebuild starts."""
    found = [
        t
        for t in (
            session.scalar(select(func.min(Case.opened_at))),
            session.scalar(select(func.min(Hold.created_at))),
        )
        if t is not None
    ]
    return min(found) if found else None


# ---- rollup rows ---------------------------------------------------------------------

Key = tuple[
    date, str, str, str, str, str, str
]  # day, metric, rule, queue, typology, analyst, bucket


def _insert(session: Session) -> Any:
    return (postgresql if _is_postgres(session) else sqlite).insert(ReportDaily)


def add_daily(session: Session, rows: dict[Key, tuple[int, int]]) -> None:
    """Add counts (and cents) to the rows (insert, or add to the stored numbers)."""
    if not rows:
        return
    stmt = _insert(session)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "metric", "rule", "queue", "typology", "analyst", "bucket"],
        set_={
            "n": ReportDaily.n + stmt.excluded.n,
            "usd_cents": ReportDaily.usd_cents + stmt.excluded.usd_cents,
        },
    )
    session.execute(stmt, _params(rows))


def replace_daily(
    session: Session, metrics: Iterable[str], start: date, rows: dict[Key, tuple[int, int]]
) -> None:
    """Replace ``metrics``' rows from day ``start`` on by ``rows``."""
    session.execute(
        delete(ReportDaily).where(ReportDaily.metric.in_(list(metrics)), ReportDaily.day >= start)
    )
    if rows:
        session.execute(insert(ReportDaily), _params(rows))


def clear_daily(session: Session) -> None:
    session.execute(delete(ReportDaily))


def analyze(session: Session) -> None:
    """Refresh the planner's statistics of the rollups after a rebuild (PostgreSQL)."""
    if _is_postgres(session):
        session.execute(text("ANALYZE report_daily"))


def _params(rows: dict[Key, tuple[int, int]]) -> list[dict[str, Any]]:
    # in (metric, day) order, so a chart's rows lie together on disk (its index scan reads
    # a few pages, not one page a row)
    ordered = sorted(rows.items(), key=lambda item: (item[0][1], item[0][0], item[0][2:]))
    return [
        {
            "day": k[0],
            "metric": k[1],
            "rule": k[2],
            "queue": k[3],
            "typology": k[4],
            "analyst": k[5],
            "bucket": k[6],
            "n": n,
            "usd_cents": cents,
        }
        for k, (n, cents) in ordered
    ]


def cursor(session: Session) -> ReportCursor | None:
    return session.get(ReportCursor, CURSOR)


def save_cursor(
    session: Session, alert_id: int, event_seq: int, case_id: int, hold_id: int, at: datetime
) -> None:
    row = session.get(ReportCursor, CURSOR)
    if row is None:
        row = ReportCursor(name=CURSOR)
        session.add(row)
    row.alert_id, row.event_seq, row.case_id, row.hold_id = alert_id, event_seq, case_id, hold_id
    row.passed_at = at
    session.flush()


@dataclass(frozen=True)
class Filters:
    """What the page filters on; ``None``: every value."""

    since: date
    until: date  # inclusive
    queue: str | None = None
    rule: str | None = None
    typology: str | None = None


def daily(
    session: Session,
    metric: str,
    filters: Filters,
    by: Sequence[str],
    *,
    use: Sequence[str] = ("queue", "rule", "typology"),
) -> list[tuple[Any, ...]]:
    """Sum of one metric's rows within the filters, grouped by ``by`` (column names among
    day, rule, queue, typology, analyst, bucket): rows of (*by, n, usd_cents). Only the
    dimensions in ``use`` are filtered (a metric without a queue ignores the queue filter)."""
    columns = [getattr(ReportDaily, name) for name in by]
    where = [
        ReportDaily.metric == metric,
        ReportDaily.day >= filters.since,
        ReportDaily.day <= filters.until,
    ]
    for name in use:
        value = getattr(filters, name)
        if value:
            where.append(getattr(ReportDaily, name) == value)
    stmt = (
        select(*columns, func.sum(ReportDaily.n), func.sum(ReportDaily.usd_cents))
        .where(and_(*where))
        .group_by(*columns)
        .order_by(*columns)
    )
    return [
        (
            *(as_day(v) if name == "day" else v for name, v in zip(by, row[:-2], strict=True)),
            int(row[-2] or 0),
            int(row[-1] or 0),
        )
        for row in session.execute(stmt)
    ]


def choices(session: Session, f: Filters) -> dict[str, list[str]]:
    """The queues, rules and typologies the period's rollups hold (the filters' options):
    read from the alert and case-opening rows of the period only (the metric-and-day
    index), never the whole table."""
    found: dict[str, list[str]] = {}
    for name, metrics in (
        ("queue", ("opened",)),
        ("rule", ("alerts",)),
        ("typology", ("alerts", "opened")),
    ):
        column = getattr(ReportDaily, name)
        found[name] = list(
            session.scalars(
                select(column)
                .where(
                    ReportDaily.metric.in_(metrics),
                    ReportDaily.day >= f.since,
                    ReportDaily.day <= f.until,
                    column != "",
                )
                .distinct()
                .order_by(column)
            )
        )
    return found


def last_day(session: Session) -> date | None:
    value = session.scalar(select(func.max(ReportDaily.day)))
    return None if value is None else as_day(value)


# ---- spikes --------------------------------------------------------------------------


def spike_seen(session: Session, day: date, metric: str, dimension: str, key: str) -> bool:
    return (
        session.scalar(
            select(ReportSpike.id).where(
                ReportSpike.day == day,
                ReportSpike.metric == metric,
                ReportSpike.dimension == dimension,
                ReportSpike.key == key,
            )
        )
        is not None
    )


def add_spike(session: Session, spike: ReportSpike) -> None:
    session.add(spike)
    session.flush()


def spikes_between(session: Session, since: date, until: date) -> list[ReportSpike]:
    return list(
        session.scalars(
            select(ReportSpike)
            .where(ReportSpike.day >= since, ReportSpike.day <= until)
            .order_by(ReportSpike.day, ReportSpike.id)
        )
    )


def manager_emails(session: Session) -> list[tuple[str, str]]:
    """(username, email) of each active manager with an email address."""
    rows = session.execute(
        select(User.username, User.email)
        .where(User.role == Role.MANAGER, User.active.is_(True), User.email.is_not(None))
        .order_by(User.username)
    )
    return [(u, e) for u, e in rows if e]


def clusters_formed(
    session: Session, since: datetime, until: datetime, limit: int
) -> list[tuple[str, int, datetime]]:
    """The largest clusters of linked accounts formed in [since, until)."""
    rows = session.execute(
        select(LinkCluster.cluster_id, LinkCluster.size, LinkCluster.formed_at)
        .where(LinkCluster.formed_at >= since, LinkCluster.formed_at < until)
        .order_by(LinkCluster.size.desc(), LinkCluster.cluster_id)
        .limit(limit)
    )
    return [(c, int(s), f) for c, s, f in rows]


def first_day(session: Session) -> date | None:
    """The first day the rollups hold."""
    value = session.scalar(select(func.min(ReportDaily.day)))
    return None if value is None else as_day(value)


def marker(session: Session, name: str) -> bool:
    """Whether a once-only job (a week's digest) is marked done."""
    return session.get(ReportCursor, name) is not None


def mark(session: Session, name: str, at: datetime) -> None:
    session.add(
        ReportCursor(name=name, alert_id=0, event_seq=0, case_id=0, hold_id=0, passed_at=at)
    )
    session.flush()


# ---- the demo's trend history (``reports.seed``) --------------------------------------


def seed_queues(session: Session) -> list[tuple[str, int]]:
    """(key, SLA minutes) of the active queues."""
    rows = session.execute(
        select(Queue.key, Queue.sla_minutes).where(Queue.active.is_(True)).order_by(Queue.position)
    )
    return [(k, int(m)) for k, m in rows]


def seed_analysts(session: Session) -> list[int]:
    """Ids of the active analysts and senior analysts."""
    return list(
        session.scalars(
            select(User.id)
            .where(User.active.is_(True), User.role.in_([Role.ANALYST, Role.SENIOR_ANALYST]))
            .order_by(User.id)
        )
    )


def seed_rules(session: Session, limit: int = 12) -> list[tuple[str, str]]:
    """(rule, typology) of the rules that raised live alerts that open cases (not
    shadow, not allow: the anomaly's signal opens none), the most alerting first."""
    rows = session.execute(
        select(Alert.rule_id, Alert.typology)
        .where(Alert.opens_case)
        .group_by(Alert.rule_id, Alert.typology)
        .order_by(func.count().desc(), Alert.rule_id)
        .limit(limit)
    )
    return [(r, t) for r, t in rows]
