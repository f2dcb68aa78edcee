"""A case and the reviews its alerts come from decide together (issue 10, ADR 0031).

- A screening case closed in the case flow decides the open hits its alerts name
  (``decide_hits``, called by ``decisions`` when a decision closes the case): dismissed as
  legitimate (false positive, verified by the customer, known behaviour) is "not a match",
  remembered by screening so no rescreen raises the hit again; restricted, offboarded or
  referred for a SAR is "match". A dismissal as duplicate or other, or a resolution,
  leaves the hits as they are (the case did not judge them).
- A KYC / KYB review decided (approve / reject / ask for more, by an analyst in the review
  flow or by the exchange's own ``kyc.decided`` event) closes or moves the case of its
  alerts (``follow_review``): approved or rejected closes it (outcome resolved, reason
  ``kyc_approved`` / ``kyc_rejected``) with the decision's note; asking for more moves it
  to waiting for the customer. A case with other alerts still to work is told (a history
  entry with the note) and left open. The exchange's own approval or rejection (a review
  decided by ``accounts.kyc.EXCHANGE``, from the log) never closes the case: it is told
  (the history entry and a note naming the exchange's event) and left for the analyst.
  Whether a case still holds only the review's alerts when a log follower's decision is
  delivered depends on how the monitor's batches and the followers' passes interleave
  (the monitor is ahead of the accounts follower by however much it is), not on the log:
  a close there put the account's later alerts in a new case in one run and in the review's
  case in another. A case that stays open takes every alert of its account, whatever the
  order, so case grouping stays a function of the event log (tests/monitor/test_kill.py).
  An analyst's decision (the review flow, the API) is a person's act at its own moment,
  as closing any case is, and closes it as above. The review flow calls ``decide_review``
  (the review's decision and its case in one transaction); the exchange's decisions and any
  review decided elsewhere arrive on ``accounts.kyc.KYC_DECIDED``, which ``deliver``
  takes. A decision already followed changes nothing (its history entry names the review
  and when it was decided).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from riskops.accounts import kyc, rating
from riskops.accounts.models import KycReview
from riskops.audit.service import record
from riskops.auth.permissions import Principal
from riskops.cases import history
from riskops.cases import repository as repo
from riskops.cases.domain import Command, Sla
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseOutcome, CaseStatus, Note
from riskops.kernel import outbox
from riskops.kernel.clock import utcnow
from riskops.screening import service as screening

# A case's outcome (with its dismissal reason) as a decision on its screening hits.
_LEGITIMATE = frozenset({"false_positive", "verified_by_customer", "known_behaviour"})
_MATCHED = frozenset({CaseOutcome.RESTRICTED, CaseOutcome.OFFBOARDED, CaseOutcome.SAR_REFERRED})
KYC_TYPOLOGIES = ("kyc_review", "kyb_review")
FOLLOWED = "kyc_review_decided"  # the history entry of a review decision a case followed
_REASONS = {"approve": "kyc_approved", "reject": "kyc_rejected"}
WAIT_FOR_MORE = timedelta(days=14)  # how long a case waits for documents asked for
_CLOSABLE = frozenset(
    {CaseStatus.NEW, CaseStatus.ASSIGNED, CaseStatus.IN_REVIEW, CaseStatus.WAITING_CUSTOMER}
)
_WAITABLE = frozenset({CaseStatus.ASSIGNED, CaseStatus.IN_REVIEW})


def hit_decision(outcome: CaseOutcome | None, reason_code: str | None) -> str | None:
    """The screening decision a closing outcome makes (None: the hits stay as they are)."""
    if outcome is CaseOutcome.DISMISSED and reason_code in _LEGITIMATE:
        return "not_a_match"
    if outcome in _MATCHED:
        return "match"
    return None


def hit_ids_of(alerts: list[CaseAlert]) -> list[int]:
    """The screening hits a case's alerts name (``detail["hit_id"]``), in order."""
    ids = []
    for alert in alerts:
        hit_id = (alert.detail or {}).get("hit_id")
        if alert.source == AlertSource.SCREENING and isinstance(hit_id, int):
            ids.append(hit_id)
    return list(dict.fromkeys(ids))


def decide_hits(
    session: Session, decider: Principal, case: Case, note: str, now: datetime
) -> list[int]:
    """When a decision closed ``case``: decide its open screening hits as its outcome says
    (``screening.service.decide_by_case`` checks ``screening:review``); returns the ids."""
    if case.status is not CaseStatus.CLOSED:
        return []
    decision = hit_decision(case.outcome, case.reason_code)
    hit_ids = hit_ids_of(repo.alerts_of(session, case.id)) if decision else []
    if not decision or not hit_ids:
        return []
    decided = screening.decide_by_case(
        session, decider, hit_ids, decision, note, case_id=case.id, now=now
    )
    return [hit.id for hit in decided]


# --- KYC / KYB reviews ----------------------------------------------------------------------


def decide_review(
    session: Session,
    decider: Principal,
    review_id: int,
    decision: str,
    note: str,
    *,
    now: datetime | None = None,
    links: rating.LinkSource = rating.no_links,
) -> tuple[KycReview, Case | None]:
    """Decide a review (``accounts.kyc.decide``: ``kyc:review``, a note) and have its case
    follow, in the caller's transaction; returns the review and its case (None if none)."""
    now = now or utcnow()
    review = kyc.decide(session, decider, review_id, decision, note, now=now, links=links)
    message = kyc.decided_message(review, decision, decider.name, now)
    return review, follow_review(session, decider, message, now=now)


def deliver(session: Session, limit: int = 500, *, now: datetime | None = None) -> int:
    """Take up to ``limit`` ``KYC_DECIDED`` messages and have each review's case follow;
    returns how many were taken (``cases.tasks.deliver``)."""
    messages = outbox.take(session, kyc.KYC_DECIDED, limit)
    system = Principal.system("cases")
    for message in messages:
        follow_review(session, system, message, now=now)
        session.flush()
    return len(messages)


def follow_review(
    session: Session, actor: Principal, message: Mapping[str, Any], *, now: datetime | None = None
) -> Case | None:
    """Close or move the open case of a decided review's alerts (see the module's text);
    the case it changed or told, or None (no open case, or the decision was followed)."""
    now = now or utcnow()
    review_id, event_id = message.get("review_id"), message.get("event_id")
    kind, decision = str(message.get("kind") or "kyc"), str(message.get("decision") or "")
    ref = f"{kind}_review:{event_id}:0"
    alert = repo.alerts_by_refs(session, [(AlertSource.MONITOR, ref)]).get(
        (AlertSource.MONITOR, ref)
    )
    if alert is None or alert.case_id is None:
        return None
    case = history.load(session, alert.case_id)
    if case.status is CaseStatus.CLOSED or _followed(session, case, message):
        return None
    by = str(message.get("decided_by") or actor.name)
    note = str(message.get("note") or "")
    detail = {
        "review_id": review_id,
        "event_id": event_id,
        "decision": decision,
        "decided_at": message.get("at"),
    }
    alerts = repo.alerts_of(session, case.id)
    others = [a for a in alerts if (a.detail or {}).get("event_id") != event_id]
    if by == kyc.EXCHANGE and decision in _REASONS:  # the log's decision: told, left open
        _note(session, case, by, review_id, decision, note, now)
        history.event(session, case, by, FOLLOWED, now, reason=note, detail=detail)
    elif others or case.status not in _CLOSABLE:
        history.event(session, case, by, FOLLOWED, now, reason=note, detail=detail)
    elif decision in ("approve", "reject"):
        _note(session, case, by, review_id, decision, note, now)
        history.transition(
            session,
            case,
            Command.REVIEW_DECIDED,
            by,
            now,
            kind=FOLLOWED,
            reason=note,
            detail={**detail, "outcome": CaseOutcome.RESOLVED.value},
        )
        case.outcome = CaseOutcome.RESOLVED
        case.reason_code = _REASONS[decision]
        case.sla_paused_at = case.waiting_until = None
        if case.account_id is not None:
            rating.record_case_outcome(
                session, case.account_id, case.id, CaseOutcome.RESOLVED.value, at=now
            )
    elif case.status in _WAITABLE:  # more information asked for: wait for the customer
        _note(session, case, by, review_id, decision, note, now)
        until = now + WAIT_FOR_MORE
        history.transition(
            session,
            case,
            Command.WAIT_CUSTOMER,
            by,
            now,
            kind=FOLLOWED,
            reason=note,
            detail={**detail, "waiting_until": until.isoformat()},
        )
        case.sla_paused_at = Sla(case.due_at, case.sla_paused_at).pause(now).paused_at
        case.waiting_until = until
    else:  # asked for more while nobody works the case: it stays in the queue
        history.event(session, case, by, FOLLOWED, now, reason=note, detail=detail)
    session.flush()
    record(session, actor, "case.follow_review", "case", case.id, detail, now=now)
    return case


def _followed(session: Session, case: Case, message: Mapping[str, Any]) -> bool:
    return any(
        e.kind == FOLLOWED
        and (e.detail or {}).get("review_id") == message.get("review_id")
        and (e.detail or {}).get("decision") == message.get("decision")
        and (e.detail or {}).get("decided_at") == message.get("at")
        for e in repo.events_of(session, case.id)
    )


def _note(
    session: Session,
    case: Case,
    by: str,
    review_id: Any,
    decision: str,
    note: str,
    now: datetime,
) -> None:
    sections = {
        "summary": f"KYC/KYB review #{review_id} decided: {decision}",
        "evidence": f"the submission and the consistency findings of review #{review_id}",
        "findings": "as recorded on the review",
        "decision": decision,
        "rationale": note,
    }
    repo.add(session, Note(case_id=case.id, author=by, created_at=now, sections=sections))
