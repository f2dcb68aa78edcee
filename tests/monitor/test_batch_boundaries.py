"""The cases of a log do not depend on where the worker's batches were cut.

The kill test (``test_kill.py``) proves a crash changes nothing by comparing a killed and
restarted worker with one run once; this is the same comparison without the kill: the same
log worked by ``riskops worker --once`` in batches of 10 events, with the followers' passes
and the delivery into cases due after each (so they follow close behind the monitor), and
in one batch of all of it (the followers start once the monitor has finished). Every case
alert is in a case of the same shape either way: grouping is a function of the event log,
not of how far the monitor had got when a follower's work reached the cases (a case closed
by the exchange's ``kyc.decided`` at delivery time split an account's alerts one way in
one run and the other way in the other).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from test_kill import case_grouping, fill, worker

from riskops.events.validation import from_obj
from riskops.sim import SimConfig, generate
from support import migrated_engine


def _once(env: dict[str, str], batch: int, groups: list[int]) -> None:
    proc = worker(env, "--once", "--batch", str(batch))  # the last --batch given counts
    groups.append(proc.pid)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()


@pytest.mark.slow
def test_the_same_log_in_small_or_one_batch_makes_the_same_cases(
    engine: Engine, tmp_path: Path, groups: list[int]
) -> None:
    events = [from_obj(o) for o in generate(SimConfig(accounts=200, days=6, seed=11))]
    # The followers' passes and the delivery after every small batch (they are due at once).
    often = {**fill(engine, tmp_path, events), "RISKOPS_INTAKE_POLL_SECONDS": "0.001"}
    _once(often, 10, groups)
    with ExitStack() as stack:
        elsewhere = tmp_path / "whole"
        elsewhere.mkdir()
        kind = "sqlite" if engine.dialect.name == "sqlite" else "postgres"
        whole = stack.enter_context(migrated_engine(kind, elsewhere))
        _once(fill(whole, elsewhere, events), len(events) + 1, groups)
        cases = case_grouping(engine)
        assert len(cases) > 10, "live review/hold/block hits should open cases"
        assert cases == case_grouping(whole)
