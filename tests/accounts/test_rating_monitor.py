"""The monitor's batch keeps ratings and KYC reviews current (``accounts.watch``): alerts,
holds and blocks become signals, a submission a review, and a replayed batch changes
nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from monitor_fakes import FakeEvaluator, at, deposit, records, trade, withdrawal
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.accounts import kyc, rating
from riskops.accounts.models import (
    AccountRatingChange,
    AccountSignal,
    KycReview,
    RatingBand,
    SignalKind,
)
from riskops.accounts.watch import AccountWatch
from riskops.events import schemas as s
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import service
from riskops.monitor.engine import Monitor


def _no_lists(*_args: object) -> list[kyc.ScreenMatch] | None:
    return None


def watch() -> AccountWatch:
    checks = kyc.Checks(
        screen=_no_lists, ip_country=lambda _ip: None, phone_country=lambda _p, _r: None
    )
    return AccountWatch(checks=checks)


def events() -> list[s.Event]:
    return [
        s.AccountCreated(event_id="c1", account_id="a", occurred_at=at(0), country="DE"),
        s.KycSubmitted(
            event_id="k1",
            account_id="a",
            occurred_at=at(1),
            level=2,
            full_name="Anna Schmidt",
            date_of_birth=date(1990, 1, 1),
            nationality="DE",
            document_country="DE",
            document_type="passport",
        ),
        withdrawal("w1", "a", "20000.00", minutes=2),  # hold: BIG-1 (score 40)
        withdrawal("w2", "b", "10.00", address="bad", minutes=3),  # block: BAD-1
        deposit("d1", "a", "5000.00", minutes=4),  # a shadow hit: no signal
        trade("t1", "c", minutes=5),  # nothing for the accounts
    ]


def test_a_batch_records_signals_opens_reviews_and_rates_the_accounts_it_touched(
    engine: Engine,
) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        service.process_batch(
            session, Monitor(FakeEvaluator()), records(events()), accounts_watch=watch()
        )
    with sessions() as session:
        signals = {(x.account_id, x.kind, x.ref) for x in session.scalars(select(AccountSignal))}
        assert signals == {
            ("a", SignalKind.ALERT, "BIG-1:w1:0"),
            ("a", SignalKind.HOLD, "w1"),
            ("b", SignalKind.ALERT, "BAD-1:w2:0"),
            ("b", SignalKind.BLOCK, "w2"),
        }
        review = session.scalars(select(KycReview)).one()
        assert (review.account_id, review.event_id) == ("a", "k1")
        a, b = rating.current(session, "a"), rating.current(session, "b")
        assert rating.current(session, "c") is None  # nothing changed its inputs
        assert a is not None and b is not None
        assert {r.code for r in a.reasons} >= {"ALERTS_MEDIUM", "HELD_WITHDRAWALS", "KYC_PENDING"}
        assert {r.code for r in b.reasons} >= {"BLOCKED_EVENTS", "KYC_NONE"}
        assert a.band in RatingBand and b.band in RatingBand
        assert outbox.pending(session, kyc.ALERT_RAISED) >= 2  # the monitor's and the review's


def test_a_replayed_batch_changes_nothing(engine: Engine) -> None:
    sessions = session_factory(engine)
    for _ in range(2):
        with unit_of_work(sessions) as session:
            service.process_batch(
                session, Monitor(FakeEvaluator()), records(events()), accounts_watch=watch()
            )
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AccountSignal)) == 4
        assert session.scalar(select(func.count()).select_from(KycReview)) == 1
        history = session.scalar(select(func.count()).select_from(AccountRatingChange))
        assert history == 2  # one per account, the first time


def test_without_a_watch_the_monitor_does_no_account_work(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        service.process_batch(session, Monitor(FakeEvaluator()), records(events()))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AccountSignal)) == 0
        assert rating.current(session, "a") is None
