"""The trend charts of /reports and GET /v1/reports/<chart>, read from the daily rollups only.

Each chart is labels (days, or rules) and series, the same numbers drawn, tabled and
exported as CSV. Filters: the period (``since`` .. ``until``, inclusive UTC days), queue,
rule and typology; a chart whose metric lacks a dimension ignores that filter and says so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.errors import NotFound, ValidationFailed
from riskops.qa import repository as qa
from riskops.reports import repository as repo
from riskops.reports import rollups as r
from riskops.reports.repository import Filters
from riskops.reports.rollups import AGE_BUCKETS, day_start
from riskops.reports.schemas import Chart, Cluster, Series

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_TEXT = 64
TOP_SERIES = 8  # lines beyond these are summed into "other"


def parse_filters(params: Mapping[str, str | None], today: date) -> Filters:
    """Filters from query parameters; the default period is the last 30 days to ``today``.
    Raises ``ValidationFailed`` with a reason per bad field."""
    problems: list[dict[str, str]] = []

    def day(name: str, default: date) -> date:
        raw = (params.get(name) or "").strip()
        if not raw:
            return default
        try:
            return date.fromisoformat(raw)
        except ValueError:
            problems.append({"field": name, "reason": "not a date (YYYY-MM-DD)"})
            return default

    def text(name: str) -> str | None:
        raw = (params.get(name) or "").strip()
        if len(raw) > MAX_TEXT:
            problems.append({"field": name, "reason": f"longer than {MAX_TEXT} characters"})
            return None
        return raw or None

    until = day("until", today)
    since = day("since", until - timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        problems.append({"field": "since", "reason": "after until"})
    elif (until - since).days + 1 > MAX_DAYS:
        problems.append({"field": "since", "reason": f"the period is longer than {MAX_DAYS} days"})
    filters = Filters(since, until, text("queue"), text("rule"), text("typology"))
    if problems:
        raise ValidationFailed("bad report filters", details=problems)
    return filters


def _days(f: Filters) -> list[date]:
    return [f.since + timedelta(days=i) for i in range((f.until - f.since).days + 1)]


def _by_day_series(
    rows: list[tuple[object, ...]], days: list[date], *, value: int = -2, scale: float = 1.0
) -> tuple[list[str], list[Series]]:
    """Rows of (day, key, n, cents) into one series per key (top keys, the rest summed)."""
    totals: dict[str, float] = {}
    cells: dict[tuple[str, date], float] = {}
    for row in rows:
        d, key = row[0], str(row[1])
        assert isinstance(d, date)
        amount = float(row[value]) * scale  # type: ignore[arg-type]
        totals[key] = totals.get(key, 0.0) + amount
        cells[(key, d)] = cells.get((key, d), 0.0) + amount
    keys = sorted(totals, key=lambda k: (-totals[k], k))
    top, rest = keys[:TOP_SERIES], keys[TOP_SERIES:]
    series = [Series(k, [cells.get((k, d), 0.0) for d in days]) for k in top]
    if rest:
        series.append(Series("other", [sum(cells.get((k, d), 0.0) for k in rest) for d in days]))
    return [d.isoformat() for d in days], series


def _chart(f: Filters, **kwargs: object) -> Chart:
    return Chart(since=f.since.isoformat(), until=f.until.isoformat(), **kwargs)  # type: ignore[arg-type]


def _ignored(f: Filters, names: tuple[str, ...]) -> str:
    used = [n for n in names if getattr(f, n)]
    return f"(not broken down by {', '.join(used)}: filter ignored)" if used else ""


def alerts_chart(session: Session, f: Filters) -> Chart:
    days = _days(f)
    rows = repo.daily(session, r.ALERTS, f, ("day", "rule"), use=("rule", "typology"))
    labels, series = _by_day_series(rows, days)
    return _chart(
        f,
        id="alerts",
        title="Alert volume per rule per day",
        kind="line",
        x="day",
        labels=labels,
        series=series,
        unit="count",
        note=_ignored(f, ("queue",)),
    )


def rule_rates_chart(session: Session, f: Filters) -> Chart:
    events = sum(row[-2] for row in repo.daily(session, r.EVENTS, f, (), use=()))
    alerts = {
        row[0]: row[1]
        for row in repo.daily(session, r.ALERTS, f, ("rule",), use=("rule", "typology"))
    }
    outcomes: dict[str, dict[str, int]] = {}
    for rule, verdict, n, _ in repo.daily(session, r.RULE_OUTCOME, f, ("rule", "bucket")):
        outcomes.setdefault(rule, {})[verdict] = n
    rules = sorted(set(alerts) | set(outcomes))
    hit = [100.0 * alerts.get(k, 0) / events if events else None for k in rules]
    tp: list[float | None] = []
    for k in rules:
        o = outcomes.get(k, {})
        decided = o.get("tp", 0) + o.get("fp", 0)
        tp.append(100.0 * o.get("tp", 0) / decided if decided else None)
    return _chart(
        f,
        id="rule-rates",
        title="Hit rate and true-positive rate per rule",
        kind="bars",
        x="rule",
        labels=rules,
        series=[
            Series("hit rate % (alerts / events)", hit),
            Series("true positives % (of closed cases)", tp),
        ],
        unit="percent",
        note=(
            f"{events:,} events in the period. True positive: restricted, offboarded or "
            "SAR referred; false positive: dismissed; resolved cases count for neither."
        ),
    )


def holds_chart(session: Session, f: Filters) -> Chart:
    days = _days(f)
    held = {row[0]: row[-1] for row in repo.daily(session, r.HELD, f, ("day",), use=())}
    rejected = {row[0]: row[-1] for row in repo.daily(session, r.REJECTED, f, ("day",), use=())}
    total = sum(rejected.values()) / 100
    return _chart(
        f,
        id="holds",
        title="Held withdrawals and loss prevented (USD per day)",
        kind="bars",
        x="day",
        labels=[d.isoformat() for d in days],
        series=[
            Series("held USD", [held.get(d, 0) / 100 for d in days]),
            Series("loss prevented USD (rejected)", [rejected.get(d, 0) / 100 for d in days]),
        ],
        unit="usd",
        note=f"Loss prevented in the period: {total:,.2f} USD. "
        + _ignored(f, ("queue", "rule", "typology")),
    )


def backlog_chart(session: Session, f: Filters) -> Chart:
    days = _days(f)
    cells = {
        (row[0], row[1]): row[2]
        for row in repo.daily(session, r.BACKLOG, f, ("day", "bucket"), use=("queue", "typology"))
    }
    breached = {
        row[0]: row[1]
        for row in repo.daily(session, r.BREACHED, f, ("day",), use=("queue", "typology"))
    }
    series = [
        Series(f"open {name}", [float(cells.get((d, name), 0)) for d in days])
        for name, _ in AGE_BUCKETS
    ]
    series.append(Series("past SLA", [float(breached.get(d, 0)) for d in days]))
    return _chart(
        f,
        id="backlog",
        title="Backlog at each day's end, by age; SLA breaches",
        kind="stacked",
        x="day",
        labels=[d.isoformat() for d in days],
        series=series,
        unit="count",
        note="Open cases at the end of each day (today: now), stacked by age; "
        "'past SLA' is how many of them were past their deadline. " + _ignored(f, ("rule",)),
    )


def throughput_chart(session: Session, f: Filters) -> Chart:
    days = _days(f)
    rows = repo.daily(session, r.CLOSED, f, ("day", "analyst"), use=("queue", "typology"))
    labels, series = _by_day_series([(d, a or "(unassigned)", n, c) for d, a, n, c in rows], days)
    return _chart(
        f,
        id="throughput",
        title="Cases closed per analyst per day",
        kind="line",
        x="day",
        labels=labels,
        series=series,
        unit="count",
        note=_ignored(f, ("rule",)),
    )


def qa_chart(session: Session, f: Filters) -> Chart:
    rows = qa.agreement(
        session, day_start(f.since), day_start(f.until + timedelta(days=1)), by="analyst"
    )
    return _chart(
        f,
        id="qa",
        title="QA agreement per analyst (second review)",
        kind="bars",
        x="analyst",
        labels=[row.key for row in rows],
        series=[
            Series("reviewed", [float(row.reviewed) for row in rows]),
            Series(
                "agreement %",
                [None if row.agreement_rate is None else 100 * row.agreement_rate for row in rows],
            ),
            Series("Cohen's kappa", [row.kappa for row in rows]),
        ],
        unit="mixed",
        note="From the QA second reviews done in the period (riskops.qa). "
        + _ignored(f, ("queue", "rule", "typology")),
    )


CHARTS: dict[str, Callable[[Session, Filters], Chart]] = {
    "alerts": alerts_chart,
    "rule-rates": rule_rates_chart,
    "holds": holds_chart,
    "backlog": backlog_chart,
    "throughput": throughput_chart,
    "qa": qa_chart,
}


def chart(session: Session, reader: Principal, name: str, f: Filters) -> Chart:
    """One chart within the filters. Needs ``report:view``."""
    require(reader, Permission.REPORT_VIEW)
    if name not in CHARTS:
        raise NotFound(f"no chart {name!r}", details=[{"field": "chart", "reason": "unknown"}])
    return CHARTS[name](session, f)


def all_charts(session: Session, reader: Principal, f: Filters) -> list[Chart]:
    """Every chart of the page. Needs ``report:view``."""
    require(reader, Permission.REPORT_VIEW)
    return [build(session, f) for build in CHARTS.values()]


def emerging_clusters(
    session: Session, reader: Principal, f: Filters, limit: int = 10
) -> list[Cluster]:
    """The largest clusters of linked accounts formed in the period. Needs ``report:view``."""
    require(reader, Permission.REPORT_VIEW)
    return [
        Cluster(cluster_id, size, formed.isoformat())
        for cluster_id, size, formed in repo.clusters_formed(
            session, day_start(f.since), day_start(f.until + timedelta(days=1)), limit
        )
    ]


def options(session: Session, reader: Principal, f: Filters) -> dict[str, list[str]]:
    """The values the filters offer within the period. Needs ``report:view``."""
    require(reader, Permission.REPORT_VIEW)
    return repo.choices(session, f)


def latest_day(session: Session, now: datetime) -> date:
    """The day the default period ends: today."""
    return now.date()


def to_csv(c: Chart) -> str:
    """The chart as CSV: a row per label, a column per series (what the table shows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.x, *(_cell(s.name) for s in c.series)])
    for i, label in enumerate(c.labels):
        writer.writerow(
            [_cell(label), *("" if s.values[i] is None else _number(s.values[i]) for s in c.series)]
        )
    return out.getvalue()


def _number(value: float | None) -> str:
    assert value is not None
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}".rstrip("0")


def _cell(text: str) -> str:
    # a cell a spreadsheet would run as a formula is quoted (CSV injection)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def has_data(session: Session, reader: Principal) -> bool:
    """Whether any rollup exists (the page's empty state says how to make them)."""
    require(reader, Permission.REPORT_VIEW)
    return repo.last_day(session) is not None
