"""The monitor's alerts are published on the kernel outbox (``ALERT_RAISED``) in its batch
transaction and delivered into cases later; nothing is lost or doubled on a crash, a replay
or a race."""

from __future__ import annotations

import asyncio
import threading

import msgspec
import pytest
from case_fakes import T0, count, waiting
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.cases import alert_intake
from riskops.cases.models import Case, CaseAlert
from riskops.cases.tasks import deliver, drain, intake_loop
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor


def monitor_batch(engine: Engine, n: int, start: int = 1) -> None:
    """One committed monitor batch of ``n`` held withdrawals, by ``n // 2`` accounts."""
    from monitor_fakes import FakeEvaluator, records, withdrawal

    events = [withdrawal(f"w{i}", f"acc-{i % (n // 2)}", "20000.00") for i in range(n)]
    with unit_of_work(session_factory(engine)) as session:
        monitor.process_batch(session, Monitor(FakeEvaluator()), records(events, start), now=T0)


def grouping(engine: Engine) -> list[tuple]:
    with session_factory(engine)() as session:
        rows = session.execute(
            select(
                CaseAlert.source_ref, Case.account_id, CaseAlert.duplicate_of, Case.alert_count
            ).join(Case, Case.id == CaseAlert.case_id)
        )
        return sorted((ref, acc, dup is not None, n) for ref, acc, dup, n in rows)


def test_the_batch_writes_the_outbox_and_a_drain_makes_the_cases(engine: Engine) -> None:
    monitor_batch(engine, 6)
    assert (waiting(engine), count(engine, CaseAlert)) == (6, 0)
    sessions = session_factory(engine)
    assert drain(sessions, limit=4) == 6  # two transactions
    assert (waiting(engine), count(engine, CaseAlert), count(engine, Case)) == (
        0,
        6,
        3,
    )
    assert drain(sessions) == 0
    with sessions() as session:
        assert all("hold_id" in a.detail for a in session.scalars(select(CaseAlert)))


def test_a_crash_before_the_drain_commits_loses_nothing(engine: Engine) -> None:
    monitor_batch(engine, 4)
    sessions = session_factory(engine)
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        assert alert_intake.drain_outbox(session) == 4
        raise RuntimeError("killed mid-delivery")
    assert (waiting(engine), count(engine, CaseAlert)) == (4, 0)
    monitor_batch(engine, 4)  # a replayed batch writes its alerts to the outbox again
    assert waiting(engine) == 8
    assert drain(sessions) == 8
    assert waiting(engine) == 0
    assert [n for *_, n in grouping(engine)] == [2] * 4  # 2 accounts, 2 alerts each


@pytest.mark.postgres
def test_two_drainers_take_different_rows(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serializes drainers on its write lock")
    monitor_batch(engine, 10)
    sessions = session_factory(engine)
    first_took = threading.Event()
    release = threading.Event()
    taken: dict[str, list[int]] = {}

    def first() -> None:
        with unit_of_work(sessions) as session:
            taken["first"] = [m["seq"] for m in outbox.take(session, monitor.ALERT_RAISED, 4)]
            first_took.set()
            assert release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_took.wait(10)
    with unit_of_work(sessions) as session:  # does not wait for the first: skips its rows
        taken["second"] = [m["seq"] for m in outbox.take(session, monitor.ALERT_RAISED, 100)]
    release.set()
    thread.join(10)
    assert len(taken["first"]) == 4 and len(taken["second"]) == 6
    assert not set(taken["first"]) & set(taken["second"])
    assert taken["first"] == [1, 2, 3, 4]  # the oldest messages, in order


def test_concurrent_drainers_group_like_one(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Four threads draining at once end with each alert once and the grouping of one drain."""
    from support import migrated_engine

    kind = "postgres" if engine.dialect.name == "postgresql" else "sqlite"
    for start in (1, 41, 81):
        monitor_batch(engine, 40, start)
    sessions = session_factory(engine)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            while deliver(sessions, 7):
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert waiting(engine) == 0
    concurrent = grouping(engine)
    assert len(concurrent) == len({ref for ref, *_ in concurrent}) == 40  # replays: no-ops
    with migrated_engine(kind, tmp_path_factory.mktemp("reference")) as reference:
        for start in (1, 41, 81):
            monitor_batch(reference, 40, start)
        drain(session_factory(reference))
        assert grouping(reference) == concurrent


def test_the_intake_loop_delivers_until_stopped(engine: Engine) -> None:
    monitor_batch(engine, 4)

    async def main() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(intake_loop(session_factory(engine), 0.05, stopping))
        for _ in range(200):
            if count(engine, CaseAlert) == 4:
                break
            await asyncio.sleep(0.02)
        stopping.set()
        await task

    asyncio.run(main())
    assert (waiting(engine), count(engine, CaseAlert)) == (0, 4)


@pytest.mark.parametrize(
    "broken",
    [
        {"account_id": "   "},  # blank
        {"account_id": "acc\x00"},  # a control character
        {"score": 101},  # severity out of range
        {"rule_id": " "},  # no kind
        {"occurred_at": "2026-01-01T00:00:00"},  # no UTC offset
        {"usd_value": "-1"},  # a negative amount
    ],
)
def test_an_invalid_message_is_left_out_and_never_blocks_the_later_ones(
    engine: Engine, broken: dict[str, object]
) -> None:
    monitor_batch(engine, 2)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        [first, second] = outbox.take(session, monitor.ALERT_RAISED, 10)
        outbox.publish(session, monitor.ALERT_RAISED, {**first, **broken, "event_id": "bad"})
        outbox.publish(session, monitor.ALERT_RAISED, first)
        outbox.publish(session, monitor.ALERT_RAISED, second)
    assert drain(sessions) == 3
    assert waiting(engine) == 0
    with sessions() as session:
        refs = sorted(session.scalars(select(CaseAlert.source_ref)))
    assert refs == sorted(f"{m['rule_id']}:{m['event_id']}:0" for m in (first, second))


def test_rows_left_in_the_old_intake_table_are_delivered_first(engine: Engine) -> None:
    """An upgrade leaves the cases' own outbox rows of the previous version: not lost."""
    from riskops.cases import repository as repo
    from riskops.cases.models import IntakeOutbox

    monitor_batch(engine, 2)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        [old, new] = outbox.take(session, monitor.ALERT_RAISED, 10)
        [legacy] = alert_intake._case_alerts([old])
        encoded = msgspec.json.encode(legacy).decode()
        repo.enqueue_alerts(session, [{"alert": encoded, "created_at": T0}])
        outbox.publish(session, monitor.ALERT_RAISED, new)
    assert drain(sessions, limit=1) == 2  # one per transaction, the old row first
    assert (count(engine, IntakeOutbox), waiting(engine), count(engine, CaseAlert)) == (0, 0, 2)
