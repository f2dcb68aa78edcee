"""The domains tell the exchange's webhooks in their own transactions: a held and a blocked
withdrawal (the monitor's batch), a resolved hold, a case closed, an account restricted and
lifted. Each payload carries ids, kinds, amounts and reasons, never a note."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.accounts import service as accounts
from riskops.accounts.models import RestrictionKind
from riskops.auth.permissions import Principal, Role
from riskops.cases import alert_intake
from riskops.cases import holds as case_holds
from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.models import CaseStatus
from riskops.cases.repository import get_case, open_case_of
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.outbound import webhooks
from riskops.outbound.models import OutboundMessage

sys.path.append(str(Path(__file__).resolve().parents[1] / "monitor"))
from monitor_fakes import FakeEvaluator, records, withdrawal

ADMIN = Principal.for_user(1, "ada", Role.ADMIN)
SENIOR = Principal.for_user(2, "sam", Role.SENIOR_ANALYST)


def told(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    with session_factory(engine)() as s:
        rows = s.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
        return [(str(m.topic), json.loads(m.body)["data"]) for m in rows]


def test_domains_emit_their_topics_in_their_transactions(engine: Engine) -> None:
    sessions = session_factory(engine)
    webhooks.invalidate()
    with unit_of_work(sessions) as s:
        ensure_default_queues(s)
        webhooks.create_subscription(
            s, ADMIN, url="https://exchange.example/hooks", topics=list(webhooks.TOPICS)
        )
    events = [withdrawal("big", "h1", "23856.00"), withdrawal("bad", "h2", "50.00", "bad")]
    with unit_of_work(sessions) as s:
        monitor.process_batch(s, Monitor(FakeEvaluator()), records(events))
        alert_intake.drain_outbox(s)
    [(held_topic, held), (blocked_topic, blocked)] = told(engine)
    assert (held_topic, blocked_topic) == ("decision.held", "decision.blocked")
    assert held["event_id"] == "big" and held["account_id"] == "h1"
    assert held["usd_value"] == "23856.00" and held["asset"] == "BTC"
    assert held["reasons"] == [{"rule_id": "BIG-1", "reason": "big withdrawal"}]
    assert blocked["event_id"] == "bad" and blocked["reasons"][0]["rule_id"] == "BAD-1"

    with unit_of_work(sessions) as s:
        [hold_id] = monitor_repo.hold_ids(s, ["big"]).values()
        case = open_case_of(s, "h1")
        assert case is not None
        case_id = case.id
        monitor.resolve_hold(s, SENIOR, hold_id, "reject", "scam victim: funds kept")
        case_holds.deliver(s)  # the case learns of it: its only hold settled, it closes
        assert (c := get_case(s, case_id)) is not None and c.status is CaseStatus.CLOSED
    topics = [t for t, _ in told(engine)]
    assert topics[2:] == ["hold.resolved", "case.closed"]
    resolved, closed = told(engine)[2][1], told(engine)[3][1]
    assert resolved["hold_id"] == hold_id and resolved["status"] == "rejected"
    assert "note" not in resolved
    assert closed["case_id"] == case_id and closed["outcome"] == "restricted"

    with unit_of_work(sessions) as s:
        r = accounts.restrict(s, SENIOR, "h1", RestrictionKind.WITHDRAWAL_LOCK, "ATO suspected")
        accounts.lift(s, SENIOR, "h1", r.id, "customer verified")
    [(t1, restricted), (t2, lifted)] = told(engine)[4:]
    assert (t1, t2) == ("account.restricted", "account.restriction_lifted")
    assert restricted["kind"] == "withdrawal_lock" and "reason" not in restricted
    assert lifted["lifted_at"] is not None
    webhooks.invalidate()


def test_no_subscription_no_message(engine: Engine) -> None:
    webhooks.invalidate()
    with unit_of_work(session_factory(engine)) as s:
        monitor.process_batch(s, Monitor(FakeEvaluator()), records([withdrawal("b", "x", "2e4")]))
    assert told(engine) == []
