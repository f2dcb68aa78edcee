"""Finding 1: one event the monitor cannot decide stopped it for everyone. Now it is
quarantined (a dead letter of source ``monitor``) and the monitor moves on, with its state
as if the event had never been in the log; a replay after a fix decides it.

Poison events of every kind are written straight into the log (``poison.append``), so
these tests hold whatever the edge refuses.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monitor_fakes import Record, withdrawal
from poison import (
    BOOM_ACCOUNT,
    POISONS,
    PoisonEvaluator,
    PoisonFactory,
    append,
    good,
    quarantined,
    refuse_decisions_of,
    wipe,
)
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal
from riskops.events import schemas as s
from riskops.events.models import DeadLetter, Source
from riskops.kernel.db import import_all_models, session_factory
from riskops.kernel.errors import Conflict
from riskops.monitor import quarantine
from riskops.monitor import repository as repo
from riskops.monitor.engine import Monitor
from riskops.monitor.models import Alert, Decision
from riskops.monitor.runtime import MonitorRuntime
from riskops.monitor.schemas import DecisionResponse

import_all_models()
KINDS = sorted(POISONS)
ADMIN = Principal.system("tests")


def runtime(engine: Engine, directory: Path, **kwargs: Any) -> MonitorRuntime:
    # No wait on gaps in seq: on PostgreSQL a wiped log starts far from seq 1.
    kwargs.setdefault("gap_grace", timedelta(0))
    return MonitorRuntime(
        engine, PoisonFactory(), snapshot_path=directory / "monitor.snapshot", **kwargs
    )


def expected(events: list[s.Event]) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """The state and the alerts of deciding only the good events (pure, no database)."""
    evaluator = PoisonEvaluator()
    monitor = Monitor(evaluator)
    alerts = set()
    for seq, event in enumerate(events, 1):
        for decision in monitor.decide(event, seq):
            alerts |= {(hit.rule_id, decision.event_id) for hit in decision.hits}
    return evaluator.counts, alerts


def stored_alerts(engine: Engine) -> set[tuple[str, str]]:
    with session_factory(engine)() as session:
        return {
            (rule, event) for rule, event in session.execute(select(Alert.rule_id, Alert.event_id))
        }


def counts(rt: MonitorRuntime) -> dict[str, int]:
    evaluator = rt.monitor.evaluator
    assert isinstance(evaluator, PoisonEvaluator)
    return evaluator.counts


def dead_letters(engine: Engine) -> list[DeadLetter]:
    with session_factory(engine)() as session:
        stmt = select(DeadLetter).where(DeadLetter.source == Source.MONITOR.value)
        return list(session.scalars(stmt.order_by(DeadLetter.id)))


@pytest.mark.parametrize("kind", KINDS)
def test_a_poison_event_is_quarantined_and_the_monitor_moves_on(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    """Before: the batch failed for ever and no later event of any account was decided."""
    refuse_decisions_of(engine)
    before, after = good(6, "a"), good(6, "b")
    append(engine, [(e.event_id, msgspec.json.encode(e).decode()) for e in before])
    (poison_seq,) = append(engine, [("poison-1", POISONS[kind]("poison-1"))])
    append(engine, [(e.event_id, msgspec.json.encode(e).decode()) for e in after])
    rt = runtime(engine, tmp_path, batch_size=5)

    done = rt.catch_up()

    assert rt.checkpoint() == poison_seq + len(after)
    assert done.quarantined == 1
    (dead,) = dead_letters(engine)
    assert (dead.source_row, dead.source_name) == (poison_seq, "default")
    assert dead.reason  # the error's type and message
    assert bytes(dead.raw).decode() == POISONS[kind]("poison-1")
    state, alerts = expected(before + after)
    assert counts(rt) == state  # every good event counted once, the poison's count undone
    assert stored_alerts(engine) == alerts
    with session_factory(engine)() as session:
        decided = set(session.scalars(select(Decision.event_id)))
    assert {e.event_id for e in after if isinstance(e, s.WithdrawalRequested)} <= decided
    # A restart from nothing replays the log and skips the quarantined event.
    (tmp_path / "monitor.snapshot").unlink(missing_ok=True)
    again = runtime(engine, tmp_path, batch_size=5)
    assert again.catch_up().skipped == 1
    assert counts(again) == state
    assert quarantined(engine) == [poison_seq]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    n_good=st.integers(0, 24),
    poisons=st.lists(st.tuples(st.integers(0, 24), st.sampled_from(KINDS)), max_size=4),
    batch=st.sampled_from([1, 2, 5, 50]),
    snapshot_every=st.sampled_from([3, 10, 1_000]),
    restart=st.sampled_from(["none", "snapshot", "scratch"]),
)
def test_any_mix_of_poison_events_decides_every_good_event_once(
    engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
    n_good: int,
    poisons: list[tuple[int, str]],
    batch: int,
    snapshot_every: int,
    restart: str,
) -> None:
    wipe(engine)
    refuse_decisions_of(engine)
    directory = tmp_path_factory.mktemp("rt")
    events = good(n_good, "g")
    items = [(e.event_id, msgspec.json.encode(e).decode()) for e in events]
    for number, (position, kind) in enumerate(sorted(poisons, key=lambda p: p[0])):
        event_id = f"poison-{number}"
        items.insert(min(position + number, len(items)), (event_id, POISONS[kind](event_id)))
    seqs = append(engine, items) if items else []
    poisoned = zip(seqs, items, strict=True)
    poison_seqs = [seq for seq, (event_id, _) in poisoned if event_id.startswith("poison")]
    rt = runtime(engine, directory, batch_size=batch, snapshot_every=snapshot_every)
    rt.catch_up()
    if restart != "none":
        if restart == "scratch":
            (directory / "monitor.snapshot").unlink(missing_ok=True)
        rt = runtime(engine, directory, batch_size=batch, snapshot_every=snapshot_every)
        rt.catch_up()

    state, alerts = expected(events)
    assert counts(rt) == state
    assert stored_alerts(engine) == alerts
    assert quarantined(engine) == poison_seqs  # each once
    assert rt.checkpoint() == (seqs[-1] if seqs else 0)


def test_a_lost_database_quarantines_nothing(engine: Engine, tmp_path: Path) -> None:
    """A batch that fails because the database is gone is retried, not set aside: every
    event of an outage would be quarantined otherwise."""
    from sqlalchemy.exc import OperationalError

    events = good(8, "t")
    append(engine, [(e.event_id, msgspec.json.encode(e).decode()) for e in events])
    rt = runtime(engine, tmp_path, batch_size=4)

    class Gone:
        def read_after(self, session: Any, seq: int, limit: int) -> list[Record]:
            raise OperationalError("SELECT", {}, ConnectionError("server closed the connection"))

        def append(self, session: Any, events: Any) -> dict[str, Exception]:
            raise AssertionError("not called")

    working, rt.log = rt.log, Gone()
    with pytest.raises(OperationalError):
        rt.step()
    assert rt.last_error is not None and rt.last_error.type == "OperationalError"
    rt.log = working
    rt.catch_up()
    assert quarantined(engine) == []
    assert counts(rt) == expected(events)[0]


def test_transient_tells_a_lost_database_from_a_refused_statement() -> None:
    from sqlalchemy.exc import DataError, IntegrityError, InternalError, OperationalError

    gone = OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert quarantine.transient(gone)
    assert quarantine.transient(ConnectionResetError())
    for refused in (
        IntegrityError("INSERT", {}, Exception("constraint failed")),
        DataError("INSERT", {}, Exception("value too long")),
        InternalError("INSERT", {}, Exception("decision refused")),
        ValueError("bad"),
        msgspec.DecodeError("bad"),
    ):
        assert not quarantine.transient(refused)


# --- synchronous decisions -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["evaluator_raises", "alert_refused", "not_json", "write_refused"])
def test_a_decision_never_waits_on_another_accounts_poison_event(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    """Before: POST /v1/decisions answered 422 for everyone once the tail held a poison."""
    refuse_decisions_of(engine)
    (poison_seq,) = append(engine, [("poison-a", POISONS[kind]("poison-a"))])
    rt = runtime(engine, tmp_path)
    answers = rt.decide_events([withdrawal("b-1", "acc-b", "20000.00")])
    assert isinstance(answers[0], DecisionResponse), answers
    assert answers[0].decision == "hold"
    assert quarantined(engine) == [poison_seq]
    later = rt.decide_events([withdrawal("b-2", "acc-b", "50.00")])
    assert isinstance(later[0], DecisionResponse) and later[0].decision == "allow"


def test_an_own_poison_event_is_answered_undecidable_and_the_rest_decided(
    engine: Engine, tmp_path: Path
) -> None:
    refuse_decisions_of(engine)
    rt = runtime(engine, tmp_path)
    group = [
        withdrawal("ok-1", "acc-1", "20000.00"),
        withdrawal("bad-1", "acc-2", "50.00", address="explode"),
        withdrawal("bad-2", BOOM_ACCOUNT, "50.00"),
        withdrawal("ok-2", "acc-1", "50.00"),
    ]
    answers = rt.decide_events(group)
    assert isinstance(answers[0], DecisionResponse) and answers[0].decision == "hold"
    assert isinstance(answers[3], DecisionResponse) and answers[3].decision == "allow"
    for answer in answers[1:3]:
        assert isinstance(answer, quarantine.Undecidable)
        assert answer.status_code == 503
    assert len(quarantined(engine)) == 2
    # Asked again: still undecidable (never "allow", as an unstored plain allow would be).
    again = rt.decide_events([group[1]])
    assert isinstance(again[0], quarantine.Undecidable)
    assert counts(rt) == {"acc-1": 2}  # the exploded withdrawal of acc-2 counted not at all


# --- replay --------------------------------------------------------------------------


def _quarantine_one(engine: Engine, tmp_path: Path, kind: str) -> tuple[MonitorRuntime, int]:
    refuse_decisions_of(engine)
    append(engine, [("poison-r", POISONS[kind]("poison-r"))])
    rt = runtime(engine, tmp_path)
    rt.catch_up()
    (dead,) = dead_letters(engine)
    return rt, dead.id


@pytest.mark.parametrize("kind", ["evaluator_raises", "alert_refused"])
def test_a_quarantined_event_is_replayed_after_a_fix(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    rt, dead_id = _quarantine_one(engine, tmp_path, kind)
    with pytest.raises(quarantine.Undecidable):  # not fixed yet: stays quarantined
        rt.replay(dead_id, ADMIN)
    assert counts(rt) == {}
    PoisonEvaluator.fixed = True
    try:
        answer = rt.replay(dead_id, ADMIN)
        assert answer["outcome"] == "decided" and answer["decision"] == "allow"
        assert counts(rt) == {"acc-p": 1}
        with pytest.raises(Conflict):
            rt.replay(dead_id, ADMIN)
        with session_factory(engine)() as session:
            entry = session.scalars(
                select(AuditEntry).where(AuditEntry.action == quarantine.REPLAYED)
            ).one()
            assert entry.subject_id == str(dead_id) and entry.actor == "system:tests"
            assert quarantine.quarantined_seqs(session, 0) == set()
            assert repo.decision_for(session, "poison-r") is not None
        # A rebuild from nothing decides the replayed event in log order.
        (tmp_path / "monitor.snapshot").unlink(missing_ok=True)
        again = runtime(engine, tmp_path)
        again.catch_up()
        assert counts(again) == {"acc-p": 1}
    finally:
        PoisonEvaluator.fixed = False


def test_an_undecodable_event_cannot_be_replayed(engine: Engine, tmp_path: Path) -> None:
    rt, dead_id = _quarantine_one(engine, tmp_path, "not_json")
    with pytest.raises(quarantine.Undecidable):
        rt.replay(dead_id, ADMIN)
    with session_factory(engine)() as session:
        assert quarantine.quarantined_seqs(session, 0) == {1}


def test_replay_needs_the_permission(engine: Engine, tmp_path: Path) -> None:
    from riskops.auth.permissions import Role
    from riskops.kernel.errors import Forbidden

    rt, dead_id = _quarantine_one(engine, tmp_path, "evaluator_raises")
    analyst = Principal.for_user(1, "ana", Role.ANALYST)
    with pytest.raises(Forbidden):
        rt.replay(dead_id, analyst)


def test_an_event_decided_before_that_fails_on_a_rebuild_is_isolated_too(
    engine: Engine, tmp_path: Path
) -> None:
    """The rebuild after a poison event replays events decided before; one of them may
    fail now (the database refuses what it stored before). It is isolated and quarantined
    like the poison, instead of failing the rebuild for ever."""
    early = withdrawal("early", BOOM_ACCOUNT, "50.00")
    later = good(4, "l")
    append(engine, [(early.event_id, msgspec.json.encode(early).decode())])
    rt = runtime(engine, tmp_path, batch_size=10)
    rt.catch_up()  # decided and stored, before the database refuses it
    refuse_decisions_of(engine)
    (poison,) = append(engine, [("poison-z", POISONS["evaluator_raises"]("poison-z"))])
    append(engine, [(e.event_id, msgspec.json.encode(e).decode()) for e in later])
    rt.catch_up()
    assert quarantined(engine) == [poison - 1, poison]
    assert counts(rt) == expected(later)[0]
    assert rt.checkpoint() == poison + len(later)
