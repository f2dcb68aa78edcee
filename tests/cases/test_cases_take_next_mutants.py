"""Take-next when another analyst wins the race (``make mutation`` take-next): on SQLite
take-next is a compare-and-set on the best candidates, retried on the next one when
someone else took it first. A competing taker is simulated at the one point a race can
happen, between reading the candidates and claiming one: the rival's claim is the real
compare-and-set, run just before ours."""

from __future__ import annotations

from typing import Any

import pytest
from case_fakes import T0, alert, at, make_user
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.auth.permissions import Role
from riskops.cases import alert_intake, service, shifts
from riskops.cases import repository as repo
from riskops.cases.models import Case, CaseStatus
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict


def _sqlite_only(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL takes the next case in one statement (SKIP LOCKED)")


def _open(session: Session, severities: dict[str, int]) -> dict[str, int]:
    return {
        account: alert_intake.raise_alert(
            session, alert(f"r-{account}", account=account, severity=severity), now=T0
        ).case.id
        for account, severity in severities.items()
    }


def test_a_case_taken_meanwhile_is_skipped_for_the_next_best(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sqlite_only(engine)
    with unit_of_work(session_factory(engine)) as session:
        ana = make_user(session, "ana", Role.ANALYST)
        rival = make_user(session, "rob", Role.ANALYST)
        assert ana.id is not None and rival.id is not None
        ids = _open(session, {"best": 90, "second": 50, "third": 10})
        real_claim = repo.claim
        raced: list[int] = []

        def rival_first(s: Session, case_id: int, user_id: int, now: Any) -> bool:
            if not raced:  # the rival takes the best case just before ana's claim
                raced.append(case_id)
                assert real_claim(s, case_id, rival.id, now)
            return real_claim(s, case_id, user_id, now)

        monkeypatch.setattr(repo, "claim", rival_first)
        case = service.take_next(session, ana, now=at(1))
        assert raced == [ids["best"]]
        assert case is not None and case.id == ids["second"]
        assert (case.assignee_id, case.status) == (ana.id, CaseStatus.ASSIGNED)
        owners = {i: a for i, a in session.execute(select(Case.id, Case.assignee_id))}
        assert owners == {ids["best"]: rival.id, ids["second"]: ana.id, ids["third"]: None}


def test_when_every_candidate_goes_to_others_the_next_candidates_are_read_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rival takes each of the first five candidates (one read's worth) as ana tries
    it: ana reads the candidates again and gets the sixth."""
    _sqlite_only(engine)
    with unit_of_work(session_factory(engine)) as session:
        ana = make_user(session, "ana", Role.ANALYST)
        rival = make_user(session, "rob", Role.ANALYST)
        assert ana.id is not None and rival.id is not None
        ids = _open(session, {f"acc-{i}": 90 - i for i in range(7)})
        real_claim = repo.claim
        tried: list[int] = []

        def rival_wins_five(s: Session, case_id: int, user_id: int, now: Any) -> bool:
            tried.append(case_id)
            if len(tried) <= 5:
                assert real_claim(s, case_id, rival.id, now)
            return real_claim(s, case_id, user_id, now)

        monkeypatch.setattr(repo, "claim", rival_wins_five)
        case = service.take_next(session, ana, now=at(1))
        assert tried == [ids[f"acc-{i}"] for i in range(6)]
        assert case is not None and case.id == ids["acc-5"]
        assert case.assignee_id == ana.id


def test_take_next_gives_up_with_a_conflict_after_twenty_lost_rounds(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Others keep winning (a claim that never succeeds): take-next stops after twenty
    rounds of at most five candidates each, with a conflict to retry, and takes nothing."""
    _sqlite_only(engine)
    with unit_of_work(session_factory(engine)) as session:
        ana = make_user(session, "ana", Role.ANALYST)
        ids = _open(session, {f"acc-{i}": 90 - i for i in range(7)})
        tried: list[int] = []

        def always_lost(s: Session, case_id: int, user_id: int, now: Any) -> bool:
            tried.append(case_id)
            return False

        monkeypatch.setattr(repo, "claim", always_lost)
        with pytest.raises(Conflict) as lost:
            service.take_next(session, ana, now=at(1))
        assert lost.value.message == "every candidate case was taken meanwhile; try again"
        assert tried == [ids[f"acc-{i}"] for i in range(5)] * 20
        assigned = session.scalars(select(Case.assignee_id)).all()
        assert assigned == [None] * 7


@pytest.mark.parametrize("gone", ["assigned", "closed"])
def test_a_stale_candidate_no_longer_new_and_unassigned_is_not_claimed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, gone: str
) -> None:
    """Candidates read before another analyst took the best case (or it was closed): the
    claim finds it no longer new and unassigned and goes on to the next candidate."""
    _sqlite_only(engine)
    with unit_of_work(session_factory(engine)) as session:
        ana = make_user(session, "ana", Role.ANALYST)
        rival = make_user(session, "rob", Role.ANALYST)
        ids = _open(session, {"best": 90, "second": 50})
        stale = [ids["best"], ids["second"]]
        if gone == "assigned":
            first = service.take_next(session, rival, now=at(1))
            assert first is not None and first.id == ids["best"]
        else:
            session.execute(
                update(Case).where(Case.id == ids["best"]).values(status=CaseStatus.CLOSED)
            )
        monkeypatch.setattr(repo, "next_new_ids", lambda s, keys, limit: stale)
        case = service.take_next(session, ana, now=at(2))
        assert case is not None and case.id == ids["second"] and case.assignee_id == ana.id
        best = session.get(Case, ids["best"], populate_existing=True)
        assert best is not None
        expected = rival.id if gone == "assigned" else None
        assert best.assignee_id == expected


def test_only_the_takers_own_shifts_on_duty_at_that_moment_scope_take_next(
    engine: Engine,
) -> None:
    """Another analyst's shift does not scope ana's take-next; a shift starting exactly now
    is on duty, one ending exactly now is not (both databases)."""
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        manager = make_user(session, "mia", Role.MANAGER)
        ana = make_user(session, "ana", Role.ANALYST)
        rob = make_user(session, "rob", Role.ANALYST)
        assert ana.id is not None and rob.id is not None
        alert_intake.raise_alert(session, alert("aml", account="a1", severity=90), now=T0)
        alert_intake.raise_alert(session, alert("ato", account="a2", typology="sim_swap"), now=T0)
        alert_intake.raise_alert(
            session, alert("card", account="a3", typology="card_fraud"), now=T0
        )

    def taken(rota: list[tuple[int, int, int, list[str]]]) -> str | None:
        with sessions() as session:
            for user_id, start, end, queues in rota:
                shifts.add_shift(session, manager, user_id, at(start), at(end), queues)
            case = service.take_next(session, ana, now=at(60))
            account = case.account_id if case is not None else None
            session.rollback()
        return account

    assert ana.id is not None and rob.id is not None
    assert taken([(rob.id, 0, 480, ["fraud"])]) == "a1"  # rob's shift: ana takes from all
    assert taken([(ana.id, 60, 120, ["fraud"])]) == "a3"  # starts now: on duty
    assert taken([(ana.id, 0, 60, ["fraud"])]) == "a1"  # ended now: off duty


def test_of_equal_priority_the_earliest_due_goes_first_then_the_oldest(engine: Engine) -> None:
    """Same severity, same queue (same priority): the case due first is taken first even
    when it was opened after the other; of equal deadlines, the one opened first."""
    with unit_of_work(session_factory(engine)) as session:
        ana = make_user(session, "ana", Role.ANALYST)

        def raise_at(ref: str, minutes: int) -> int:
            opened = alert_intake.raise_alert(
                session, alert(ref, account=f"acc-{ref}", severity=50), now=at(minutes)
            )
            return opened.case.id

        due_later = raise_at("due-later", 10)
        due_first = raise_at("due-first", 0)
        tie_a = raise_at("tie-a", 20)
        tie_b = raise_at("tie-b", 20)
        cases = session.scalars(select(Case).order_by(Case.id)).all()
        assert len({c.priority for c in cases}) == 1  # the premise: one priority
        order = []
        while (case := service.take_next(session, ana, ["aml"], now=at(30))) is not None:
            order.append(case.id)
        assert order == [due_first, due_later, tie_a, tie_b]
