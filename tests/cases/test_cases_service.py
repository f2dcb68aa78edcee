"""Queues, reads, assignment (take-next under concurrency), shifts and auto-assignment."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from case_fakes import T0, alert, at, make_user
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.cases import alert_intake, service, shifts
from riskops.cases.domain import DEFAULT_QUEUES
from riskops.cases.models import Case, CaseEvent, CaseStatus
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden, NotFound, ValidationFailed

SYSTEM = Principal.system("test")


def open_cases(session: Session, n: int, *, typology: str = "mule", start: int = 0) -> list[int]:
    ids = []
    for i in range(start, start + n):
        result = alert_intake.raise_alert(
            session, alert(f"r{i}", account=f"acc-{i}", typology=typology, severity=i % 100), now=T0
        )
        ids.append(result.case.id)
    return ids


def test_queue_overview_counts_open_unassigned_breached_and_due_soon(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        analyst = make_user(session, "ana", Role.ANALYST)
        open_cases(session, 3)  # aml, 24 h
        held = alert_intake.raise_alert(session, alert("h", account="acc-h", hold_id=1), now=T0)
        alert_intake.raise_alert(session, alert("h2", account="acc-h2", hold_id=2), now=at(5))
        service.take_next(session, analyst, ["aml"], now=T0)
        held.case.status = CaseStatus.CLOSED
    with sessions() as session:
        stats = {q.key: q for q in service.queue_overview(session, analyst, at(19))}
    assert set(stats) == {q.key for q in DEFAULT_QUEUES}  # every queue, even an empty one
    aml = stats["aml"]
    assert (aml.open, aml.unassigned, aml.breached, aml.due_soon) == (2 + 1, 2, 0, 0)
    assert aml.oldest_open_at == T0
    hw = stats["held_withdrawals"]  # due at(20): within 15 minutes of at(19)
    assert (hw.open, hw.breached, hw.due_soon) == (1, 0, 1)
    with sessions() as session:
        hw = {q.key: q for q in service.queue_overview(session, analyst, at(21))}[
            "held_withdrawals"
        ]
    assert (hw.breached, hw.due_soon) == (1, 0)


def test_queue_pages_by_priority_then_due_with_keyset(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        analyst = make_user(session, "ana", Role.ANALYST)
        for i, sev in enumerate([30, 90, 30, 60]):
            alert_intake.raise_alert(
                session, alert(f"r{i}", account=f"a{i}", severity=sev), now=at(i)
            )
    with sessions() as session:
        page = service.list_queue_cases(session, analyst, "aml", limit=10)
        assert [(c.severity, c.account_id) for c in page] == [
            (90, "a1"),
            (60, "a3"),
            (30, "a0"),
            (30, "a2"),
        ]
        last = page[1]
        rest = service.list_queue_cases(
            session, analyst, "aml", after=(last.priority, last.due_at, last.id)
        )
        assert [c.account_id for c in rest] == ["a0", "a2"]
        assert [
            c.account_id for c in service.list_queue_cases(session, analyst, "aml", offset=3)
        ] == ["a2"]
        with pytest.raises(NotFound):
            service.list_queue_cases(session, analyst, "nope")


def test_take_next_gives_the_best_case_and_records_it(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        analyst = make_user(session, "ana", Role.ANALYST)
        alert_intake.raise_alert(session, alert("low", account="a1", severity=10), now=T0)
        alert_intake.raise_alert(session, alert("high", account="a2", severity=80), now=T0)
        alert_intake.raise_alert(session, alert("ato", account="a3", typology="sim_swap"), now=T0)
    with unit_of_work(sessions) as session:
        first = service.take_next(session, analyst, ["aml"], now=at(1))
        assert first is not None
        assert (first.account_id, first.status, first.assignee_id) == (
            "a2",
            CaseStatus.ASSIGNED,
            analyst.id,
        )
        assert [c.id for c in service.my_cases(session, analyst)] == [first.id]
        second = service.take_next(session, analyst, ["aml"], now=at(1))
        assert second is not None and second.account_id == "a1"
        assert service.take_next(session, analyst, ["aml"], now=at(1)) is None
        anywhere = service.take_next(session, analyst, now=at(1))
        assert anywhere is not None and anywhere.account_id == "a3"
    with sessions() as session:
        detail = service.case_detail(session, analyst, first.id)
        assert [e.kind for e in detail.events] == ["opened", "assigned"]
        assert detail.assignee is not None and detail.assignee.username == "ana"
        session.commit()
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    # my_cases is a read of the accounts it shows: audited too (ADR 0020). Its entry is
    # flushed with the session, take_next's is inserted by its own statement: ids interleave
    # differently on the two databases, so compare without order.
    assert sorted(actions) == ["case.list", "case.take", "case.take", "case.take", "case.view"]


def test_take_next_follows_the_principals_shift(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        manager = make_user(session, "mia", Role.MANAGER)
        analyst = make_user(session, "ana", Role.ANALYST)
        alert_intake.raise_alert(session, alert("aml", account="a1", severity=90), now=T0)
        alert_intake.raise_alert(session, alert("ato", account="a2", typology="sim_swap"), now=T0)
        assert analyst.id is not None
        shifts.add_shift(session, manager, analyst.id, T0, at(480), ["account_takeover"])
        case = service.take_next(session, analyst, now=at(1))
        assert case is not None and case.account_id == "a2"


def test_take_next_writes_its_event_and_audit_entry(engine: Engine) -> None:
    """On PostgreSQL one statement picks, assigns and records; both databases write the same."""
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        ana = make_user(session, "ana", Role.ANALYST)
        [case_id] = open_cases(session, 1)
    with unit_of_work(sessions) as session:
        case = service.take_next(session, ana, now=at(3))
        assert case is not None and case.id == case_id
        assert (case.status, case.assignee_id, case.updated_at, case.version) == (
            CaseStatus.ASSIGNED,
            ana.id,
            at(3),
            2,
        )
        assert case.account_id == "acc-0" and case.queue_key == "aml"
        assert service.take_next(session, ana, now=at(4)) is None  # nothing left to take
    with sessions() as session:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        [_, taken] = session.scalars(stmt).all()
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert (taken.at, taken.actor, taken.kind, taken.reason, taken.detail) == (
        at(3),
        "ana",
        "assigned",
        "take next",
        {"assignee_id": ana.id},
    )
    assert (taken.from_status, taken.to_status) == ("new", "assigned")
    assert [
        (e.at, e.actor, e.actor_kind, e.action, e.subject_type, e.subject_id, e.detail)
        for e in entries
    ] == [(at(3), "ana", "user", "case.take", "case", str(case_id), {})]


def test_take_next_scope_is_the_shifts_on_duty(engine: Engine) -> None:
    """No shift, or a shift on every queue: all queues; else the union of the shifts' queues;
    shifts not on duty do not count; queues named by the caller win."""
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        manager = make_user(session, "mia", Role.MANAGER)
        ana = make_user(session, "ana", Role.ANALYST)
        alert_intake.raise_alert(session, alert("aml", account="a1", severity=90), now=T0)
        alert_intake.raise_alert(session, alert("ato", account="a2", typology="sim_swap"), now=T0)
        alert_intake.raise_alert(
            session, alert("card", account="a3", typology="card_fraud"), now=T0
        )
    assert ana.id is not None

    def taken(rota: list[tuple[int, int, list[str]]], keys: list[str] | None = None) -> str:
        with sessions() as session:
            for start, end, queues in rota:
                shifts.add_shift(session, manager, ana.id, at(start), at(end), queues)
            case = service.take_next(session, ana, keys, now=at(60))
            assert case is not None and case.account_id is not None
            account = case.account_id
            session.rollback()
        return account

    assert taken([]) == "a1"
    assert taken([(0, 30, ["account_takeover"]), (90, 120, ["fraud"])]) == "a1"  # off duty
    assert taken([(0, 480, ["fraud"])]) == "a3"
    assert taken([(0, 480, ["fraud"]), (30, 90, ["account_takeover"])]) == "a2"
    assert taken([(0, 480, ["fraud"]), (30, 90, [])]) == "a1"  # one shift on every queue
    assert taken([(0, 480, ["account_takeover"])], ["fraud"]) == "a3"


@pytest.mark.postgres
def test_twenty_analysts_pulling_at_once_never_share_a_case(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent takers need PostgreSQL")
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        analysts = [make_user(session, f"analyst{i}", Role.ANALYST) for i in range(20)]
        open_cases(session, 50)
    barrier = threading.Barrier(20)
    taken: dict[str, list[int]] = {a.name: [] for a in analysts}
    errors: list[BaseException] = []

    def pull(principal: Principal) -> None:
        try:
            barrier.wait()
            for _ in range(4):
                with unit_of_work(sessions) as session:
                    case = service.take_next(session, principal, now=at(1))
                    if case is not None:
                        taken[principal.name].append(case.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=pull, args=(a,)) for a in analysts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    handed = [cid for ids in taken.values() for cid in ids]
    assert len(handed) == len(set(handed)) == 50  # every case once, none twice
    with sessions() as session:
        rows = session.execute(select(Case.id, Case.assignee_id, Case.status)).all()
    owner = {name: ids for name, ids in taken.items()}
    by_id = {a.name: a.id for a in analysts}
    for cid, assignee, status in rows:
        assert status is CaseStatus.ASSIGNED
        [name] = [n for n, ids in owner.items() if cid in ids]
        assert assignee == by_id[name]


def test_assignment_permissions(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        ana = make_user(session, "ana", Role.ANALYST)
        bob = make_user(session, "bob", Role.ANALYST)
        sen = make_user(session, "sen", Role.SENIOR_ANALYST)
        author = make_user(session, "rita", Role.RULE_AUTHOR)
        [case_id] = open_cases(session, 1)
        assert ana.id is not None and bob.id is not None and author.id is not None
        with pytest.raises(Forbidden):
            service.take_next(session, author)  # a rule author does not work cases
        with pytest.raises(Forbidden):
            service.assign(session, ana, case_id, bob.id)  # assigning others: case:assign
        service.assign(session, ana, case_id, ana.id, now=at(1))  # self-assign
        with pytest.raises(Forbidden):
            service.assign(session, bob, case_id, bob.id)  # taking over: case:assign
        with pytest.raises(Forbidden):
            service.start_review(session, bob, case_id)  # not the assignee
        case = service.start_review(session, ana, case_id, now=at(2))
        assert case.status is CaseStatus.IN_REVIEW
        with pytest.raises(ValidationFailed):
            service.assign(session, sen, case_id, author.id)  # cannot work cases
        case = service.assign(session, sen, case_id, bob.id, now=at(3))  # reassign
        assert (case.assignee_id, case.status) == (bob.id, CaseStatus.ASSIGNED)
        case = service.unassign(session, sen, case_id, now=at(4))
        assert (case.assignee_id, case.status) == (None, CaseStatus.NEW)
        kinds = [e.kind for e in service.case_detail(session, sen, case_id).events]
    assert kinds == ["opened", "assigned", "start_review", "assigned", "unassigned"]


def test_shifts_on_shift_and_auto_assign(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        manager = make_user(session, "mia", Role.MANAGER)
        ana = make_user(session, "ana", Role.ANALYST)
        bob = make_user(session, "bob", Role.ANALYST)
        off = make_user(session, "off", Role.ANALYST)
        assert ana.id and bob.id and off.id
        with pytest.raises(Forbidden):
            shifts.add_shift(session, ana, ana.id, T0, at(60))
        shifts.add_shift(session, manager, ana.id, T0, at(480), ["aml"])
        shifts.add_shift(session, manager, bob.id, T0, at(480))
        shifts.add_shift(session, manager, off.id, at(480), at(960))
        open_cases(session, 25)
        alert_intake.raise_alert(session, alert("ato", account="x", typology="sim_swap"), now=T0)
        assert {u.username for u in shifts.on_shift(session, at(1))} == {"ana", "bob"}
        assigned = shifts.auto_assign(session, at(1), cap=10)
        assert assigned == 20
        loads = {u: len(service.my_cases(session, p)) for u, p in (("ana", ana), ("bob", bob))}
        assert loads == {"ana": 10, "bob": 10}
        assert shifts.auto_assign(session, at(2), cap=10) == 0  # everyone is at the cap


def test_default_rota_covers_every_hour_of_the_week(engine: Engine) -> None:
    from riskops.auth.models import User

    with unit_of_work(session_factory(engine)) as session:
        for name in ("a", "b", "c", "d"):
            make_user(session, name, Role.ANALYST)
        users = list(session.scalars(select(User)))
        rota = shifts.default_rota(session, users, T0, days=7)
        assert len(rota) == 7 * 4
        for hour in range(7 * 24):
            assert shifts.on_shift(session, T0 + timedelta(hours=hour, minutes=30))
        assert not shifts.on_shift(session, T0 + timedelta(days=7, minutes=1))


def test_search_and_reads_need_case_view(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        [case_id] = open_cases(session, 1)
        nobody = Principal.for_user(999, "ghost", Role.ADMIN)
        assert [c.id for c in service.search_cases(session, nobody, account_id="acc-0")] == [
            case_id
        ]
        assert [c.id for c in service.search_cases(session, SYSTEM, case_id=case_id)] == [case_id]
        token = Principal(kind=SYSTEM.kind, id=None, name="t")  # no permissions
        with pytest.raises(Forbidden):
            service.queue_overview(session, token)
        with pytest.raises(NotFound):
            service.case_detail(session, SYSTEM, 12345)
