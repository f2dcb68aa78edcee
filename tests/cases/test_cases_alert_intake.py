"""Alert intake: idempotency, routing, grouping, duplicates, queue moves, races, the monitor."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from case_fakes import T0, alert, at, count, waiting
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.cases import alert_intake
from riskops.cases.domain import priority
from riskops.cases.models import (
    AlertSource,
    Case,
    CaseAlert,
    CaseEvent,
    CaseStatus,
    Queue,
)
from riskops.cases.tasks import drain
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import ValidationFailed
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.monitor.models import Alert as MonitorAlert
from riskops.monitor.models import Hold


def events(engine: Engine, case_id: int) -> list[str]:
    with session_factory(engine)() as session:
        stmt = select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return list(session.scalars(stmt))


def test_default_queues_are_seeded_once(engine: Engine) -> None:
    sessions = session_factory(engine)
    for _ in range(2):
        with unit_of_work(sessions) as session:
            alert_intake.ensure_default_queues(session)
    with sessions() as session:
        slas = {q.key: q.sla_minutes for q in session.scalars(select(Queue))}
    assert slas["held_withdrawals"] == 15
    assert slas["account_takeover"] == 60
    assert slas["aml"] == 24 * 60
    assert slas["screening"] == 24 * 60
    assert len(slas) == 9


def test_same_alert_twice_changes_nothing(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        first = alert_intake.raise_alert(session, alert("r1"), now=T0)
        assert (first.created_alert, first.created_case) == (True, True)
    with unit_of_work(sessions) as session:
        again = alert_intake.raise_alert(session, alert("r1", severity=99), now=at(5))
        assert (again.created_alert, again.created_case) == (False, False)
        assert (again.alert.id, again.case.id) == (first.alert.id, first.case.id)
        assert again.case.severity == 50
    assert (count(engine, CaseAlert), count(engine, Case)) == (1, 1)
    assert events(engine, first.case.id) == ["opened"]


@pytest.mark.parametrize(
    ("kwargs", "queue", "sla"),
    [
        ({"typology": "mule"}, "aml", 24 * 60),
        ({"typology": "sim_swap"}, "account_takeover", 60),
        ({"typology": "card_fraud"}, "fraud", 4 * 60),
        ({"typology": None, "kind": "kyc_review"}, "kyc", 48 * 60),
        (
            {"typology": None, "source": AlertSource.SMS, "kind": "otp_failure"},
            "account_takeover",
            60,
        ),
        ({"source": AlertSource.SERVICE_REQUEST, "kind": "dispute"}, "service_requests", 8 * 60),
        ({"typology": "mule", "hold_id": 7}, "held_withdrawals", 15),
        ({"account": None}, "triage", 2 * 60),
        ({"queue_key": "escalations"}, "escalations", 4 * 60),
    ],
)
def test_routing(sqlite_engine: Engine, kwargs: dict, queue: str, sla: int) -> None:
    with unit_of_work(session_factory(sqlite_engine)) as session:
        result = alert_intake.raise_alert(session, alert("r1", **kwargs), now=T0)
        assert result.case.queue_key == queue
        assert result.case.due_at == T0 + timedelta(minutes=sla)


def test_unknown_queue_and_bad_alert_are_refused(sqlite_engine: Engine) -> None:
    with unit_of_work(session_factory(sqlite_engine)) as session:
        with pytest.raises(ValidationFailed) as bad_queue:
            alert_intake.raise_alert(session, alert("r1", queue_key="nope"))
        assert bad_queue.value.details[0]["field"] == "$.queue_key"
        with pytest.raises(ValidationFailed) as bad:
            alert_intake.raise_alert(session, alert("", severity=101))
        assert {d["field"] for d in bad.value.details} == {"$.source_ref", "$.severity"}


def test_alerts_of_an_account_group_into_its_open_case(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        a = alert_intake.raise_alert(
            session, alert("r1", severity=40, usd="100.00", event_id="e1"), now=T0
        )
        b = alert_intake.raise_alert(
            session, alert("r2", kind="RULE-2", severity=70, usd="50.50", event_id="e2"), now=at(1)
        )
        other = alert_intake.raise_alert(session, alert("r3", account="acc-2"), now=at(2))
    assert (b.created_alert, b.created_case) == (True, False)
    assert b.case.id == a.case.id != other.case.id
    with sessions() as session:
        case = session.get(Case, a.case.id)
        assert case is not None
        assert (case.alert_count, case.severity) == (2, 70)
        assert case.amount_at_risk_usd == Decimal("150.50")
        assert case.priority == priority(70, Decimal("150.50"), 24 * 60)
    assert events(engine, a.case.id) == ["opened", "alert_added"]


def test_duplicates_merge_without_raising_the_case(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        first = alert_intake.raise_alert(session, alert("r1", severity=40, event_id="e1"), now=T0)
        dup = alert_intake.raise_alert(
            session,
            alert("r1-resent", severity=90, usd="999.00", event_id="e1", source=AlertSource.EMAIL),
            now=at(1),
        )
        # another rule on the same event: a new alert, but the money is counted once
        other_rule = alert_intake.raise_alert(
            session, alert("r2", kind="RULE-2", severity=60, event_id="e1"), now=at(2)
        )
    assert dup.alert.duplicate_of == first.alert.id
    assert other_rule.alert.duplicate_of is None
    with sessions() as session:
        case = session.get(Case, first.case.id)
        assert case is not None
        assert (case.alert_count, case.severity) == (2, 60)
        assert case.amount_at_risk_usd == Decimal("100.00")
    assert events(engine, first.case.id) == ["opened", "duplicate_merged", "alert_added"]


def test_unlinked_alerts_each_open_a_triage_case(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        a = alert_intake.raise_alert(session, alert("r1", account=None, event_id="e1"), now=T0)
        b = alert_intake.raise_alert(session, alert("r2", account=None, event_id="e1"), now=T0)
    assert a.case.id != b.case.id
    assert a.case.queue_key == b.case.queue_key == "triage"


def test_shorter_sla_alert_moves_the_case(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        first = alert_intake.raise_alert(session, alert("r1", typology="mule"), now=T0)
        moved = alert_intake.raise_alert(
            session, alert("r2", kind="BIG-1", typology="scam_victim", hold_id=3), now=at(10)
        )
        # a longer SLA alert afterwards does not move it back
        alert_intake.raise_alert(session, alert("r3", kind="KYC", typology="kyc"), now=at(11))
    assert moved.case.id == first.case.id
    with sessions() as session:
        case = session.get(Case, first.case.id)
        assert case is not None
        assert case.queue_key == "held_withdrawals"
        assert case.due_at == at(10 + 15)
    assert events(engine, first.case.id) == [
        "opened",
        "alert_added",
        "moved_queue",
        "alert_added",
    ]


def test_a_closed_case_does_not_take_new_alerts(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        first = alert_intake.raise_alert(session, alert("r1"), now=T0)
        first.case.status = CaseStatus.CLOSED
    with unit_of_work(sessions) as session:
        second = alert_intake.raise_alert(session, alert("r2"), now=at(1))
    assert second.created_case and second.case.id != first.case.id


@pytest.mark.postgres
def test_racing_transactions_open_one_case(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the race needs concurrent writers (PostgreSQL)")
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        alert_intake.ensure_default_queues(session)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def raise_one(ref: str) -> None:
        try:
            with unit_of_work(sessions) as session:
                session.connection()
                barrier.wait()
                alert_intake.raise_alert(session, alert(ref, event_id=ref), now=T0)
                time.sleep(0.2)  # hold the transaction open: the other one must wait on it
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for round_ in range(5):
        barrier.reset()
        threads = [
            threading.Thread(target=raise_one, args=(f"race{round_}-{i}",)) for i in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    with sessions() as session:
        cases = session.scalars(select(Case)).all()
        assert len(cases) == 1
        assert cases[0].alert_count == 10
    assert count(engine, CaseAlert) == 10


def test_monitor_alerts_become_case_alerts_through_the_outbox(engine: Engine) -> None:
    from monitor_fakes import FakeEvaluator, deposit, records, withdrawal

    batch = records(
        [
            withdrawal("w1", "a", "20000.00"),  # hold: BIG-1 (live, hold)
            deposit("d1", "a", "5000.00"),  # shadow hit: no case alert
            withdrawal("w2", "b", "10.00", address="bad"),  # block: BAD-1
            withdrawal("w3", "c", "10.00"),  # allow
        ]
    )
    sessions = session_factory(engine)
    for _ in range(2):  # the second pass is a replay: nothing doubles
        with unit_of_work(sessions) as session:
            monitor.process_batch(session, Monitor(FakeEvaluator()), batch, now=T0)
    assert count(engine, MonitorAlert) == 3
    assert (waiting(engine), count(engine, CaseAlert)) == (4, 0)  # 2 per pass
    assert drain(sessions) == 4
    assert waiting(engine) == 0
    with sessions() as session:
        [hold] = session.scalars(select(Hold)).all()
        alerts = {a.kind: a for a in session.scalars(select(CaseAlert))}
        assert set(alerts) == {"BIG-1", "BAD-1"}
        big = alerts["BIG-1"]
        assert big.source_ref == "BIG-1:w1:0"
        assert (big.account_id, big.severity, big.amount_usd) == ("a", 40, Decimal("20000.00"))
        assert big.detail["hold_id"] == hold.id
        assert big.detail["event_type"] == "withdrawal.requested"
        cases = {c.account_id: c for c in session.scalars(select(Case))}
        assert cases["a"].queue_key == "held_withdrawals"
        assert cases["b"].queue_key == "aml"  # sanctions exposure
        assert "c" not in cases


def test_monitor_batch_rollback_leaves_no_case(engine: Engine) -> None:
    from monitor_fakes import FakeEvaluator, Record, records, withdrawal

    broken = [*records([withdrawal("w1", "a", "20000.00")]), Record(2, '{"type": "nonsense"}')]
    with pytest.raises(Exception), unit_of_work(session_factory(engine)) as session:  # noqa: B017
        monitor.process_batch(session, Monitor(FakeEvaluator()), broken)
    assert waiting(engine) == 0  # the outbox row rolled back with the batch
    assert drain(session_factory(engine)) == 0
    assert (count(engine, CaseAlert), count(engine, Case)) == (0, 0)


def _grouping(engine: Engine) -> dict[str, list[tuple]]:
    """Cases, alerts and events in id order, ids replaced by alert refs and case accounts,
    so two runs (whose sequences differ) can be compared."""
    with session_factory(engine)() as session:
        alerts = list(session.scalars(select(CaseAlert).order_by(CaseAlert.id)))
        cases = list(session.scalars(select(Case).order_by(Case.id)))
        evs = list(session.scalars(select(CaseEvent).order_by(CaseEvent.id)))
    ref = {a.id: a.source_ref for a in alerts}
    first_ref = {c.id: next(a.source_ref for a in alerts if a.case_id == c.id) for c in cases}

    def names(detail: dict) -> dict:
        return {k: ref[v] if k in ("alert_id", "duplicate_of") else v for k, v in detail.items()}

    return {
        "cases": [
            (
                first_ref[c.id],
                c.account_id,
                c.queue_key,
                c.status,
                c.severity,
                c.amount_at_risk_usd,
                c.priority,
                c.alert_count,
                c.typology,
                c.due_at,
                c.version,
            )
            for c in cases
        ],
        "alerts": [
            (a.source_ref, first_ref[a.case_id], ref.get(a.duplicate_of), a.severity)
            for a in alerts
            if a.case_id is not None
        ],
        "events": [
            (first_ref[e.case_id], e.kind, e.to_status, e.reason, list(names(e.detail).items()))
            for e in evs
        ],
    }


def _mixed_batch() -> list:
    return [
        alert("m1", "acc-1", severity=40, event_id="e1"),  # opens a case
        alert("m2", "acc-1", kind="RULE-2", severity=70, event_id="e1"),  # joins, same money
        alert("m3", "acc-1", severity=90, usd="5.00", event_id="e1"),  # duplicate of m1
        alert("m4", "acc-2", typology="mule"),  # opens (aml)
        alert("m5", "acc-2", kind="BIG-1", hold_id=9),  # moves acc-2's case to held
        alert("m6", None, event_id="e1"),  # unlinked: own triage case
        alert("m7", None, event_id="e1"),  # unlinked: another one
        alert("m1", "acc-1", severity=10, event_id="e1"),  # the same alert again
        alert("m8", "acc-3", kind="K", event_id="e8"),
        alert("m9", "acc-3", kind="K", event_id="e8", source=AlertSource.EMAIL),  # dup of m8
        alert("m10", "acc-0", kind="K", event_id="e0"),  # duplicate of a stored alert
        alert("m11", "acc-0", kind="OTHER", usd="7.00"),  # joins a stored case
    ]


def test_a_batch_groups_exactly_like_one_alert_after_another(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:  # before the batch: a case with an alert
        alert_intake.raise_alert(session, alert("m0", "acc-0", kind="K", event_id="e0"), now=T0)
    with unit_of_work(sessions) as session:
        for a in _mixed_batch():
            alert_intake.raise_alert(session, a, now=at(1))
    one_by_one = _grouping(engine)
    with unit_of_work(sessions) as session:  # start over with the same stored case
        session.execute(CaseEvent.__table__.delete())
        session.execute(CaseAlert.__table__.delete())
        session.execute(Case.__table__.delete())
    with unit_of_work(sessions) as session:
        alert_intake.raise_alert(session, alert("m0", "acc-0", kind="K", event_id="e0"), now=T0)
    with unit_of_work(sessions) as session:
        results = alert_intake.raise_alerts(session, _mixed_batch(), now=at(1))
        created = [(r.alert.source_ref, r.created_alert, r.created_case) for r in results]
        assert results[7].alert is results[0].alert and results[7].case is results[0].case
        assert results[2].alert.duplicate_of == results[0].alert.id
        assert results[4].case.queue_key == "held_withdrawals"
    assert _grouping(engine) == one_by_one
    events = one_by_one["events"]
    assert events[-1][:2] == ("m0", "alert_added")  # m11 joined the stored case
    moved = [("from", "aml"), ("to", "held_withdrawals"), ("alert_id", "m5")]
    assert ("m4", "moved_queue", None, "shorter SLA alert", moved) in events
    facts = [("alert_id", "m3"), ("source", "monitor"), ("kind", "RULE-1"), ("severity", 90)]
    merged = [*facts, ("amount_usd", "5.00"), ("duplicate_of", "m1")]
    assert ("m1", "duplicate_merged", None, "", merged) in events
    assert created == [
        ("m1", True, True),
        ("m2", True, False),
        ("m3", True, False),
        ("m4", True, True),
        ("m5", True, False),
        ("m6", True, True),
        ("m7", True, True),
        ("m1", False, False),
        ("m8", True, True),
        ("m9", True, False),
        ("m10", True, False),
        ("m11", True, False),
    ]
    with unit_of_work(sessions) as session:  # the batch again: all stored, nothing changes
        again = alert_intake.raise_alerts(session, _mixed_batch(), now=at(2))
        assert not any(r.created_alert or r.created_case for r in again)
    assert _grouping(engine) == one_by_one
