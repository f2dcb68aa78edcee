"""The monitor's hot inserts (``repository.insert_ignore``): on SQLite the rows go to the
driver as the values SQLAlchemy's own bind processors make; the stored text must be what
Core's insert stores, and a replay must change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert as core_insert
from sqlalchemy import text
from sqlalchemy.engine import Engine

from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work
from riskops.monitor import repository as repo
from riskops.monitor.models import Alert, Decision, DecisionOutcome, Hold, HoldStatus

NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _decision(i: int, outcome: DecisionOutcome) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "row": i % 2,
        "account_id": f"acc-{i}",
        "seq": 100 + i,
        "event_type": "withdrawal.requested",
        "outcome": outcome,
        "score": 10 * i,
        "reasons": [{"rule_id": "R-1", "reason": 'big \u00e9 "quoted"', "score": i}],
        "rule_ids": ["R-1", "R-2"] if i % 2 else [],
        # the batch's one time for most rows, another zone for one: stored as UTC
        "decided_at": NOW if i != 2 else NOW.astimezone(timezone_plus_two()),
        "latency_us": 5 * i,
    }


def timezone_plus_two() -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=2))


def _alert(i: int) -> dict[str, Any]:
    return {
        "rule_id": f"R-{i % 3}",
        "rule_version": 1 + i,
        "typology": "fraud",
        "event_id": f"e{i}",
        "row": 0,
        "account_id": f"acc-{i}",
        "seq": 100 + i,
        "action": DecisionOutcome.REVIEW if i % 2 else DecisionOutcome.HOLD,
        "score": 40,
        "reason": f"reason {i}",
        "shadow": bool(i % 3 == 0),
        "created_at": NOW,
    }


def _hold(i: int) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "account_id": f"acc-{i}",
        "withdrawal_id": f"w{i}" if i % 2 else None,
        "asset": "USDT",
        "amount": Decimal("25006.123456789012345678"),
        "usd_value": Decimal("25006.00"),
        "status": HoldStatus.HELD,
        "reasons": [{"rule_id": "BIG-1", "reason": "large"}],
        "created_at": NOW,
    }


def _engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


def _stored(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


def test_sqlite_rows_are_stored_as_core_stores_them(tmp_path: Path) -> None:
    fast, core = _engine(tmp_path / "fast.db"), _engine(tmp_path / "core.db")
    batches = {
        Decision: [_decision(i, list(DecisionOutcome)[i % 4]) for i in range(6)],
        Alert: [_alert(i) for i in range(7)],
        Hold: [_hold(i) for i in range(3)],
    }
    for model, rows in batches.items():
        with unit_of_work(session_factory(fast)) as session:
            repo.insert_ignore(session, model, rows)
        with unit_of_work(session_factory(core)) as session:  # Core's insert, as on PostgreSQL
            stmt = repo._insert_ignore_stmt("sqlite", model.__table__)
            session.connection().execute(stmt, rows)
    for table in ("monitor_decisions", "monitor_alerts", "monitor_holds"):
        stored = _stored(fast, table)
        assert stored and stored == _stored(core, table), table
    assert any(
        "2026-03-04 05:06:07.891011" in map(str, row) for row in _stored(fast, "monitor_decisions")
    )
    # read back through the models: the types' own results
    with session_factory(fast)() as session:
        decisions = repo.decisions_for(session, ["e2", "e3"])
        assert decisions["e2"].decided_at == NOW and decisions["e2"].reasons[0]["score"] == 2
        hold = repo.holds_by_ids(session, [1])[0]
        assert hold.amount == Decimal("25006.123456789012345678") and hold.status is HoldStatus.HELD
    fast.dispose()
    core.dispose()


def test_a_replayed_insert_changes_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "replay.db")
    rows = [_alert(i) for i in range(4)]
    for _ in range(2):
        with unit_of_work(session_factory(engine)) as session:
            repo.insert_ignore(session, Alert, rows)
    assert len(_stored(engine, "monitor_alerts")) == 4
    engine.dispose()


def test_sqlite_checkpoint_moves_as_core_moves_it(tmp_path: Path) -> None:
    fast, core = _engine(tmp_path / "fast.db"), _engine(tmp_path / "core.db")
    later = NOW + timedelta(seconds=3)
    # forward, backward (a replay behind it: the seq stays, the time moves), another name,
    # a time in another zone (stored as UTC)
    moves = [("m", 10, NOW), ("m", 7, later), ("n", 3, NOW.astimezone(timezone_plus_two()))]
    for name, seq, at in moves:
        with unit_of_work(session_factory(fast)) as session:
            repo.advance_checkpoint(session, name, seq, at)
        with unit_of_work(session_factory(core)) as session:  # Core's upsert, as on PostgreSQL
            params = {"name": name, "seq": seq, "now": at}
            session.connection().execute(repo._advance_stmt("sqlite"), params)
    query = "SELECT * FROM monitor_checkpoints ORDER BY name"
    with fast.connect() as a, core.connect() as b:
        stored = [tuple(r) for r in a.execute(text(query))]
        assert stored == [tuple(r) for r in b.execute(text(query))]
    assert [row[:2] for row in stored] == [("m", 10), ("n", 3)]
    with session_factory(fast)() as session:
        assert repo.get_checkpoint(session, "m") == 10
    fast.dispose()
    core.dispose()


def test_sqlite_alert_messages_are_stored_as_core_stores_them(tmp_path: Path) -> None:
    from riskops.kernel import outbox
    from riskops.kernel.models import OutboxMessage
    from riskops.monitor.service import ALERT_RAISED

    fast, core = _engine(tmp_path / "fast.db"), _engine(tmp_path / "core.db")
    payloads = [
        {**_alert(i), "action": "review", "created_at": NOW.isoformat(), "usd_value": None}
        for i in range(3)
    ]
    payloads[1]["reason"] = 'big \u00e9 "quoted"'
    at = NOW.astimezone(timezone_plus_two())  # stored as UTC
    for _ in range(2):  # two groups: the ids go on
        with unit_of_work(session_factory(fast)) as session:
            assert outbox.publish_many(session, ALERT_RAISED, payloads, now=at) == 3
        with unit_of_work(session_factory(core)) as session:  # Core's insert, as on PostgreSQL
            rows = [{"topic": ALERT_RAISED, "payload": p, "created_at": at} for p in payloads]
            session.connection().execute(core_insert(OutboxMessage), rows)
    stored = _stored(fast, "kernel_outbox")
    assert len(stored) == 6 and stored == _stored(core, "kernel_outbox")
    with unit_of_work(session_factory(fast)) as session:
        assert outbox.take(session, ALERT_RAISED, 10) == payloads + payloads
