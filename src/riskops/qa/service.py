"""QA use cases: the sampling plan, a sampling pass, the QA queue (take, assign), the second
review, an analyst's disagreements, and the agreement figures.

Every function takes the caller's session and the acting ``Principal`` and checks the
permission first; changes write an audit entry in the caller's transaction (services never
commit). A reviewer never reviews a case they decided or approved (four-eyes). A
disagreement opens a discussion on the case (a history entry and a note the analyst reads)
and shows on the analyst's "My work"; it does not reopen the case: someone with
``case:reopen`` does that from the case page when the outcome should change (ADR 0036).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    require,
    require_second_person,
)
from riskops.auth.repository import user_by_username
from riskops.cases import history
from riskops.cases import repository as cases_repo
from riskops.cases.models import CaseStatus, Note
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.qa import repository as repo
from riskops.qa.domain import PlanRates, draw, rate_for
from riskops.qa.models import Plan, Sample, SampleStatus, Verdict
from riskops.qa.schemas import PlanIn, ReviewIn

P = Permission
# Cases closed in the last minute are left to the next pass: a transaction that closed a case
# a moment before another may commit after it, and the cursor must not step over it.
SETTLE = timedelta(minutes=1)
BATCH = 500
OPEN = (SampleStatus.WAITING, SampleStatus.TAKEN)


@dataclass(frozen=True, slots=True)
class PassResult:
    plan_version: int | None  # None: no plan yet, nothing sampled
    read: int  # closed cases the pass looked at
    sampled: int
    cursor_closed_at: datetime | None


# --- the plan -----------------------------------------------------------------------------


def current_plan(session: Session, principal: Principal) -> Plan | None:
    """The sampling plan in force (None before the first one is saved); needs qa:review."""
    require(principal, P.QA_REVIEW)
    return repo.current_plan(session)


def save_plan(
    session: Session, principal: Principal, body: PlanIn, *, now: datetime | None = None
) -> Plan:
    """Save a new version of the plan (qa:manage). Cases already read are not drawn again;
    cases closed from now on are drawn under the new version. Without a seed, one is made."""
    require(principal, P.QA_MANAGE)
    now = now or utcnow()
    plan = Plan(
        base_rate=body.base_rate,
        outcome_rates={r.outcome.value: r.rate for r in body.outcome_rates},
        queue_rates={r.queue: r.rate for r in body.queue_rates},
        analyst_rates={r.analyst: r.rate for r in body.analyst_rates},
        new_analyst_rate=body.new_analyst_rate,
        new_analyst_days=body.new_analyst_days,
        seed=body.seed.strip() or secrets.token_hex(8),
        created_by=principal.name,
        created_at=now,
    )
    repo.add(session, plan)
    record(session, principal, "qa.plan", "qa_plan", plan.id, _plan_detail(plan), now=now)
    return plan


def _plan_detail(plan: Plan) -> dict[str, object]:
    return {
        "base_rate": plan.base_rate,
        "outcome_rates": plan.outcome_rates,
        "queue_rates": plan.queue_rates,
        "analyst_rates": plan.analyst_rates,
        "new_analyst_rate": plan.new_analyst_rate,
        "new_analyst_days": plan.new_analyst_days,
    }


# --- a sampling pass ----------------------------------------------------------------------


def sample_pass(
    session: Session,
    principal: Principal,
    *,
    now: datetime | None = None,
    batch: int = BATCH,
) -> PassResult:
    """Read the cases closed since the last pass (one batch, oldest first) and draw each under
    the current plan; the drawn ones join the QA queue. A case is sampled once (a unique
    case id: one reopened and closed again is not drawn twice). Needs qa:manage (the worker
    and the CLI act as the system)."""
    require(principal, P.QA_MANAGE)
    now = now or utcnow()
    plan = repo.current_plan(session)
    if plan is None:
        return PassResult(None, 0, 0, None)
    after = repo.cursor(session)
    closed = repo.closed_after(session, after, now - SETTLE, batch)
    if not closed:
        return PassResult(plan.id, 0, 0, after[0] if after[1] else None)
    ids = [c.id for c in closed]
    taken = repo.sampled_case_ids(session, ids)
    rules = repo.rules_of(session, ids)
    created = repo.users_created(session, {c.analyst for c in closed})
    rates = PlanRates(
        plan.base_rate,
        plan.outcome_rates,
        plan.queue_rates,
        plan.analyst_rates,
        plan.new_analyst_rate,
    )
    new_since = now - timedelta(days=plan.new_analyst_days)
    drawn = []
    for case in closed:
        if case.id in taken or not case.analyst:
            continue
        joined = created.get(case.analyst)
        rate, why = rate_for(
            rates,
            outcome=case.outcome,
            queue_key=case.queue_key,
            analyst=case.analyst,
            analyst_is_new=joined is not None and joined > new_since,
        )
        if draw(plan.seed, plan.id, case.id) >= rate:
            continue
        drawn.append(
            Sample(
                case_id=case.id,
                plan_id=plan.id,
                rate=rate,
                why=why,
                analyst=case.analyst,
                approver=case.approver,
                outcome=case.outcome,
                reason_code=case.reason_code,
                queue_key=case.queue_key,
                rules=rules.get(case.id, []),
                closed_at=case.closed_at,
                sampled_at=now,
                status=SampleStatus.WAITING,
                reason="",
            )
        )
    session.add_all(drawn)
    last = closed[-1]
    repo.move_cursor(session, last.closed_at, last.id, now)
    detail = {"plan": plan.id, "read": len(closed), "sampled": [s.case_id for s in drawn]}
    record(session, principal, "qa.sample", "qa_plan", plan.id, detail, now=now)
    return PassResult(plan.id, len(closed), len(drawn), last.closed_at)


def sample_all(
    session: Session, principal: Principal, *, now: datetime | None = None
) -> PassResult:
    """Passes until the closed cases are all read (the CLI's ``riskops qa sample``)."""
    now = now or utcnow()
    read = sampled = 0
    while True:
        done = sample_pass(session, principal, now=now)
        read, sampled = read + done.read, sampled + done.sampled
        if done.read < BATCH:
            return PassResult(done.plan_version, read, sampled, done.cursor_closed_at)


# --- the QA queue -------------------------------------------------------------------------


def waiting(
    session: Session, principal: Principal, *, limit: int = 50, offset: int = 0
) -> tuple[list[Sample], int]:
    """Samples not reviewed yet (waiting or taken), oldest first, and how many there are."""
    require(principal, P.QA_REVIEW)
    if not 1 <= limit <= 500:
        raise ValidationFailed("`limit` must be between 1 and 500")
    return repo.queue(session, OPEN, limit, offset), repo.count(session, OPEN)


def get_sample(session: Session, principal: Principal, sample_id: int) -> Sample:
    require(principal, P.QA_REVIEW)
    return _sample(session, sample_id)


def _sample(session: Session, sample_id: int, *, for_update: bool = False) -> Sample:
    sample = repo.get_sample(session, sample_id, for_update=for_update)
    if sample is None:
        raise NotFound(f"QA sample {sample_id} not found")
    return sample


def _second_person(reviewer: Principal, sample: Sample) -> None:
    """Nobody reviews a case they decided, or approved as the second person."""
    require_second_person(reviewer, sample.analyst, "review")
    if sample.approver is not None:
        require_second_person(reviewer, sample.approver, "review")


def _open_to(session: Session, principal: Principal, sample_id: int) -> Sample:
    """The sample, locked, if ``principal`` may review it now: qa:review, a second person
    to the case's decider and approver, not reviewed yet, not taken by someone else."""
    require(principal, P.QA_REVIEW)
    sample = _sample(session, sample_id, for_update=True)
    _second_person(principal, sample)
    if sample.status is SampleStatus.REVIEWED:
        raise Conflict(f"QA sample {sample_id} is already reviewed")
    if sample.status is SampleStatus.TAKEN and sample.reviewer != principal.name:
        raise Conflict(f"QA sample {sample_id} is taken by {sample.reviewer}")
    return sample


def take(
    session: Session, principal: Principal, sample_id: int, *, now: datetime | None = None
) -> Sample:
    """Take a waiting sample to review it (qa:review; not one's own case)."""
    now = now or utcnow()
    sample = _open_to(session, principal, sample_id)
    sample.status, sample.reviewer, sample.taken_at = SampleStatus.TAKEN, principal.name, now
    session.flush()
    record(session, principal, "qa.take", "qa_sample", sample.id, now=now)
    return sample


def assign(
    session: Session,
    principal: Principal,
    sample_id: int,
    username: str,
    *,
    now: datetime | None = None,
) -> Sample:
    """Give a sample not yet reviewed to a reviewer (qa:manage): an active user with
    qa:review who neither decided nor approved the case."""
    require(principal, P.QA_MANAGE)
    now = now or utcnow()
    sample = _sample(session, sample_id, for_update=True)
    if sample.status is SampleStatus.REVIEWED:
        raise Conflict(f"QA sample {sample_id} is already reviewed")
    user = user_by_username(session, username)
    field = [{"field": "$.reviewer", "reason": ""}]
    if user is None or not user.active:
        raise NotFound(f"user {username!r} not found")
    if P.QA_REVIEW not in ROLE_PERMISSIONS[user.role]:
        field[0]["reason"] = f"role {user.role} lacks qa:review"
        raise ValidationFailed("this user cannot review QA samples", details=field)
    if username in (sample.analyst, sample.approver):
        field[0]["reason"] = "decided or approved the case (four-eyes)"
        raise ValidationFailed("this user cannot review this case", details=field)
    previous = sample.reviewer
    sample.status, sample.reviewer, sample.taken_at = SampleStatus.TAKEN, username, now
    session.flush()
    detail = {"reviewer": username, "previous": previous}
    record(session, principal, "qa.assign", "qa_sample", sample.id, detail, now=now)
    return sample


def reviewers(session: Session, principal: Principal) -> list[str]:
    """Who a sample may be given to: active users whose role has qa:review (qa:manage)."""
    require(principal, P.QA_MANAGE)
    return [
        u.username
        for u in cases_repo.active_users(session)
        if P.QA_REVIEW in ROLE_PERMISSIONS[u.role]
    ]


# --- the review ---------------------------------------------------------------------------


def review(
    session: Session,
    principal: Principal,
    sample_id: int,
    body: ReviewIn,
    *,
    now: datetime | None = None,
) -> Sample:
    """Record the second review (qa:review; never by who decided or approved the case).

    ``agree``: the reviewer's outcome is the case's (naming another is refused). ``disagree``:
    a reason is required; the case gets a history entry and a note for its analyst, and the
    disagreement shows on the analyst's "My work". A sample taken by someone else is theirs
    to review (409). Reviewed once (409 after)."""
    now = now or utcnow()
    sample = _open_to(session, principal, sample_id)
    verdict = Verdict(body.verdict)
    reason = body.reason.strip()
    if verdict is Verdict.DISAGREE and not reason:
        raise ValidationFailed(
            "a disagreement needs a reason",
            details=[{"field": "$.reason", "reason": "required when you disagree"}],
        )
    outcome = body.outcome.value if body.outcome else sample.outcome
    if verdict is Verdict.AGREE and outcome != sample.outcome:
        raise ValidationFailed(
            "agreeing keeps the case's outcome",
            details=[
                {
                    "field": "$.outcome",
                    "reason": f"the case closed as {sample.outcome}: disagree to name another",
                }
            ],
        )
    sample.status, sample.verdict, sample.reason = SampleStatus.REVIEWED, verdict, reason
    sample.reviewer, sample.reviewed_at, sample.reviewer_outcome = principal.name, now, outcome
    sample.taken_at = sample.taken_at or now
    case = history.load(session, sample.case_id)
    detail: dict[str, object] = {
        "sample_id": sample.id,
        "verdict": verdict.value,
        "case_outcome": sample.outcome,
        "reviewer_outcome": outcome,
        "analyst": sample.analyst,
    }
    kind = "qa_agreed" if verdict is Verdict.AGREE else "qa_disagreed"
    history.event(session, case, principal.name, kind, now, reason=reason, detail=detail)
    if verdict is Verdict.DISAGREE:
        cases_repo.add(session, _discussion_note(case.id, sample, principal.name, outcome, now))
        detail["case_open"] = case.status is not CaseStatus.CLOSED
    session.flush()
    record(session, principal, f"qa.{verdict.value}", "qa_sample", sample.id, detail, now=now)
    return sample


def _discussion_note(
    case_id: int, sample: Sample, reviewer: str, outcome: str, now: datetime
) -> Note:
    """The note that opens the discussion with the analyst, in the case note's sections."""
    other = "the same outcome" if outcome == sample.outcome else f"{outcome.replace('_', ' ')}"
    return Note(
        case_id=case_id,
        author=reviewer,
        created_at=now,
        sections={
            "summary": f"QA second review of {sample.analyst}'s decision: disagree.",
            "evidence": "",
            "findings": sample.reason,
            "decision": (
                f"The case closed as {sample.outcome.replace('_', ' ')}; the reviewer would "
                f"have chosen {other}."
            ),
            "rationale": "A case:reopen holder reopens the case if its outcome should change.",
        },
    )


# --- the analyst's side and the case page -------------------------------------------------


def of_case(session: Session, principal: Principal, case_id: int) -> Sample | None:
    """The QA sample of a case, if it was sampled (case:view: the analyst reads it)."""
    require(principal, P.CASE_VIEW)
    return repo.sample_of_case(session, case_id)


def my_disagreements(session: Session, principal: Principal, *, limit: int = 50) -> list[Sample]:
    """Disagreements with the principal's decisions not acknowledged yet ("My work")."""
    require(principal, P.CASE_VIEW)
    return repo.disagreements_of(session, principal.name, limit)


def acknowledge(
    session: Session, principal: Principal, sample_id: int, *, now: datetime | None = None
) -> Sample:
    """The analyst who decided the case marks a disagreement read (it leaves "My work")."""
    require(principal, P.CASE_WORK)
    now = now or utcnow()
    sample = _sample(session, sample_id, for_update=True)
    if sample.analyst != principal.name:
        raise Conflict(f"QA sample {sample_id} is about another analyst's decision")
    if sample.verdict is not Verdict.DISAGREE:
        raise Conflict(f"QA sample {sample_id} is not a disagreement")
    if sample.acknowledged_at is None:
        sample.acknowledged_at = now
        session.flush()
        record(session, principal, "qa.acknowledge", "qa_sample", sample.id, now=now)
    return sample


DEFAULT_PERIOD = timedelta(days=30)


def period(
    since: datetime | None, until: datetime | None, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """A reporting period from optional bounds: until defaults to now, since to 30 days
    before until; a time without an offset is taken as UTC."""
    end = _utc(until) if until else (now or utcnow())
    return (_utc(since) if since else end - DEFAULT_PERIOD), end


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def agreement(
    session: Session, principal: Principal, since: datetime, until: datetime, *, by: repo.By
) -> list[repo.AgreementRow]:
    """Agreement per analyst or per rule over [since, until) (qa:review)."""
    require(principal, P.QA_REVIEW)
    if since >= until:
        raise ValidationFailed(
            "the period is empty",
            details=[{"field": "since", "reason": "must be before `until`"}],
        )
    return repo.agreement(session, since, until, by=by)
