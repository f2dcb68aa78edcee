"""``riskops worker --once`` screens a KYC submission and opens its case in the screening
queue: the composition hands the monitor's loop the screening pass before the delivery."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from screening_store_fakes import PETROV, ftm_file, kyc, load, log
from sqlalchemy import select
from sqlalchemy.engine import Engine

from processes import database_url
from riskops import worker
from riskops.cases.models import Case, CaseAlert
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory


def test_the_worker_screens_a_kyc_submission_into_a_screening_case(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, ftm_file(tmp_path / "list.jsonl", [PETROV]))
    log(
        engine,
        kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1), nationality="RU"),
        kyc("acc-2", "Anna Schmidt", dob=date(1990, 1, 1)),
    )
    settings = Settings(database_url=database_url(engine), data_dir=tmp_path, snapshot_seconds=0)
    summary = worker.run(settings, once=True)
    assert summary.result.events == 2
    with session_factory(engine)() as session:
        rows = session.execute(
            select(Case.account_id, Case.queue_key)
            .join(CaseAlert, CaseAlert.case_id == Case.id)
            .where(CaseAlert.kind == "sanctions_screening")
        ).all()
    # (other alerts of the same KYC, e.g. its KYC review, may join the case: the screening
    # queue's shorter SLA keeps it there)
    assert [tuple(r) for r in rows] == [("acc-1", "screening")]


def test_the_server_loop_screens_until_stopped(engine: Engine, tmp_path: Path) -> None:
    import asyncio
    import threading

    from riskops.kernel import outbox
    from riskops.screening import tasks
    from riskops.screening.schemas import HIT_RAISED

    load(engine, ftm_file(tmp_path / "list.jsonl", [PETROV]))
    log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)))
    sessions = session_factory(engine)
    writer = threading.Lock()

    def waiting() -> int:
        with sessions() as session:
            return outbox.pending(session, HIT_RAISED)

    async def run() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(tasks.loop(sessions, 0.01, stopping, writer))
        async with asyncio.timeout(30):
            while await asyncio.to_thread(waiting) == 0:
                await asyncio.sleep(0.01)
        stopping.set()
        await task

    asyncio.run(run())
    assert waiting() == 1 and not writer.locked()
