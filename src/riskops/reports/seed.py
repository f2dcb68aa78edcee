"""A month of trend history for ``riskops demo``, so /reports has days to draw.

The demo monitors its simulated month at once, and its earlier shifts work the month's
cases at one moment (ADR 0021): alerts spread over the month by their events' times, but
cases open and close on one day. This writes backdated case work beside it: for each of
the last 30 days, cases of each queue opened through the day (about a third of them
confirmed: restricted, offboarded or SAR referred; the rest dismissed or resolved), closed
hours to days later by the demo's analysts, each holding the alerts of one or two of the
monitor's rules; and held withdrawals released or rejected within minutes. Then it builds
the rollups from all history.

Called by the composition after the case work is seeded (``riskops.demo``):
``riskops.reports.seed.seed(session, now, rng)``. Its cases are titled "Earlier case
work", account ids ``trend-…``; they are closed history, never in a queue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseOutcome, CaseStatus
from riskops.monitor.models import Hold, HoldStatus
from riskops.reports import repository as repo
from riskops.reports import rollups

DAYS = 30
OUTCOMES = (
    (CaseOutcome.DISMISSED, 50),
    (CaseOutcome.RESTRICTED, 18),
    (CaseOutcome.RESOLVED, 15),
    (CaseOutcome.SAR_REFERRED, 9),
    (CaseOutcome.OFFBOARDED, 8),
)
DEFAULT_RULES = (("R-VELOCITY", "structuring"), ("R-MULE-FANIN", "mule"))


@dataclass(frozen=True)
class ReportsSeed:
    cases: int
    holds: int
    rollup_rows_from: str


def seed(session: Session, now: datetime, rng: random.Random) -> ReportsSeed:
    """Write the month's backdated case work and holds, then rebuild the rollups."""
    ensure_default_queues(session)
    queues = repo.seed_queues(session)
    analysts = repo.seed_analysts(session)
    rules = repo.seed_rules(session) or list(DEFAULT_RULES)
    outcomes = [o for o, _ in OUTCOMES]
    weights = [w for _, w in OUTCOMES]
    cases = holds = 0
    for back in range(DAYS, 0, -1):
        midnight = datetime.combine(
            (now - timedelta(days=back)).date(), datetime.min.time(), now.tzinfo
        )
        weekend = midnight.weekday() >= 5
        for queue_key, sla_minutes in queues:
            for _ in range(rng.randint(1, 3) if weekend else rng.randint(3, 8)):
                opened = midnight + timedelta(minutes=rng.randint(0, 24 * 60 - 1))
                closed = opened + timedelta(minutes=rng.randint(20, 4 * 24 * 60))
                if closed >= now:
                    closed = now - timedelta(minutes=rng.randint(1, 60))
                if closed <= opened:
                    continue
                picked = rng.sample(rules, k=min(len(rules), rng.choice((1, 1, 2))))
                cases += 1
                case = Case(
                    account_id=f"trend-{cases:05d}",
                    queue_key=queue_key,
                    status=CaseStatus.CLOSED,
                    title="Earlier case work",
                    typology=picked[0][1],
                    severity=rng.randint(20, 90),
                    amount_at_risk_usd=Decimal(rng.randint(100, 50_000)),
                    priority=50,
                    assignee_id=rng.choice(analysts) if analysts else None,
                    alert_count=len(picked),
                    opened_at=opened,
                    due_at=opened + timedelta(minutes=sla_minutes),
                    updated_at=closed,
                    closed_at=closed,
                    outcome=rng.choices(outcomes, weights)[0],
                    reason_code="demo_history",
                )
                session.add(case)
                session.flush()
                for rule, typology in picked:
                    session.add(
                        CaseAlert(
                            source=AlertSource.MONITOR,
                            source_ref=f"trend-{case.id}-{rule}",
                            case_id=case.id,
                            account_id=case.account_id,
                            kind=rule,
                            typology=typology,
                            severity=case.severity,
                            amount_usd=case.amount_at_risk_usd,
                            title=f"{rule} (earlier)",
                            reason="",
                            detail={},
                            occurred_at=opened,
                            received_at=opened,
                        )
                    )
        for _ in range(rng.randint(2, 6)):
            held = midnight + timedelta(minutes=rng.randint(0, 24 * 60 - 1))
            rejected = rng.random() < 0.3
            holds += 1
            session.add(
                Hold(
                    event_id=f"trend-hold-{holds:05d}",
                    account_id=f"trend-h{holds:05d}",
                    withdrawal_id=None,
                    asset="BTC",
                    amount=Decimal("0.1"),
                    usd_value=Decimal(rng.randint(500, 80_000)),
                    status=HoldStatus.REJECTED if rejected else HoldStatus.RELEASED,
                    reasons=[],
                    created_at=held,
                    resolved_at=held + timedelta(minutes=rng.randint(2, 14)),
                    resolved_by="demo",
                    note="earlier shift",
                )
            )
    session.flush()
    done = rollups.rebuild(session, now)
    return ReportsSeed(cases, holds, str(done.from_day))
