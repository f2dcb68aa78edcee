"""Demo data of QA: a sampling plan, a pass over the demo's closed cases, and a second review
of part of them (most agreed, a few not), so /qa has samples waiting and /qa/agreement has
figures. The lead's ``riskops.demo`` calls ``seed(session, now, rng)`` after the case work."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.auth.repository import user_by_username
from riskops.auth.service import user_principal
from riskops.cases.models import CaseOutcome
from riskops.qa import repository as repo
from riskops.qa import service
from riskops.qa.models import SampleStatus
from riskops.qa.schemas import OutcomeRate, PlanIn, ReviewIn

DEMO = Principal.system("demo")
PLAN = PlanIn(
    base_rate=0.1,
    outcome_rates=[
        OutcomeRate(CaseOutcome.OFFBOARDED, 1.0),
        OutcomeRate(CaseOutcome.SAR_REFERRED, 1.0),
        OutcomeRate(CaseOutcome.RESTRICTED, 0.5),
    ],
    new_analyst_rate=0.3,
    new_analyst_days=90,
    seed="demo",
)
REVIEWED_SHARE = 0.5  # of the samples; the rest wait in the QA queue
DISAGREE_SHARE = 0.15
_REASONS = (
    "The deposits fan out to new accounts within minutes: this looks like a mule, not a"
    " false positive.",
    "The note does not say why the device change was innocent.",
    "The customer's explanation was not checked against the withdrawal address history.",
)


def seed(session: Session, now: datetime, rng: random.Random) -> dict[str, int]:
    """Save the demo plan (unless one exists), sample the cases closed up to ``now`` and
    review part of the samples as the users with qa:review (never the case's own analyst).
    Returns counts: sampled, reviewed, disagreed, waiting."""
    if repo.current_plan(session) is None:
        service.save_plan(session, DEMO, PLAN, now=now)
    done = service.sample_all(session, DEMO, now=now + service.SETTLE)
    reviewers = service.reviewers(session, DEMO)
    reviewed = disagreed = 0
    samples = repo.queue(session, (SampleStatus.WAITING,), 10_000, 0)
    for sample in samples:
        choices = [r for r in reviewers if r not in (sample.analyst, sample.approver)]
        if not choices or rng.random() >= REVIEWED_SHARE:
            continue
        user = user_by_username(session, rng.choice(choices))
        if user is None:
            continue
        reviewer = user_principal(user)
        body = _review(sample.outcome, rng)
        at = now + timedelta(minutes=rng.randint(5, 600))
        service.review(session, reviewer, sample.id, body, now=at)
        reviewed += 1
        disagreed += body.verdict == "disagree"
    return {
        "sampled": done.sampled,
        "reviewed": reviewed,
        "disagreed": disagreed,
        "waiting": done.sampled - reviewed,
    }


def _review(outcome: str, rng: random.Random) -> ReviewIn:
    if rng.random() >= DISAGREE_SHARE:
        return ReviewIn("agree")
    other = CaseOutcome.RESTRICTED if outcome != "restricted" else CaseOutcome.DISMISSED
    return ReviewIn("disagree", other, rng.choice(_REASONS))
