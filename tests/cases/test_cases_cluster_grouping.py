"""A cluster of linked accounts is one case: its alerts (one per cluster state, from the
links follower) carry the cluster's group key and accounts into the case alert detail and
group by that key, so a cluster that grows gains accounts in one case (ADR 0026, 0008)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.cases.models import Case, CaseAlert
from riskops.cases.tasks import drain
from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.links import tasks as links_tasks
from riskops.links.keeper import ALERT_RAISED, LinkKeeper

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _opened(account: str, device: str, minutes: int) -> s.AccountCreated:
    return s.AccountCreated(
        event_id=f"open-{account}",
        account_id=account,
        occurred_at=T0 + timedelta(minutes=minutes),
        device_id=device,
    )


def _cases(engine: Engine) -> list[tuple[str | None, int, list[list[str]]]]:
    """(case account, alert count, the accounts each of its alerts names) of every case."""
    with session_factory(engine)() as session:
        out = []
        for case in session.scalars(select(Case).order_by(Case.id)):
            alerts = session.scalars(
                select(CaseAlert).where(CaseAlert.case_id == case.id).order_by(CaseAlert.id)
            )
            out.append((case.account_id, case.alert_count, [a.detail["accounts"] for a in alerts]))
        return out


def test_a_growing_cluster_is_one_case_that_gains_the_new_accounts(engine: Engine) -> None:
    sessions = session_factory(engine)
    ring = [f"ring-{i}" for i in range(5)]
    with unit_of_work(sessions) as session:  # three accounts on one device: a cluster
        ingest(
            session,
            [(None, _opened(a, "dev-ring", i)) for i, a in enumerate(ring[:3])],
            source="api",
        )
    links_tasks.follow(sessions, LinkKeeper())
    drain(sessions)
    with unit_of_work(sessions) as session:  # two more join it: it has grown by 2
        ingest(
            session,
            [(None, _opened(a, "dev-ring", 10 + i)) for i, a in enumerate(ring[3:])],
            source="api",
        )
    links_tasks.follow(sessions, LinkKeeper())
    drain(sessions)
    assert _cases(engine) == [("ring-0", 2, [ring[:3], ring])]
    with sessions() as session:
        detail = session.scalars(select(CaseAlert).order_by(CaseAlert.id.desc())).first()
        assert detail is not None
        assert detail.detail["group_key"] == "links:ring-0"
        assert (detail.detail["cluster_id"], detail.detail["cluster_size"]) == ("ring-0", 5)
        assert detail.detail["trigger_account_id"] in ring[3:]


def _cluster_message(cluster: str, size: int, accounts: list[str], group: str) -> dict[str, Any]:
    return {
        "rule_id": "linked_accounts",
        "rule_version": 1,
        "typology": "multi-accounting",
        "event_id": f"cluster:{cluster}:{size}",
        "row": 0,
        "account_id": cluster,
        "seq": 0,
        "action": "review",
        "score": 50,
        "reason": f"{size} linked accounts",
        "created_at": T0.isoformat(),
        "usd_value": None,
        "event_type": "links.cluster",
        "occurred_at": T0.isoformat(),
        "group_key": group,
        "cluster_id": cluster,
        "cluster_size": size,
        "accounts": accounts,
    }


def test_alerts_of_one_group_share_a_case_whatever_account_they_name(engine: Engine) -> None:
    """The cluster's id account changed (it was recomputed): the group still names its case;
    an alert of another group, or of none, groups by account as before."""
    first = _cluster_message("a-1", 3, ["a-1", "a-2", "a-3"], "links:g")
    moved = _cluster_message("a-4", 5, ["a-1", "a-2", "a-3", "a-4", "a-5"], "links:g")
    other = _cluster_message("b-1", 3, ["b-1", "b-2", "b-3"], "links:h")
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        outbox.publish_many(session, ALERT_RAISED, [first], now=T0)
    assert drain(sessions) == 1
    with unit_of_work(sessions) as session:  # a later delivery, both in one batch
        outbox.publish_many(session, ALERT_RAISED, [moved, other], now=T0)
    assert drain(sessions) == 2
    assert [(a, n) for a, n, _ in _cases(engine)] == [("a-1", 2), ("b-1", 1)]
    with sessions() as session:
        grouped = session.scalars(select(CaseAlert).where(CaseAlert.source_ref.like("%a-4%")))
        assert [a.account_id for a in grouped] == ["a-4"]  # the alert keeps its own account
