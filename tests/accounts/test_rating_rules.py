"""Rules read the account's rating as ``account.rating`` and ``account.rating_band``: the
monitor fills them from the ratings stored (``RatingCache``), both engines agree on them,
and history (a backtest) has none, so such a rule never hits there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from monitor_fakes import withdrawal
from sqlalchemy.engine import Engine

from riskops.accounts import rating
from riskops.accounts.models import AccountProfile, RatingBand
from riskops.events.flat import to_rows
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.engine import Monitor
from riskops.rules.lists import ListStore
from riskops.rules.parity import parity_check
from riskops.rules.parse import RuleParseError, parse_rules
from riskops.rules.stream import StreamEvaluator
from riskops.rules.types import Action

RULES = """
- id: RATED-1
  version: 1
  status: live
  name: Large withdrawal by a high-risk account
  typology: behaviour_change
  when: [withdrawal.requested]
  if:
    all:
      - {field: usd_cents, gte: 100000}
      - any:
          - {field: account.rating, gte: 60}
          - {field: account.rating_band, in: [high, prohibited]}
  action: hold
  score: 50
  reason: "USD {usd:.2f} withdrawn by an account rated high"
"""
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def monitor(ratings: dict[str, tuple[int, str]]) -> Monitor:
    evaluator = StreamEvaluator(parse_rules(RULES), ListStore())
    return Monitor(evaluator, ratings=ratings.get)


def test_a_rule_on_the_rating_holds_a_high_risk_accounts_withdrawal() -> None:
    m = monitor({"risky": (72, "high"), "calm": (10, "low"), "banned": (5, "prohibited")})
    decided = {
        account: m.decide(withdrawal(f"w-{account}", account, "5000.00"), i)[0].outcome
        for i, account in enumerate(["risky", "calm", "banned", "unrated"], start=1)
    }
    assert decided == {
        "risky": Action.HOLD,
        "calm": Action.ALLOW,
        "banned": Action.HOLD,  # by band, whatever the score
        "unrated": Action.ALLOW,  # null: unknown, never a hit
    }
    small = m.decide(withdrawal("w-small", "risky", "10.00"), 9)[0]
    assert small.outcome is Action.ALLOW


def test_both_engines_agree_on_the_rating_fields() -> None:
    rows = []
    for i, (account, rated) in enumerate(
        [("risky", (72, "high")), ("calm", (10, "low")), ("unrated", None)], start=1
    ):
        for row in to_rows(withdrawal(f"w{i}", account, "5000.00", minutes=i), i):
            if rated is not None:
                row["account.rating"], row["account.rating_band"] = rated
            rows.append(row)
    assert parity_check(parse_rules(RULES), ListStore(), rows) == []


def test_a_rating_field_is_type_checked() -> None:
    bad = RULES.replace("{field: account.rating, gte: 60}", "{field: account.rating, gte: high}")
    with pytest.raises(RuleParseError, match="cannot compare"):
        parse_rules(bad)
    history = to_rows(withdrawal("w", "a", "1.00"), 1)[0]  # no rating in an event
    assert (history["account.rating"], history["account.rating_band"]) == (None, None)


def test_the_cache_reads_stored_ratings_and_then_only_changes(engine: Engine) -> None:
    sessions = session_factory(engine)
    cache = rating.RatingCache()
    with unit_of_work(sessions) as session:
        session.add(AccountProfile(account_id="a", corporate=False, kyc_level=0, updated_at=NOW))
        session.flush()
        rating.recompute(session, "a", now=NOW)
    with sessions() as session:
        assert cache.refresh(session) == 1
        assert cache.get("a") == (30, RatingBand.MEDIUM.value)
        assert cache.get("b") is None
    later = NOW + timedelta(minutes=1)
    with unit_of_work(sessions) as session:
        rating.record_case_outcome(session, "a", 1, "sar_referred", at=later)
    with sessions() as session:
        assert cache.refresh(session) == 1  # only the change (and what the overlap re-reads)
        assert cache.get("a") == (65, RatingBand.HIGH.value)
    cache.overlap = timedelta(0)
    with sessions() as session:
        assert cache.refresh(session) == 0


def test_the_cache_does_not_read_back_what_the_monitor_told_it(engine: Engine) -> None:
    sessions = session_factory(engine)
    cache = rating.RatingCache()
    with sessions() as session:
        assert cache.refresh(session) == 0
    with unit_of_work(sessions) as session:  # a monitor batch: computes, tells the cache
        session.add(AccountProfile(account_id="m", corporate=False, kyc_level=0, updated_at=NOW))
        session.flush()
        cache.note(rating.recompute_many(session, ["m"], trigger="monitor", now=NOW), NOW)
    assert cache.get("m") == (30, "medium")
    with sessions() as session:
        assert cache.refresh(session) == 0  # its own write, within the overlap: not re-read
    with unit_of_work(sessions) as session:  # another writer, later
        rating.record_case_outcome(session, "m", 3, "escalated", at=NOW + timedelta(seconds=1))
    with sessions() as session:
        assert cache.refresh(session) == 1 and cache.get("m") == (40, "medium")


def test_a_late_commit_is_read_at_the_next_recheck_of_the_overlap(engine: Engine) -> None:
    """Between rechecks a refresh reads only what is newer than the newest seen (the
    follower's ratings are not read back batch after batch); a rating committed late, with
    an earlier time, is read when the overlap is rechecked."""
    sessions = session_factory(engine)
    ticks = [0.0]
    cache = rating.RatingCache(recheck_s=1.0, clock=lambda: ticks[0])
    with unit_of_work(sessions) as session:
        for account in ("x", "y"):
            session.add(
                AccountProfile(account_id=account, corporate=False, kyc_level=0, updated_at=NOW)
            )
        session.flush()
        rating.recompute(session, "x", now=NOW + timedelta(seconds=2))
    with sessions() as session:
        assert cache.refresh(session) == 1  # loaded: x
    with unit_of_work(sessions) as session:  # committed after x, stamped before it
        rating.recompute(session, "y", now=NOW + timedelta(seconds=1))
    with sessions() as session:
        assert cache.refresh(session) == 0 and cache.get("y") is None  # not rechecked yet
    ticks[0] = 1.5
    with sessions() as session:
        assert cache.refresh(session) == 2  # the window: x again, and the late y
        assert cache.get("y") == (30, RatingBand.MEDIUM.value)
    with sessions() as session:
        assert cache.refresh(session) == 0  # rechecked a moment ago: only what is newer
