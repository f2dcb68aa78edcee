"""Batch processing (outbox writes), holds and restrictions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from monitor_fakes import FakeEvaluator, Record, deposit, records, trade, transfer, withdrawal
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.kernel.clock import utcnow
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, ValidationFailed
from riskops.monitor import repository as repo
from riskops.monitor import service
from riskops.monitor.engine import Monitor
from riskops.monitor.models import Alert, Decision, Hold, HoldStatus


def count(engine: Engine, model: type) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def batch() -> list[Record]:
    return records(
        [
            withdrawal("w1", "a", "20000.00"),  # hold: BIG-1
            deposit("d1", "a", "5000.00"),  # allow with a shadow hit: stored, alert
            deposit("d2", "a", "5.00"),  # plain allow: counted, not stored
            withdrawal("w2", "b", "10.00", address="bad"),  # block
            withdrawal("w3", "c", "10.00"),  # allow on a withdrawal: stored
            trade("t1", "c"),  # plain allow
            transfer("x1", "a", "b", "10.00"),  # two plain allows
        ]
    )


def test_batch_writes_decisions_alerts_holds_and_checkpoint(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        result = service.process_batch(session, Monitor(FakeEvaluator()), batch())
    assert (result.events, result.rows, result.last_seq, result.stored) == (7, 8, 7, 4)
    assert result.outcomes == {"hold": 1, "allow": 6, "block": 1}
    assert result.alerts == {"BIG-1": 1, "SHD-1": 1, "BAD-1": 1}
    with sessions() as session:
        decisions = {d.event_id: d for d in session.scalars(select(Decision))}
        assert set(decisions) == {"w1", "d1", "w2", "w3"}
        assert decisions["w1"].reasons == [
            {"rule_id": "BIG-1", "action": "hold", "score": 40, "reason": "big withdrawal"}
        ]
        alerts = {(a.rule_id, a.event_id): a for a in session.scalars(select(Alert))}
        assert set(alerts) == {("BIG-1", "w1"), ("SHD-1", "d1"), ("BAD-1", "w2")}
        assert alerts[("SHD-1", "d1")].shadow is True
        [hold] = session.scalars(select(Hold)).all()
        assert (hold.event_id, hold.status, hold.withdrawal_id) == ("w1", HoldStatus.HELD, "w-w1")
        assert hold.amount == Decimal("0.123456789012345678")
        assert hold.usd_value == Decimal("20000.00")
        assert repo.get_checkpoint(session, "default") == 7


def test_replay_duplicates_nothing_and_checkpoint_never_goes_back(engine: Engine) -> None:
    sessions = session_factory(engine)
    for _ in range(2):  # the second pass is a replay after a restart from an old snapshot
        with unit_of_work(sessions) as session:
            service.process_batch(session, Monitor(FakeEvaluator()), batch())
    with unit_of_work(sessions) as session:
        service.process_batch(session, Monitor(FakeEvaluator()), batch()[:2])
    assert (count(engine, Decision), count(engine, Alert), count(engine, Hold)) == (4, 3, 1)
    with sessions() as session:
        assert repo.get_checkpoint(session, "default") == 7


def test_batch_is_one_transaction(engine: Engine) -> None:
    broken = [*batch()[:3], Record(4, '{"type": "nonsense"}')]
    with pytest.raises(Exception), unit_of_work(session_factory(engine)) as session:  # noqa: B017
        service.process_batch(session, Monitor(FakeEvaluator()), broken)
    assert (count(engine, Decision), count(engine, Alert), count(engine, Hold)) == (0, 0, 0)
    with session_factory(engine)() as session:
        assert repo.get_checkpoint(session, "default") == 0


def test_hold_state_machine() -> None:
    assert service.next_hold_status(HoldStatus.HELD, "reject") is HoldStatus.REJECTED
    with pytest.raises(Conflict):
        service.next_hold_status(HoldStatus.REJECTED, "release")
    with pytest.raises(ValidationFailed):
        service.next_hold_status(HoldStatus.HELD, "approve")


def test_young_gaps_are_waited_for_old_gaps_skipped() -> None:
    from dataclasses import dataclass
    from datetime import datetime

    from riskops.monitor.evaluators import ready_prefix

    @dataclass
    class Row:
        seq: int
        payload: str
        received_at: datetime

    now = utcnow()
    old, young = now - timedelta(seconds=30), now - timedelta(milliseconds=100)
    grace = timedelta(seconds=2)
    rows = [Row(1, "", old), Row(2, "", young), Row(4, "", young), Row(5, "", young)]
    assert [r.seq for r in ready_prefix(rows, 0, now, grace)] == [1, 2]
    assert ready_prefix(rows[2:], 2, now, grace) == []  # 3 may still commit
    assert len(ready_prefix(rows[2:], 2, now + grace, grace)) == 2  # 3 never will
    aged = [Row(1, "", old), Row(7, "", old)]
    assert len(ready_prefix(aged, 0, now, grace)) == 2
    assert [r.seq for r in ready_prefix(rows[1:], 0, now, grace)] == []
