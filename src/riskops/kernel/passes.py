"""Background passes: work done a batch per transaction, and a pass run every few seconds.

What the log followers (``links.tasks``, ``screening.tasks``, ``accounts.tasks``) and the
case delivery (``cases.tasks``) share: each bounds a transaction to one batch (a crash
replays that batch only) and is run by the server as an asyncio task between its requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session, sessionmaker

from riskops.kernel.db import unit_of_work


def in_batches(
    sessions: sessionmaker[Session],
    batch: Callable[[Session], bool],
    *,
    max_batches: int | None = None,
    max_seconds: float | None = None,
    writer: AbstractContextManager[object] | None = None,
) -> bool:
    """Run ``batch`` once per transaction until it returns True (nothing is left to do),
    ``max_batches`` transactions have committed or ``max_seconds`` have passed; whether
    nothing is left. ``writer``, if given, is held around each transaction (the server's
    SQLite writer lock). An error rolls back its batch and propagates."""
    started = time.monotonic()
    batches = 0
    while max_batches is None or batches < max_batches:
        with writer or contextlib.nullcontext(), unit_of_work(sessions) as session:
            finished = batch(session)
        batches += 1
        if finished:
            return True
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            break
    return False


async def every(work: Callable[[], object], every_s: float, stopping: asyncio.Event) -> None:
    """Run ``work`` in a thread, then wait ``every_s`` seconds, until ``stopping`` is set
    (the wait ends early when it is)."""
    while not stopping.is_set():
        await asyncio.to_thread(work)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), every_s)
