"""On PostgreSQL no writer of events waits for ever: a killed or stuck holder of the
event-log lock is ended by the server, and an append gives up past its wait limit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from riskops.events import repository, service
from riskops.events.validation import decode
from riskops.kernel.db import end_idle_transactions, make_engine, session_factory, unit_of_work
from riskops.kernel.errors import Busy
from support import POSTGRES_URL, migrated_engine

pytestmark = pytest.mark.postgres
Wire = Callable[..., dict[str, Any]]


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    with migrated_engine("postgres", tmp_path) as engine:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        yield engine, schema


def _engine(schema: str, *options: str) -> Engine:
    settings = " ".join((f"-csearch_path={schema}", *options))
    return make_engine(POSTGRES_URL, connect_args={"options": settings})


def _hold_the_log_lock(engine: Engine) -> Any:
    """A connection inside a transaction that appended an event (it holds the lock)."""
    conn = engine.connect()
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({repository.APPEND_LOCK_KEY})")
    return conn


def _append(engine: Engine, wire: Wire, i: int) -> int:
    event = decode(msgspec.json.encode(wire(i)))
    with unit_of_work(session_factory(engine)) as session:
        return service.ingest(session, [(None, event)], source="http").accepted


def test_an_idle_transaction_of_a_bulk_writer_is_ended_and_its_lock_freed(
    pg: tuple[Engine, str], wire: Wire
) -> None:
    engine, schema = pg
    writer = _engine(schema)
    end_idle_transactions(writer, seconds=0.5)
    try:
        held = _hold_the_log_lock(writer)
        pid = held.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        # The writer stops here (a frozen process, an orphan keeping the socket): the
        # server ends its session, and with it the transaction and the lock.
        gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        deadline = time.monotonic() + 10
        with engine.connect() as watcher:
            while watcher.execute(gone, {"pid": pid}).scalar_one():
                watcher.rollback()  # pg_stat_activity is read once per transaction
                assert time.monotonic() < deadline, "the idle transaction was not ended"
                time.sleep(0.05)
        assert _append(engine, wire, 1) == 1
        held.invalidate()  # its server session is gone: nothing to roll back
        held.close()
    finally:
        writer.dispose()


def test_other_sessions_keep_their_idle_transactions(pg: tuple[Engine, str]) -> None:
    engine, schema = pg
    writer = _engine(schema)
    end_idle_transactions(writer, seconds=0.5)
    try:
        with writer.connect() as conn:
            assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == (
                "500ms"
            )
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == (
                "0"
            )
    finally:
        writer.dispose()


def test_an_append_behind_a_stuck_holder_gives_up_with_busy(
    pg: tuple[Engine, str], wire: Wire
) -> None:
    engine, schema = pg
    impatient = _engine(schema, "-clock_timeout=200ms")  # a server's own lock_timeout
    held = _hold_the_log_lock(engine)
    try:
        with pytest.raises(Busy) as busy:
            _append(impatient, wire, 1)
        assert busy.value.message == "the event log is busy; try again in a few seconds"
        with impatient.connect() as conn:  # an append sets the limit for its transaction only
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "200ms"
    finally:
        held.rollback()
        held.close()
        impatient.dispose()
    assert _append(engine, wire, 2) == 1


def test_an_append_sets_a_wait_limit_where_the_session_has_none(
    pg: tuple[Engine, str], wire: Wire
) -> None:
    engine, _ = pg
    with unit_of_work(session_factory(engine)) as session:
        event = decode(msgspec.json.encode(wire(1)))
        service.ingest(session, [(None, event)], source="http")
        limit = session.connection().exec_driver_sql("SHOW lock_timeout").scalar()
    assert limit == f"{repository.APPEND_LOCK_TIMEOUT_SECONDS}s"


def test_a_holder_in_another_schema_does_not_block_an_append_here(
    pg: tuple[Engine, str], wire: Wire, tmp_path: Path
) -> None:
    """The lock is the schema's event log's: another deployment (or test) on the same
    server appending to its own log never makes this one wait."""
    _, schema = pg
    impatient = _engine(schema, "-clock_timeout=200ms")
    with migrated_engine("postgres", tmp_path / "other") as other:
        held = _hold_the_log_lock(other)
        try:
            assert _append(impatient, wire, 1) == 1  # no Busy: not the same lock
        finally:
            held.rollback()
            held.close()
            impatient.dispose()
