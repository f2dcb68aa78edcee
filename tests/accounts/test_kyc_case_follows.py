"""A KYC / KYB review's case follows its decision (cases.review_outcomes): approved or
rejected in the review flow closes the case with the note, asking for more moves it to
waiting for the customer, a case with other alerts is told and left open; the exchange's own
``kyc.decided`` decides a review still waiting, audited, unless an analyst approved or
rejected it first, and tells its case, which stays open for the analyst: the account's case
grouping is the log's, whether the monitor or the accounts follower got further first.
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.accounts import kyc, tasks
from riskops.accounts.models import KycReview, KycReviewStatus
from riskops.accounts.rating import Signal
from riskops.accounts.watch import AccountWatch
from riskops.audit.models import AuditEntry
from riskops.auth.models import User
from riskops.auth.permissions import Principal, Role
from riskops.cases import review_outcomes
from riskops.cases import service as cases
from riskops.cases.alert_intake import raise_alert
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseEvent, CaseOutcome, CaseStatus
from riskops.cases.models import Note as CaseNote
from riskops.cases.schemas import AlertIn
from riskops.cases.tasks import drain
from riskops.events import repository as events_repo
from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import service

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _no_lists(*_args: object) -> list[kyc.ScreenMatch] | None:
    return None


def watch() -> AccountWatch:
    return AccountWatch(checks=kyc.Checks(screen=_no_lists))


class Feed:
    """The monitor decided everything logged, with no signal."""

    def position(self, session: Session) -> int:
        return events_repo.last_seq(session)

    def signals(self, session: Session, after: int, upto: int) -> list[Signal]:
        return []


def submitted(account: str, n: int = 1) -> s.KycSubmitted:
    return s.KycSubmitted(
        event_id=f"{account}-kyc-{n}",
        account_id=account,
        occurred_at=NOW - timedelta(days=1),
        level=2,
        document_type="passport",
        document_country="DE",
        full_name="Anna Schmidt",
        date_of_birth=date(1990, 5, 17),
        nationality="DE",
    )


def decided(account: str, result: s.KycResult, n: int = 1) -> s.KycDecided:
    return s.KycDecided(
        event_id=f"{account}-decided-{n}",
        account_id=account,
        occurred_at=NOW,
        level=2,
        result=result,
        reason="vendor check",
    )


def log(sessions: sessionmaker[Session], *events: s.Event) -> None:
    with unit_of_work(sessions) as session:
        report = ingest(session, [(None, e) for e in events], source="file")
    assert report.accepted == len(events)


def follow(sessions: sessionmaker[Session]) -> None:
    tasks.follow(sessions, Feed(), watch())
    drain(sessions)


def user(session: Session, name: str, role: Role) -> Principal:
    row = User(username=name, display_name=name, role=role, password_hash="x", created_at=NOW)
    session.add(row)
    session.flush()
    return Principal.for_user(row.id, name, role)


def the_review(session: Session, account: str = "acc-1") -> KycReview:
    return session.scalars(select(KycReview).where(KycReview.account_id == account)).one()


def the_case(session: Session, account: str = "acc-1") -> Case:
    return session.scalars(select(Case).where(Case.account_id == account)).one()


def followed(session: Session, case_id: int) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.kind == review_outcomes.FOLLOWED
    )
    return list(session.scalars(stmt))


def opened(engine: Engine) -> sessionmaker[Session]:
    sessions = session_factory(engine)
    log(sessions, submitted("acc-1"))
    follow(sessions)
    return sessions


def test_an_approval_in_the_review_flow_closes_the_case_with_the_note(engine: Engine) -> None:
    sessions = opened(engine)
    with unit_of_work(sessions) as session:
        sam = user(session, "sam", Role.SENIOR_ANALYST)
        review = the_review(session)
        assert the_case(session).queue_key == "kyc"
        done, case = review_outcomes.decide_review(
            session, sam, review.id, "approve", "documents verified", now=NOW
        )
        assert done.status is KycReviewStatus.APPROVED and case is not None
    with sessions() as session:
        case = the_case(session)
        assert case.status is CaseStatus.CLOSED and case.outcome is CaseOutcome.RESOLVED
        assert case.reason_code == "kyc_approved"
        note = session.scalars(select(CaseNote).where(CaseNote.case_id == case.id)).one()
        assert (note.author, note.sections["rationale"]) == ("sam", "documents verified")
        assert outbox.pending(session, kyc.KYC_DECIDED) == 1
    drain(sessions)  # the decision's message finds its case followed: nothing more
    with sessions() as session:
        assert outbox.pending(session, kyc.KYC_DECIDED) == 0
        assert len(followed(session, the_case(session).id)) == 1
        audited = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "case.follow_review")
        ).all()
        assert audited == ["case.follow_review"]


def test_more_information_makes_the_case_wait_then_a_rejection_closes_it(
    engine: Engine,
) -> None:
    sessions = opened(engine)
    with unit_of_work(sessions) as session:
        sam = user(session, "sam", Role.SENIOR_ANALYST)
        case = the_case(session)
        assert sam.id is not None
        cases.assign(session, sam, case.id, sam.id, now=NOW)
        review = the_review(session)
        review_outcomes.decide_review(session, sam, review.id, "more_info", "proof", now=NOW)
    drain(sessions)
    with sessions() as session:
        case = the_case(session)
        assert case.status is CaseStatus.WAITING_CUSTOMER
        assert case.waiting_until == NOW + review_outcomes.WAIT_FOR_MORE
        assert case.sla_paused_at is not None
    with unit_of_work(sessions) as session:
        sam = Principal.for_user(1, "sam", Role.SENIOR_ANALYST)
        review_outcomes.decide_review(session, sam, review.id, "reject", "forged", now=NOW)
    with sessions() as session:
        case = the_case(session)
        assert (case.status, case.reason_code) == (CaseStatus.CLOSED, "kyc_rejected")
        assert case.waiting_until is None and case.sla_paused_at is None
        assert len(followed(session, case.id)) == 2


def test_a_case_with_other_alerts_is_told_and_stays_open(engine: Engine) -> None:
    sessions = opened(engine)
    with unit_of_work(sessions) as session:
        other = AlertIn(
            source=AlertSource.MONITOR,
            source_ref="ato:1",
            account_id="acc-1",
            kind="ato",
            title="account takeover",
            severity=70,
            reason="new device then withdrawal",
            occurred_at=NOW,
        )
        raise_alert(session, other, now=NOW)
        sam = user(session, "sam", Role.SENIOR_ANALYST)
        review_outcomes.decide_review(
            session, sam, the_review(session).id, "approve", "documents ok", now=NOW
        )
    with sessions() as session:
        case = the_case(session)
        assert case.status is CaseStatus.NEW and case.outcome is None
        [told] = followed(session, case.id)
        assert told.reason == "documents ok" and told.detail["decision"] == "approve"


def test_the_exchange_decision_decides_a_waiting_review_and_tells_its_case(
    engine: Engine,
) -> None:
    sessions = opened(engine)
    log(sessions, decided("acc-1", s.KycResult.APPROVED))
    follow(sessions)
    with sessions() as session:
        review = the_review(session)
        assert (review.status, review.decided_by) == (KycReviewStatus.APPROVED, kyc.EXCHANGE)
        assert review.note is not None and "acc-1-decided-1" in review.note
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "kyc_review.exchange_decided")
        ).one()
        assert entry.detail["decided_by_event"] == "acc-1-decided-1"
        # The case is told (a history entry, a note naming the exchange's event) and stays
        # open: closing it here would depend on which alerts were delivered by then.
        case = the_case(session)
        assert (case.status, case.outcome, case.reason_code) == (CaseStatus.NEW, None, None)
        [told] = followed(session, case.id)
        assert (told.actor, told.detail["decision"]) == (kyc.EXCHANGE, "approve")
        assert "acc-1-decided-1" in told.reason
        note = session.scalars(select(CaseNote).where(CaseNote.case_id == case.id)).one()
        assert (note.author, note.sections["decision"]) == (kyc.EXCHANGE, "approve")
        assert outbox.pending(session, kyc.KYC_DECIDED) == 0


def test_an_analysts_decision_stands_against_the_exchange(engine: Engine) -> None:
    sessions = opened(engine)
    with unit_of_work(sessions) as session:
        sam = user(session, "sam", Role.SENIOR_ANALYST)
        review_outcomes.decide_review(
            session, sam, the_review(session).id, "reject", "forged passport", now=NOW
        )
    drain(sessions)
    log(sessions, decided("acc-1", s.KycResult.APPROVED))
    follow(sessions)
    with sessions() as session:
        review = the_review(session)
        assert (review.status, review.decided_by) == (KycReviewStatus.REJECTED, "sam")
        none = select(AuditEntry).where(AuditEntry.action == "kyc_review.exchange_decided")
        assert session.scalars(none).all() == []
        assert the_case(session).reason_code == "kyc_rejected"


def test_a_replayed_exchange_decision_changes_nothing(engine: Engine) -> None:
    sessions = opened(engine)
    event = decided("acc-1", s.KycResult.RESUBMIT)
    log(sessions, event)
    follow(sessions)
    with unit_of_work(sessions) as session:
        again = kyc.exchange_decided(session, [event], now=NOW)
        assert again == []  # waiting for more information: the same event decides nothing new
    with sessions() as session:
        assert the_review(session).status is KycReviewStatus.MORE_INFO
        # nobody works the case: asking for more leaves it in its queue, told
        case = the_case(session)
        assert case.status is CaseStatus.NEW and len(followed(session, case.id)) == 1


class Checkpoint(Feed):
    """The monitor's checkpoint where the test puts it."""

    def __init__(self) -> None:
        self.at = 0

    def position(self, session: Session) -> int:
        return self.at


def monitor_alert(sessions: sessionmaker[Session], event: s.Event, seq: int) -> None:
    """What the monitor's batch publishes for a live review hit on ``event`` (log ``seq``)."""
    message = {
        "rule_id": "ATO-001",
        "rule_version": 1,
        "event_id": event.event_id,
        "account_id": event.account_id,
        "seq": seq,
        "row": 0,
        "score": 70,
        "action": "review",
        "shadow": False,
        "reason": "new device",
        "typology": "account_takeover",
        "created_at": NOW.isoformat(),
        "usd_value": None,
        "event_type": "login",
        "occurred_at": event.occurred_at.isoformat(),
    }
    with unit_of_work(sessions) as session:
        outbox.publish(session, service.ALERT_RAISED, message, now=NOW)


def grouping(session: Session, account: str) -> list[tuple[str, bool, int]]:
    """The account's case alerts: kind, duplicate or not, and their case's alert count."""
    rows = session.execute(
        select(CaseAlert.kind, CaseAlert.duplicate_of, Case.alert_count)
        .join(Case, Case.id == CaseAlert.case_id)
        .where(Case.account_id == account)
    )
    return sorted((kind, dup is not None, n) for kind, dup, n in rows)


def test_the_case_grouping_is_the_logs_whoever_got_further_first(engine: Engine) -> None:
    """The same log for two accounts (submitted, decided by the exchange, then a login the
    monitor alerts on), delivered in the two orders the worker's loop can take: for acc-a the
    monitor's alert on the login is delivered before the accounts follower reads the
    submission and the decision (the monitor is ahead); for acc-b the follower's decision is
    delivered before the monitor gets to the login. The grouping must not differ (it did when
    the exchange's decision closed the case: acc-b's login then opened a second case)."""
    sessions = session_factory(engine)
    feed = Checkpoint()
    later = {
        a: s.Login(
            event_id=f"{a}-login", account_id=a, occurred_at=NOW + timedelta(hours=1), success=True
        )
        for a in ("acc-a", "acc-b")
    }
    log(
        sessions,
        submitted("acc-a"),
        decided("acc-a", s.KycResult.APPROVED),
        later["acc-a"],
        msgspec.structs.replace(submitted("acc-b"), full_name="Berta Muster"),  # no name shared
        decided("acc-b", s.KycResult.APPROVED),
        later["acc-b"],
    )

    def followers(upto: int) -> None:
        feed.at = upto
        tasks.follow(sessions, feed, watch())
        drain(sessions)

    monitor_alert(sessions, later["acc-a"], 3)  # the monitor's batch up to seq 3
    drain(sessions)  # delivered before the follower gets there
    followers(3)
    followers(5)  # acc-b: the follower's decision is delivered first
    monitor_alert(sessions, later["acc-b"], 6)
    drain(sessions)
    followers(6)
    with sessions() as session:
        assert grouping(session, "acc-a") == grouping(session, "acc-b")
        kinds = [kind for kind, _, _ in grouping(session, "acc-b")]
        assert "ATO-001" in kinds and "kyc_review" in kinds  # one case: the review, the login
        assert {n for _, _, n in grouping(session, "acc-b")} == {len(kinds)}
        for account in ("acc-a", "acc-b"):
            review = the_review(session, account)
            assert review.status is KycReviewStatus.APPROVED
            [told] = followed(session, the_case(session, account).id)
            assert told.detail["decision"] == "approve"
