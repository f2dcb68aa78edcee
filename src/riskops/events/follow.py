"""Following the event log with a cursor of one's own: what a consumer of the log that is
not the monitor (``riskops.links.tasks``, ``riskops.screening.tasks``) needs to read it in
bounded batches and remember how far it got, in the transaction that writes what it made of
them (so a crash replays the batch, and nothing is lost or done twice).

A follower's cursor is a row (name, seq, updated_at) of a table of its own, declared with
``CursorColumns``; these functions take that table. Appends to the log commit in seq order
(they hold the log's append lock, see ``riskops.events.repository``), so reading the log's
last seq first, then the events up to it, sees every event at or below it there will be.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from riskops.events.models import EventRecord
from riskops.kernel.types import UtcDateTime


class CursorColumns:
    """The columns of a follower's cursor table (mix into a model with its table name)."""

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


def cursor(session: Session, table: type[CursorColumns], name: str) -> int:
    """How far the follower ``name`` has read (0: nothing yet)."""
    seq: int | None = session.scalar(select(table.seq).where(table.name == name))
    return seq or 0


def claim(session: Session, table: type[CursorColumns], name: str, now: datetime) -> int:
    """The cursor, with its row locked until the transaction ends (created at 0 if new):
    a second follower of the same name (the server's and the worker's) waits for this
    batch instead of reading it too. On SQLite the insert takes the database's write lock,
    which does the same."""
    session.execute(_insert_ignore(session, table).values(name=name, seq=0, updated_at=now))
    stmt = select(table.seq).where(table.name == name).with_for_update()
    return int(session.scalar(stmt) or 0)


def advance(
    session: Session, table: type[CursorColumns], name: str, seq: int, now: datetime
) -> None:
    """Move the cursor to ``seq`` (never back)."""
    session.execute(_insert_ignore(session, table).values(name=name, seq=0, updated_at=now))
    session.execute(
        update(table)
        .where(table.name == name, table.seq < seq)
        .values(seq=seq, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def events_after(
    session: Session,
    after: int,
    types: Collection[str],
    limit: int,
    upto: int | None = None,
) -> tuple[list[tuple[int, str]], int]:
    """The (seq, payload) of up to ``limit`` events of ``types`` after ``after``, in log
    order, and how far they cover the log: the last seq read when ``limit`` was reached, else
    the log's last seq (read first: appends commit in seq order, so nothing at or below it
    can appear later), or ``upto`` if that is lower (a follower that stays behind another,
    ``riskops.accounts.tasks`` behind the monitor)."""
    last = int(session.scalar(select(func.max(EventRecord.seq))) or 0)
    if upto is not None:
        last = min(last, upto)
    if last <= after:
        return [], after
    stmt = (
        select(EventRecord.seq, EventRecord.payload)
        .where(
            EventRecord.seq > after,
            EventRecord.seq <= last,
            EventRecord.type.in_(sorted(types)),
        )
        .order_by(EventRecord.seq)
        .limit(limit)
    )
    rows = [(int(seq), payload) for seq, payload in session.execute(stmt)]
    return rows, rows[-1][0] if len(rows) == limit else last


def _insert_ignore(session: Session, model: type[Any]) -> Any:
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()
