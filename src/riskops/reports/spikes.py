"""Spikes in alert volumes and case outcomes, per rule and per typology (ADR 0035).

The method: a day's count is compared with the **same weekday** of the previous
``WEEKS`` weeks (so a Monday is judged against Mondays: weekly seasonality never spikes).
Baseline = the median of those counts; spread = 1.4826 × their median absolute deviation,
floored at sqrt(max(baseline, 1)) (the Poisson spread of a count, so a flat history of zeros
or a constant does not make every small rise infinite). Robust z = (count - baseline) /
spread. A spike: z ≥ ``Z``, count - baseline ≥ ``MIN_EXCESS``, and at least ``MIN_WEEKS``
weeks of history behind the day (a rule or a rollup younger than that is not judged).

A pass (``notify``) judges the last complete days, records each spike once
(``report_spikes`` is unique on day, metric, dimension and key) and, in the same
transaction, emails each active manager through ``riskops.outbound`` and emits the
``report.spike`` webhook, with a link to /reports filtered to what spiked.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.config import get_settings
from riskops.outbound import service as outbound
from riskops.outbound import webhooks
from riskops.outbound.models import Channel
from riskops.reports import repository as repo
from riskops.reports import rollups as r
from riskops.reports.models import ReportSpike
from riskops.reports.repository import Filters
from riskops.reports.schemas import Spike

WEEKS = 6
MIN_WEEKS = 4
Z = 4.0
MIN_EXCESS = 5
LOOKBACK_DAYS = 3  # complete days judged each pass (a pass missed for a day or two catches up)
MAD_SCALE = 1.4826  # MAD to standard deviation, for normal data


@dataclass(frozen=True)
class Judged:
    observed: int
    baseline: float
    spread: float
    score: float
    spike: bool


def judge(count: int, history: Sequence[int]) -> Judged | None:
    """Judge ``count`` against the same weekday's counts of earlier weeks (newest first);
    None with fewer than ``MIN_WEEKS`` of them."""
    if len(history) < MIN_WEEKS:
        return None
    baseline = float(statistics.median(history))
    mad = float(statistics.median(abs(h - baseline) for h in history))
    spread = max(MAD_SCALE * mad, max(baseline, 1.0) ** 0.5)
    score = (count - baseline) / spread
    spike = score >= Z and count - baseline >= MIN_EXCESS
    return Judged(count, baseline, spread, score, spike)


# What is watched: (metric as stored, its dimension, the buckets summed, the name shown)
WATCHED: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (r.ALERTS, "rule", (), "alerts"),
    (r.ALERTS, "typology", (), "alerts"),
    (r.RULE_OUTCOME, "rule", ("tp",), "true_positives"),
    (r.CLOSED, "typology", tuple(o.value for o in r.TRUE_POSITIVE), "true_positives"),
)


@dataclass(frozen=True)
class Found:
    day: date
    metric: str  # alerts, true_positives
    dimension: str  # rule, typology
    key: str
    judged: Judged


def find(session: Session, day: date) -> list[Found]:
    """The spikes of one day, over every watched series."""
    since = day - timedelta(weeks=WEEKS)
    window = Filters(since, day)
    first = repo.first_day(session)
    if first is None:
        return []
    weeks = [day - timedelta(weeks=w) for w in range(1, WEEKS + 1)]
    weeks = [d for d in weeks if d >= first]
    found: list[Found] = []
    for metric, dimension, buckets, shown in WATCHED:
        counts: dict[str, dict[date, int]] = {}
        by = ("day", dimension, "bucket")
        for d, key, bucket, n, _ in repo.daily(session, metric, window, by, use=()):
            if key and (not buckets or bucket in buckets):
                series = counts.setdefault(key, {})
                series[d] = series.get(d, 0) + n
        for key, series in sorted(counts.items()):
            judged = judge(series.get(day, 0), [series.get(d, 0) for d in weeks])
            if judged is not None and judged.spike:
                found.append(Found(day, shown, dimension, key, judged))
    return found


def view_link(found: Found) -> str:
    """The /reports view filtered to what spiked, the four weeks up to the day."""
    query = urlencode(
        {
            "since": (found.day - timedelta(days=27)).isoformat(),
            "until": found.day.isoformat(),
            found.dimension: found.key,
        }
    )
    return f"{get_settings().console_url.rstrip('/')}/reports?{query}"


def describe(found: Found) -> str:
    j = found.judged
    what = "alerts" if found.metric == "alerts" else "true-positive case outcomes"
    times = f"{j.observed / j.baseline:.1f}×" if j.baseline else "from none"
    return (
        f"{what.capitalize()} for {found.dimension} {found.key} spiked on "
        f"{found.day.isoformat()} ({found.day:%A}): {j.observed} against a usual "
        f"{j.baseline:g} on {found.day:%A}s over the previous {WEEKS} weeks ({times}, "
        f"robust z {j.score:.1f})."
    )


def notify(session: Session, now: datetime) -> list[Found]:
    """The spike pass (one transaction; the composition schedules it after the rollup):
    judge the last complete days, and notify each spike not notified before."""
    today = now.date()
    new: list[Found] = []
    for back in range(LOOKBACK_DAYS, 0, -1):
        for found in find(session, today - timedelta(days=back)):
            if repo.spike_seen(session, found.day, found.metric, found.dimension, found.key):
                continue
            j = found.judged
            repo.add_spike(
                session,
                ReportSpike(
                    day=found.day,
                    metric=found.metric,
                    dimension=found.dimension,
                    key=found.key,
                    observed=j.observed,
                    baseline=j.baseline,
                    score=j.score,
                    found_at=now,
                ),
            )
            _send(session, found, now)
            new.append(found)
    return new


def _send(session: Session, found: Found, now: datetime) -> None:
    j = found.judged
    link = view_link(found)
    text = describe(found)
    subject = (
        f"riskops: spike in {found.metric.replace('_', ' ')} for {found.dimension} {found.key}"
    )
    ident = f"{found.day.isoformat()}:{found.metric}:{found.dimension}:{found.key}"
    for username, email in repo.manager_emails(session):
        outbound.enqueue(
            session,
            channel=Channel.EMAIL,
            to=email,
            subject=subject,
            body=f"{text}\n\nSee the trend: {link}\n",
            purpose="report.spike",
            dedupe_key=f"spike:{ident}:{username}"[:200],
            now=now,
        )
    webhooks.emit(
        session,
        "report.spike",
        {
            "day": found.day.isoformat(),
            "metric": found.metric,
            "dimension": found.dimension,
            "key": found.key,
            "observed": j.observed,
            "baseline": j.baseline,
            "score": round(j.score, 2),
            "link": link,
        },
        now=now,
    )


def recent(session: Session, reader: Principal, f: Filters) -> list[Spike]:
    """The spikes found in the period, for the page. Needs ``report:view``."""
    require(reader, Permission.REPORT_VIEW)
    return [
        Spike(s.day.isoformat(), s.metric, s.dimension, s.key, s.observed, s.baseline, s.score)
        for s in repo.spikes_between(session, f.since, f.until)
    ]
