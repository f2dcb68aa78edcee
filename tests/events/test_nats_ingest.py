"""The broker adapter against the real NATS JetStream: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import repository, service
from riskops.events.nats import consume, partition_of, publish
from riskops.events.schemas import Event
from riskops.events.validation import decode
from riskops.kernel.db import unit_of_work
from support import drop_stream

pytestmark = pytest.mark.nats
Wire = Callable[..., dict[str, Any]]


@pytest.fixture
def stream(nats_url: str) -> Iterator[tuple[str, str]]:
    """A stream and subject of this test alone, deleted afterwards."""
    token = uuid.uuid4().hex[:10]
    name, subject = f"T_EVENTS_{token}", f"test.{token}.events"
    yield name, subject
    drop_stream(nats_url, name)


def _events(wire: Wire, ids: range) -> list[Event]:
    events = [decode(msgspec.json.encode(wire(i))) for i in ids]
    assert all(isinstance(e, Event) for e in events)
    return events  # type: ignore[return-value]


def _count(sessions: sessionmaker[Session]) -> int:
    with unit_of_work(sessions) as session:
        return repository.count_events(session)


def _consume(url: str, stream: tuple[str, str], sessions: Any, **kw: Any) -> Any:
    kw.setdefault("idle_timeout", 1.0)
    return asyncio.run(consume(url, stream[0], stream[1], "ingest", sessions, **kw))


def test_publish_consume_and_republish(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    events = _events(wire, range(200))
    assert asyncio.run(publish(nats_url, stream[1], events, stream=stream[0])) == 200
    stats = _consume(nats_url, stream, sessions, batch=64)
    assert (stats.messages, stats.accepted, stats.duplicates) == (200, 200, 0)
    assert _count(sessions) == 200
    # Re-publishing is dropped by JetStream (Nats-Msg-Id), so there is nothing to consume.
    assert asyncio.run(publish(nats_url, stream[1], events, stream=stream[0])) == 0
    assert _consume(nats_url, stream, sessions).messages == 0
    assert _count(sessions) == 200
    with unit_of_work(sessions) as session:
        stored = repository.read_after(session, 0, limit=1)[0]
        assert (stored.source, stored.source_name) == ("nats", stream[0])


def test_stopped_consumer_resumes_without_loss_or_duplicates(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    asyncio.run(publish(nats_url, stream[1], _events(wire, range(300)), stream=stream[0]))
    first = _consume(nats_url, stream, sessions, batch=50, max_messages=120)
    assert (first.messages, first.accepted) == (120, 120)
    assert _count(sessions) == 120
    rest = _consume(nats_url, stream, sessions, batch=50)
    assert (rest.messages, rest.accepted, rest.duplicates) == (180, 180, 0)
    with unit_of_work(sessions) as session:
        ids = [r.event_id for r in repository.read_after(session, 0, limit=1000)]
    assert sorted(ids) == sorted(f"e-{i}" for i in range(300))


def test_redelivery_after_a_crash_between_commit_and_ack(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    events = _events(wire, range(40))
    asyncio.run(publish(nats_url, stream[1], events, stream=stream[0]))
    # A consumer committed the first 25 and died before acking: they come again.
    with unit_of_work(sessions) as session:
        service.ingest(session, [(None, e) for e in events[:25]], source="nats")
    stats = _consume(nats_url, stream, sessions)
    assert (stats.messages, stats.accepted, stats.duplicates) == (40, 15, 25)
    assert _count(sessions) == 40


def test_bad_messages_are_dead_lettered(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    import nats

    async def send() -> None:
        await publish(nats_url, stream[1], _events(wire, range(1)), stream=stream[0])
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        lines = msgspec.json.encode(wire(1)) + b"\n" + msgspec.json.encode(wire(2, rail="x"))
        await js.publish(f"{stream[1]}.0", lines)
        await js.publish(f"{stream[1]}.1", b'{"type": "login"')
        await nc.close()

    asyncio.run(send())
    stats = _consume(nats_url, stream, sessions)
    assert (stats.messages, stats.accepted, stats.rejected) == (3, 2, 2)
    with unit_of_work(sessions) as session:
        letters, total = repository.list_dead_letters(session, source="nats")
    assert total == 2 and {d.event_id for d in letters} == {"e-2", None}
    assert all(d.source_row is not None for d in letters)  # the stream sequence


def test_hostile_messages_are_kept_exactly_and_once(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    """NUL, lone surrogate escapes, bytes that are not UTF-8, binary: each message is a
    dead letter byte for byte (the consumer never stops on one), and a second consumer
    reading the stream again (every message redelivered) adds no dead letter."""
    import nats

    hostile = [
        b"\x00",
        b'{"type": "teleport", "event_id": "a\\u0000b"}',
        b'{"type": "teleport", "event_id": "\\ud800"}',
        b"\xff\xfe\xfd",
        b'{"type": "deposit", "event_id": "\xff"}',
        bytes(range(10)) + bytes(range(11, 256)),  # binary, one line
    ]

    async def send() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        from riskops.events.nats import ensure_stream

        await ensure_stream(js, stream[0], stream[1])
        for i, data in enumerate(hostile):
            await js.publish(f"{stream[1]}.{i % 3}", data)
        await js.publish(f"{stream[1]}.0", msgspec.json.encode(wire(1)))
        await nc.close()

    asyncio.run(send())
    stats = _consume(nats_url, stream, sessions)
    assert (stats.messages, stats.accepted, stats.rejected) == (len(hostile) + 1, 1, len(hostile))
    again = asyncio.run(
        consume(nats_url, stream[0], stream[1], "again", sessions, idle_timeout=1.0)
    )
    assert (again.messages, again.duplicates, again.rejected) == (len(hostile) + 1, 1, 6)
    with unit_of_work(sessions) as session:
        letters, total = repository.list_dead_letters(session, source="nats", limit=100)
        kept = sorted((d.source_row, d.raw) for d in letters)
    assert total == len(hostile)
    assert kept == [(row, data) for row, data in enumerate(hostile, 1)]
    assert _count(sessions) == 1


def test_partition_is_stable() -> None:
    assert partition_of("acct-1", 8) == partition_of("acct-1", 8)
    assert {partition_of(f"a{i}", 8) for i in range(100)} == set(range(8))


# --- a database that goes away -------------------------------------------------------


class Gate:
    """A TCP proxy to PostgreSQL that the test shuts (every connection cut, new ones
    closed at once: the database is unreachable) and opens again."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket
        import threading

        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._sockets: list[Any] = []
        self._lock = threading.Lock()
        self.refused = 0  # connections closed at once while shut
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed: the test is over
                return
            if not self._open.is_set():
                client.close()
                self.refused += 1
                continue
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: Any, sink: Any) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.close()

    def shut(self) -> None:
        import socket

        self._open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for end in sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                end.close()

    def open(self) -> None:
        self._open.set()

    def close(self) -> None:
        self.shut()
        self._listener.close()


@pytest.mark.postgres
def test_consumer_waits_for_a_lost_database_without_acking(
    nats_url: str, stream: tuple[str, str], wire: Wire, tmp_path: Any
) -> None:
    """The database goes away while the consumer runs: it keeps the batch unacked, tries
    again with backoff, and stores everything once the database is back."""
    import threading
    from urllib.parse import urlparse

    from riskops.kernel.db import make_engine, session_factory
    from riskops.kernel.retry import Backoff
    from support import POSTGRES_URL, migrated_engine

    with migrated_engine("postgres", tmp_path) as engine:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        server = urlparse(POSTGRES_URL.replace("+psycopg", ""))
        gate = Gate((server.hostname or "127.0.0.1", server.port or 5432))
        through_gate = make_engine(
            f"postgresql+psycopg://{server.username}@127.0.0.1:{gate.port}{server.path}",
            connect_args={"options": f"-csearch_path={schema}"},
        )
        direct = session_factory(engine)
        try:
            asyncio.run(publish(nats_url, stream[1], _events(wire, range(300)), stream=stream[0]))
            gate.shut()
            backoff = Backoff(initial=0.05, maximum=0.2)
            stop = threading.Event()
            result: list[Any] = []

            def run() -> None:
                async def consuming() -> Any:
                    stopping = asyncio.Event()

                    async def watch() -> None:
                        await asyncio.to_thread(stop.wait)
                        stopping.set()

                    watcher = asyncio.create_task(watch())
                    try:
                        return await consume(
                            nats_url,
                            stream[0],
                            stream[1],
                            "ingest",
                            session_factory(through_gate),
                            batch=100,
                            stop_event=stopping,
                            backoff=backoff,
                        )
                    finally:
                        stop.set()
                        await watcher

                result.append(asyncio.run(consuming()))

            consumer = threading.Thread(target=run)
            consumer.start()
            try:
                deadline = time.monotonic() + 30
                while backoff.failures < 5:  # tried again and again, still running
                    assert consumer.is_alive(), "the consumer gave up"
                    assert time.monotonic() < deadline, "the consumer did not retry"
                    time.sleep(0.02)
                assert _count(direct) == 0
                gate.open()
                while _count(direct) < 300:
                    assert consumer.is_alive(), "the consumer gave up"
                    assert time.monotonic() < deadline + 30, "nothing stored after the return"
                    time.sleep(0.02)
            finally:
                stop.set()
                consumer.join(timeout=30)
            (stats,) = result
            assert (stats.messages, stats.accepted, stats.duplicates) == (300, 300, 0)
            assert backoff.failures == 0  # reset by the first success
            # Nothing was acked before it was stored, and nothing is left to redeliver.
            assert _consume(nats_url, stream, direct).messages == 0
            assert _count(direct) == 300
        finally:
            through_gate.dispose()
            gate.close()


@pytest.mark.postgres
def test_consume_nats_waits_for_the_database_at_start(
    nats_url: str, stream: tuple[str, str], wire: Wire, tmp_path: Any
) -> None:
    """``riskops consume-nats`` started while the database cannot be reached waits for it
    (backoff) instead of exiting, then consumes."""
    import os
    import subprocess
    from urllib.parse import quote, urlparse

    from processes import RISKOPS, wait_for
    from riskops.kernel.db import session_factory
    from support import POSTGRES_URL, migrated_engine

    with migrated_engine("postgres", tmp_path) as engine:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        server = urlparse(POSTGRES_URL.replace("+psycopg", ""))
        gate = Gate((server.hostname or "127.0.0.1", server.port or 5432))
        url = f"postgresql+psycopg://{server.username}@127.0.0.1:{gate.port}{server.path}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RISKOPS_")}
        env.update(
            RISKOPS_DATABASE_URL=f"{url}?options={quote(f'-csearch_path={schema}')}",
            RISKOPS_DATA_DIR=str(tmp_path),
            RISKOPS_LOG_LEVEL="WARNING",
        )
        asyncio.run(publish(nats_url, stream[1], _events(wire, range(50)), stream=stream[0]))
        gate.shut()
        args = ["--url", nats_url, "--stream", stream[0], "--subject", stream[1], "--max", "50"]
        proc = subprocess.Popen(
            [RISKOPS, "consume-nats", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(lambda: gate.refused >= 2 or proc.poll() is not None, "two attempts")
            assert proc.poll() is None, proc.communicate()[1].decode()
            gate.open()
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()
            assert b"database.unreachable" in err and b"messages 50" in out  # logs: stderr
            assert _count(session_factory(engine)) == 50
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            gate.close()
