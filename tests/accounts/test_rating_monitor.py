"""The accounts follower keeps ratings and KYC reviews current behind the monitor
(``accounts.tasks``): the monitor's alerts, holds and blocks become signals, a submission a
review; it never reads past the monitor's checkpoint; a crash loses nothing and a replay
changes nothing; the monitor's own batch does no account work. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from monitor_fakes import FakeEvaluator, at, deposit, trade, withdrawal
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.accounts import kyc, rating, tasks
from riskops.accounts.models import (
    AccountProfile,
    AccountRatingChange,
    AccountsCursor,
    AccountSignal,
    KycReview,
    RatingBand,
    SignalKind,
)
from riskops.accounts.watch import AccountWatch
from riskops.events import follow as log_follow
from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service
from riskops.monitor.engine import Monitor

FEED = service.AccountFeed()


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


SIGNALS = {
    ("a", SignalKind.ALERT, "BIG-1:w1:0"),
    ("a", SignalKind.HOLD, "w1"),
    ("b", SignalKind.ALERT, "BAD-1:w2:0"),
    ("b", SignalKind.BLOCK, "w2"),
}


def _ingest(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        ingest(session, [(None, e) for e in events()], source="file")


def _monitor(sessions: sessionmaker[Session], monitor: Monitor, upto: int) -> None:
    """The monitor's batch over the log after its checkpoint, up to ``upto``."""
    with unit_of_work(sessions) as session:
        after = monitor_repo.get_checkpoint(session, "default")
        rows = [r for r in monitor_repo.log_after(session, after, 100) if r.seq <= upto]
        service.process_batch(session, monitor, rows)


def state(sessions: sessionmaker[Session]) -> tuple[Any, ...]:
    with sessions() as session:
        signals = {(x.account_id, x.kind, x.ref) for x in session.scalars(select(AccountSignal))}
        reviews = sorted(r.event_id for r in session.scalars(select(KycReview)))
        history = session.scalar(select(func.count()).select_from(AccountRatingChange))
        ratings = {a: rating.current(session, a) for a in "abc"}
        bands = {a: (r.score, r.band) if r else None for a, r in ratings.items()}
        return signals, reviews, history, bands, outbox.pending(session, kyc.ALERT_RAISED)


def test_the_follower_records_signals_opens_reviews_and_rates_behind_the_monitor(
    engine: Engine,
) -> None:
    sessions = session_factory(engine)
    _ingest(sessions)
    _monitor(sessions, Monitor(FakeEvaluator()), 6)
    with sessions() as session:  # the monitor's batch did no account work
        assert session.scalar(select(func.count()).select_from(AccountSignal)) == 0
        assert session.scalar(select(func.count()).select_from(AccountProfile)) == 0
    progress = tasks.follow(sessions, FEED, watch())
    assert progress.caught_up and (progress.events, progress.reviews) == (2, 1)
    with sessions() as session:
        assert tasks.cursor(session) == 6
        signals = {(x.account_id, x.kind, x.ref) for x in session.scalars(select(AccountSignal))}
        assert signals == SIGNALS
        held = session.scalars(select(AccountSignal).where(AccountSignal.ref == "w1")).one()
        assert held.detail.endswith("held")
        review = session.scalars(select(KycReview)).one()
        assert (review.account_id, review.event_id) == ("a", "k1")
        a, b = rating.current(session, "a"), rating.current(session, "b")
        assert rating.current(session, "c") is None  # nothing changed its inputs
        assert a is not None and b is not None
        assert {r.code for r in a.reasons} >= {"ALERTS_MEDIUM", "HELD_WITHDRAWALS", "KYC_PENDING"}
        assert {r.code for r in b.reasons} >= {"BLOCKED_EVENTS", "KYC_NONE"}
        assert a.band in RatingBand and b.band in RatingBand
        assert outbox.pending(session, kyc.ALERT_RAISED) >= 2  # the monitor's and the review's


def test_the_follower_never_reads_past_the_monitors_checkpoint(engine: Engine) -> None:
    sessions = session_factory(engine)
    _ingest(sessions)
    nothing = tasks.follow(sessions, FEED, watch())
    assert nothing.caught_up and (nothing.events, nothing.signals) == (0, 0)
    with sessions() as session:
        assert tasks.cursor(session) == 0  # the monitor decided nothing yet
    monitor = Monitor(FakeEvaluator())
    _monitor(sessions, monitor, 3)  # created, submitted, the held withdrawal
    first = tasks.follow(sessions, FEED, watch())
    assert (first.events, first.reviews, first.signals) == (2, 1, 2)
    with sessions() as session:
        assert tasks.cursor(session) == 3
        assert rating.current(session, "b") is None  # its block is not decided yet
    _monitor(sessions, monitor, 6)
    rest = tasks.follow(sessions, FEED, watch())
    assert (rest.events, rest.signals) == (0, 2)
    assert state(sessions)[0] == SIGNALS


def test_a_crash_loses_nothing_and_a_replay_changes_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = session_factory(engine)
    _ingest(sessions)
    _monitor(sessions, Monitor(FakeEvaluator()), 6)

    def dies(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("killed")  # the batch is written, then the process dies

    monkeypatch.setattr(log_follow, "advance", dies)
    with pytest.raises(RuntimeError):
        tasks.follow(sessions, FEED, watch())
    monkeypatch.undo()
    with sessions() as session:
        assert tasks.cursor(session) == 0
    assert state(sessions)[:3] == (set(), [], 0)  # rolled back with the cursor
    # Restarted: in small batches (two events, three log positions each).
    progress = tasks.follow(sessions, FEED, watch(), limit=2, span=3)
    assert progress.caught_up and progress.batches == 3  # (k1], (k1, 5], (5, 6]
    done = state(sessions)
    # a rated after its submission, then after its hold; b after its block
    assert done[0] == SIGNALS and done[1] == ["k1"] and done[2] == 3
    # Replayed from the start (the cursor lost): nothing is written again.
    with unit_of_work(sessions) as session:
        session.execute(delete(AccountsCursor))
    replay = tasks.follow(sessions, FEED, watch())
    assert replay.reviews == 0 and replay.rated == 2
    assert state(sessions) == done
