"""Ingestion tasks: whole files, one transaction per chunk (the task owns its commits).

Big NDJSON and Parquet files are read in batches that worker processes validate and
prepare (decode, encode, hash, lay out) while this process writes the chunks before them,
in file order, on one connection. On SQLite a thread checkpoints the WAL meanwhile, so the
writer never stops to copy pages and wait for the disk. Other formats, and small files,
are prepared here, chunk by chunk (ADR 0010).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain, islice
from pathlib import Path

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import adapters, service
from riskops.events.adapters import Batch
from riskops.events.models import Source
from riskops.events.repository import storable
from riskops.kernel.processes import die_with_parent

CHUNK_SIZE = 20_000
_CHECKPOINT_SECONDS = 0.1
_WORKER_NICENESS = 10
_SQLITE_AUTOCHECKPOINT = 1000  # SQLite's default, restored on the writer's connection


def ingest_file(
    path: Path,
    fmt: str | None,
    source_name: str | None,
    sessions: sessionmaker[Session],
    progress: Callable[[int], object] | None = None,
    chunk_size: int = CHUNK_SIZE,
    workers: int | None = None,
) -> service.IngestReport:
    """Ingest a file, one transaction per chunk (a crash keeps the chunks already done;
    re-running the same file is idempotent). Returns the merged ``IngestReport``.

    ``workers`` processes prepare the chunks of NDJSON and Parquet files of more than one
    chunk (default: one per CPU; 0 prepares them in this process).
    """
    fmt = fmt or adapters.detect_format(path)
    # A file name need not be text (bytes that are not UTF-8 arrive as lone surrogates):
    # stored as the dead letters' text columns store it, escaped.
    name = storable(source_name or path.name)
    engine = sessions.kw["bind"]
    if not isinstance(engine, Engine):  # pragma: no cover - a programming error
        raise TypeError("ingest_file needs a sessionmaker bound to an Engine")
    total = service.IngestReport()
    # Worker processes are forked from this one: none may inherit a connection of ours.
    # A pooled connection's socket, kept open by an orphaned worker after this process is
    # killed, would keep its PostgreSQL transaction and the event-log lock for ever.
    engine.dispose()
    chunks = _prepared(path, fmt, name, chunk_size, _worker_count(workers))
    # closing: on an error the worker processes stop now, not when the traceback is freed
    with _young_gc_only(), contextlib.closing(chunks):
        # The first chunk starts the worker processes before the checkpointing thread.
        first = list(islice(chunks, 1))
        with _bulk_connection(engine) as connection:
            for chunk in chain(first, chunks):
                session = sessions(bind=connection)
                try:
                    report = service.store(session, chunk)
                    session.commit()
                finally:
                    session.close()
                total.merge(report, keep_rejected=False)
                del chunk
                gc.collect(1)
                if progress is not None:
                    progress(report.accepted + report.duplicates + report.rejected_count)
    return total


def _worker_count(workers: int | None) -> int:
    return (os.cpu_count() or 1) if workers is None else workers


def _prepared(
    path: Path, fmt: str, name: str, chunk_size: int, workers: int
) -> Generator[service.Prepared, None, None]:
    """The file's chunks, prepared, in file order."""
    source = Source.FILE.value
    batches = adapters.read_batches(path, fmt, chunk_size)
    if batches is None:  # read row by row
        rows = adapters.read_events(path, fmt)
        offset = 0
        while chunk := list(islice(rows, chunk_size)):
            yield service.prepare(chunk, offset, source, name)
            offset += len(chunk)
        return
    known = adapters.known_rows(path, fmt)  # Parquet: from its footer, without decoding
    first = list(islice(batches, 2)) if known is None else []
    many = len(first) == 2 if known is None else known > chunk_size
    if workers < 1 or not many:  # one chunk: not worth starting processes
        for batch in chain(first, batches):
            yield prepare_batch(batch, source, name)
        return
    yield from _in_workers(_ramped(chain(first, batches)), fmt, source, name, workers)


def _ramped(batches: Iterator[Batch]) -> Iterator[Batch]:
    """The writer idles until the first chunk is ready: the first batch is cut in pieces of
    1/16, 1/16, 1/8, 1/4 and 1/2 of it, so it starts after 1/16 of a batch."""
    batch = next(batches, None)
    if batch is None:
        return
    rows = adapters.batch_rows(batch)
    start = 0
    for stop in (rows // 16, rows // 8, rows // 4, rows // 2, rows):
        if stop > start:
            yield adapters.slice_batch(batch, start, stop)
            start = stop
    yield from batches


def prepare_batch(batch: Batch, source: str, source_name: str) -> service.Prepared:
    """Validate and prepare one batch (what a worker process runs)."""
    if batch.fmt == "parquet":  # column by column, where it can (``columnar``)
        from riskops.events.columnar import prepare_record_batch

        return prepare_record_batch(batch.data, batch.first_row, source, source_name)
    rows = adapters.iter_batch_to_store(batch)  # decoded to be encoded again, and dropped
    return service.prepare(rows, batch.first_row, source, source_name)


def _in_workers(
    batches: Iterator[Batch], fmt: str, source: str, name: str, workers: int
) -> Iterator[service.Prepared]:
    # fork on Linux: the workers start at once with everything imported, before any thread
    # of ours. Elsewhere (macOS: system libraries are not fork-safe) they are spawned.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(fmt, os.getpid())
    ) as pool:
        # Start the workers now, so they start up while this process reads the first batch.
        pool.submit(_started)
        pending: deque[Future[service.Prepared]] = deque()
        for batch in islice(batches, 2 * workers):
            pending.append(pool.submit(prepare_batch, batch, source, name))
        try:
            while pending:
                done = pending.popleft().result()
                for batch in islice(batches, 1):  # keep 2 per worker in flight
                    pending.append(pool.submit(prepare_batch, batch, source, name))
                yield done
        finally:
            for future in pending:
                future.cancel()


def _started() -> bool:
    """Nothing: the first task, so that the pool forks its workers at once."""
    return True


def _start_worker(fmt: str, parent: int) -> None:
    """A worker dies with the process that started it (``parent``), and yields the CPU to
    it: the single writer bounds the file's pace, and workers as busy as it would take a
    core's share from it (one worker per CPU). It imports what its format needs once,
    here, beside the other workers."""
    die_with_parent(parent)
    with contextlib.suppress(AttributeError, OSError):  # no os.nice on Windows
        os.nice(_WORKER_NICENESS)
    if fmt == "parquet":
        import riskops.events.columnar  # noqa: F401


@contextlib.contextmanager
def _bulk_connection(engine: Engine) -> Iterator[Connection]:
    """One connection for the whole file. On SQLite its commits leave the WAL to a
    checkpointing thread; SQLite's usual automatic checkpoint is back on at the end."""
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            yield connection
            return
        connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        connection.commit()  # end the autobegun block: each chunk's session owns its own
        checkpoints = _Checkpointer(engine)
        checkpoints.start()
        try:
            yield connection
        finally:
            checkpoints.stop()
            connection.exec_driver_sql(f"PRAGMA wal_autocheckpoint={_SQLITE_AUTOCHECKPOINT}")


class _Checkpointer:
    """Copies committed WAL pages into the SQLite database every tenth of a second, and once
    more at the end, on its own thread and connection (a PASSIVE checkpoint never blocks
    the writer). Without it the WAL would grow for as long as the bulk writer runs."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="riskops-wal-checkpoint")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with self._engine.connect() as connection:
            while not self._stop.wait(_CHECKPOINT_SECONDS):
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


@contextlib.contextmanager
def _young_gc_only() -> Iterator[None]:
    # Bulk ingestion allocates millions of acyclic objects; the automatic collector keeps
    # re-scanning the live chunk (~40% of the run time). Collect young objects per chunk.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
