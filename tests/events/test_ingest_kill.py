"""Kill tests of ingestion: ``riskops ingest`` and ``riskops consume-nats`` SIGKILLed mid-run.

Each runs the real command on a real database (SQLite, then PostgreSQL), kills it while
it writes, and proves: no process of it survives, the event log takes writes at once,
and a second run stores every event exactly once and every refused line once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from events_wire import wire_deposit
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from processes import environment, kill_and_reap, start, wait_for
from riskops.events import repository, service
from riskops.events.models import DeadLetter, EventRecord
from riskops.events.validation import decode
from riskops.kernel.db import session_factory, unit_of_work
from support import drop_stream

EVENTS = 30_000  # a ramped first chunk (1/16, 1/16, 1/8 ...), then chunks of 20,000
BAD_EVERY = 5_000  # a refused line every so often: dead letters must not double either


def _line(i: int) -> bytes:
    if i % BAD_EVERY == BAD_EVERY - 1:
        return b'{"type": "deposit", "event_id": "bad-%d", "amount": "\x00"}' % i
    return msgspec.json.encode(wire_deposit(i, event_id=f"k-{i}", account_id=f"acct-{i % 97}"))


BAD = EVENTS // BAD_EVERY


@pytest.fixture(scope="module")
def ndjson(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kill") / "events.ndjson"
    path.write_bytes(b"\n".join(_line(i) for i in range(EVENTS)) + b"\n")
    return path


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with unit_of_work(sessions) as session:
        return repository.count_events(session), repository.count_dead_letters(session)


def _append_now(sessions: sessionmaker[Session], event_id: str) -> None:
    """A direct append of one event: on PostgreSQL it takes the event-log lock, which a
    killed writer must not hold (it waits at most ``APPEND_LOCK_TIMEOUT_SECONDS``)."""
    event = decode(msgspec.json.encode({**msgspec.json.decode(_line(0)), "event_id": event_id}))
    with unit_of_work(sessions) as session:
        report = service.ingest(session, [(None, event)], source="http")
    assert report.accepted == 1


def _bad_lines(events: int) -> list[int]:
    return [i for i in range(events) if i % BAD_EVERY == BAD_EVERY - 1]


def _stored_once(sessions: sessionmaker[Session], events: int, dead_rows: list[int]) -> None:
    """Each good line of the first ``events`` stored once, a dead letter at each of
    ``dead_rows``."""
    with unit_of_work(sessions) as session:
        ids = list(session.scalars(select(EventRecord.event_id)))
        rows = list(session.scalars(select(DeadLetter.source_row)))
    assert len(ids) == len(set(ids))
    bad = set(_bad_lines(events))
    expected = {f"k-{i}" for i in range(events) if i not in bad}
    assert set(ids) - {"after-kill"} == expected
    assert sorted(rows) == dead_rows


def test_killed_ingest_leaves_nothing_behind(
    engine: Engine, ndjson: Path, tmp_path: Path, groups: list[int]
) -> None:
    sessions = session_factory(engine)
    env = environment(engine, tmp_path)
    proc = start(env, "ingest", str(ndjson), "--workers", "2")
    groups.append(proc.pid)
    # Mid-run: the first chunk is stored, the workers prepare the next ones.
    wait_for(lambda: proc.poll() is not None or _counts(sessions)[0] > 0, "a first chunk")
    assert proc.poll() is None, proc.communicate()[1].decode()
    stored_at_kill = _counts(sessions)[0]
    left = kill_and_reap(proc)
    assert left == set(), f"processes of the killed ingest still alive: {left}"
    assert 0 < stored_at_kill < EVENTS - BAD
    _append_now(sessions, "after-kill")  # the event log takes writes at once

    again = start(env, "ingest", str(ndjson), "--workers", "2")
    groups.append(again.pid)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    _stored_once(sessions, EVENTS, _bad_lines(EVENTS))
    assert _counts(sessions) == (EVENTS - BAD + 1, BAD)
    assert b"accepted" in out


# --- the NATS consumer ---------------------------------------------------------------


NATS_EVENTS = 10_000
LINES = 100  # events per NATS message (NDJSON)


@pytest.fixture
def stream(nats_url: str) -> Iterator[tuple[str, str]]:
    """A stream of this test alone, with a durable consumer that redelivers unacked
    messages after half a second (the default 30 s would make the test wait)."""
    from nats.js.api import ConsumerConfig

    token = uuid.uuid4().hex[:10]
    name, subject = f"T_KILL_{token}", f"test.{token}.events"

    async def create() -> None:
        import nats

        from riskops.events.nats import ensure_stream

        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await ensure_stream(js, name, subject)
        config = ConsumerConfig(durable_name="ingest", ack_wait=0.5, max_ack_pending=-1)
        await js.add_consumer(name, config)
        for first in range(0, NATS_EVENTS, LINES):
            lines = b"\n".join(_line(i) for i in range(first, first + LINES))
            await js.publish(f"{subject}.{first // LINES % 4}", lines)
        await nc.close()

    asyncio.run(create())
    yield name, subject
    drop_stream(nats_url, name)


@pytest.mark.nats
def test_killed_nats_consumer_leaves_nothing_behind(
    engine: Engine, nats_url: str, stream: tuple[str, str], tmp_path: Path, groups: list[int]
) -> None:
    from riskops.events.nats import consume

    sessions = session_factory(engine)
    env = environment(engine, tmp_path)
    name, subject = stream
    args = ["consume-nats", "--url", nats_url, "--stream", name, "--subject", subject]
    proc = start(env, *args, "--durable", "ingest", "--batch", "10")  # 1,000 events
    groups.append(proc.pid)
    wait_for(lambda: proc.poll() is not None or _counts(sessions)[0] > 0, "a first batch")
    assert proc.poll() is None, proc.communicate()[1].decode()
    left = kill_and_reap(proc)
    assert left == set(), f"processes of the killed consumer still alive: {left}"
    assert 0 < _counts(sessions)[0] < NATS_EVENTS - NATS_EVENTS // BAD_EVERY
    _append_now(sessions, "after-kill")

    # The rest, and what the killed consumer took but did not ack, come again.
    stats = asyncio.run(consume(nats_url, name, subject, "ingest", sessions, idle_timeout=2.0))
    assert stats.messages > 0
    rows = [i // LINES + 1 for i in _bad_lines(NATS_EVENTS)]  # a message's stream sequence
    _stored_once(sessions, NATS_EVENTS, rows)
    bad = NATS_EVENTS // BAD_EVERY
    assert _counts(sessions) == (NATS_EVENTS - bad + 1, bad)


_ORPHAN = """
import os, sys, time
from riskops.kernel import processes as tasks

parent = os.getpid()
if os.fork() == 0:
    if sys.argv[2] == "prctl":
        tasks.die_with_parent(parent)
    else:  # the fallback where prctl is missing or refused
        tasks._watch_parent(parent)
    with open(sys.argv[1], "w") as out:
        out.write(str(os.getpid()))
    while True:
        time.sleep(60)
time.sleep(600)
"""


@pytest.mark.parametrize("means", ["prctl", "watch"])
def test_a_worker_ends_with_its_parent(tmp_path: Path, groups: list[int], means: str) -> None:
    """``die_with_parent`` by either means: a child whose parent is SIGKILLed ends."""
    import subprocess
    import sys

    from processes import in_group

    ready = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN, str(ready), means], start_new_session=True
    )
    groups.append(parent.pid)
    wait_for(lambda: ready.exists() and ready.read_text() != "", "the child")
    child = int(ready.read_text())
    assert child in in_group(parent.pid)
    assert kill_and_reap(parent) == set()
