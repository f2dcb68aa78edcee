"""All SQL of the cluster package: partition leases (fenced), checkpoints, snapshots, and
the transfers' second rows owed (what the accounts follower waits for: ADR 0047).

The lease is a row per (stream, partition). Taking it raises the row's ``fence``; every
commit of a partition's results updates the row *where the fence is still the one its
owner took*, first thing in the transaction, so a worker that lost its lease (paused past
its expiry while another took over) cannot commit anything: its update finds no row and the
transaction is rolled back (ADR 0041). On PostgreSQL the update also locks the row until
the commit, so a takeover waits for a commit in flight instead of racing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, literal, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from riskops.cluster.models import OwedRow, PartitionLease, PartitionSnapshot
from riskops.events.models import EventRecord
from riskops.monitor.models import Decision, MonitorCheckpoint


def _insert(session: Session) -> type[postgresql.Insert] | type[sqlite.Insert]:
    dialect = session.get_bind().dialect.name
    return postgresql.Insert if dialect == "postgresql" else sqlite.Insert


def ensure_partitions(session: Session, stream: str, partitions: int, now: datetime) -> None:
    """Rows for partitions 0..N-1 of ``stream`` (existing rows are left as they are)."""
    insert = _insert(session)
    rows = [
        {
            "stream": stream,
            "partition": i,
            "partitions": partitions,
            "owner": None,
            "fence": 0,
            "lease_until": None,
            "checkpoint": 0,
            "updated_at": now,
        }
        for i in range(partitions)
    ]
    session.execute(insert(PartitionLease).values(rows).on_conflict_do_nothing())


def acquire(
    session: Session,
    stream: str,
    partition: int,
    owner: str,
    until: datetime,
    now: datetime,
) -> int | None:
    """Take the partition's lease if it is free, expired or already ``owner``'s; the new
    fence, or None when another owner holds it."""
    table = PartitionLease
    taken = session.execute(
        update(table)
        .where(
            table.stream == stream,
            table.partition == partition,
            or_(
                table.owner.is_(None),
                table.lease_until.is_(None),
                table.lease_until < now,
                table.owner == owner,
            ),
        )
        .values(owner=owner, fence=table.fence + 1, lease_until=until, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    fence = session.scalar(
        select(table.fence).where(table.stream == stream, table.partition == partition)
    )
    return int(fence) if fence is not None else None


def fenced_advance(
    session: Session,
    stream: str,
    partition: int,
    fence: int,
    checkpoint: int | None,
    until: datetime,
    now: datetime,
) -> bool:
    """Renew the lease (and move the checkpoint to ``checkpoint``, never back) if ``fence``
    is still the partition's; False when another owner took it since."""
    table = PartitionLease
    values: dict[str, object] = {"lease_until": until, "updated_at": now}
    if checkpoint is not None:
        greatest = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
        values["checkpoint"] = greatest(table.checkpoint, checkpoint)
    done = session.execute(
        update(table)
        .where(table.stream == stream, table.partition == partition, table.fence == fence)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def release(session: Session, stream: str, partition: int, fence: int, now: datetime) -> None:
    """Give the lease up (a clean stop): a standby may take it at once."""
    table = PartitionLease
    session.execute(
        update(table)
        .where(table.stream == stream, table.partition == partition, table.fence == fence)
        .values(owner=None, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def checkpoint(session: Session, stream: str, partition: int) -> int:
    value = session.scalar(
        select(PartitionLease.checkpoint).where(
            PartitionLease.stream == stream, PartitionLease.partition == partition
        )
    )
    return int(value or 0)


def partitions(session: Session, stream: str) -> list[PartitionLease]:
    """Every partition row of ``stream``, by partition."""
    query = (
        select(PartitionLease)
        .where(PartitionLease.stream == stream)
        .order_by(PartitionLease.partition)
    )
    return list(session.scalars(query))


def streams(session: Session) -> list[str]:
    """The streams that have partition rows."""
    return list(session.scalars(select(PartitionLease.stream).distinct()))


def save_snapshot(
    session: Session,
    stream: str,
    partition: int,
    seq: int,
    rules: str,
    state: bytes,
    now: datetime,
) -> None:
    """Keep ``state`` (as of stream sequence ``seq``) as the partition's snapshot."""
    insert = _insert(session)
    values = {
        "stream": stream,
        "partition": partition,
        "seq": seq,
        "rules": rules,
        "state": state,
        "taken_at": now,
    }
    stmt = insert(PartitionSnapshot).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["stream", "partition"],
        set_={"seq": seq, "rules": rules, "state": state, "taken_at": now},
    )
    session.execute(stmt)


def load_snapshot(session: Session, stream: str, partition: int) -> PartitionSnapshot | None:
    return session.get(PartitionSnapshot, (stream, partition))


def snapshot_marks(session: Session, stream: str) -> dict[int, tuple[int, datetime]]:
    """Each partition's snapshot: (sequence covered, when taken), without the state."""
    query = select(PartitionSnapshot.partition, PartitionSnapshot.seq, PartitionSnapshot.taken_at)
    rows = session.execute(query.where(PartitionSnapshot.stream == stream))
    return {partition: (seq, taken) for partition, seq, taken in rows}


_SEQS_PG = "SELECT event_id, seq FROM events WHERE event_id = ANY(%s::varchar[])"


def log_seqs(session: Session, event_ids: Iterable[str]) -> dict[str, int]:
    """The event log's seq of each of ``event_ids`` that is stored."""
    ids = list(set(event_ids))
    if not ids:
        return {}
    connection = session.connection()
    if connection.dialect.name == "postgresql":  # one array parameter: no IN list to compile
        found_pg = connection.exec_driver_sql(_SEQS_PG, (ids,))
        return {event_id: int(seq) for event_id, seq in found_pg}
    found: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(EventRecord.event_id, EventRecord.seq).where(EventRecord.event_id.in_(chunk))
        )
        found.update({event_id: int(seq) for event_id, seq in rows})
    return found


def second_rows_stored(session: Session, event_ids: list[str]) -> list[str]:
    """Those of ``event_ids`` whose second row (a transfer's counterparty) has a stored
    decision: written before (a replay computed it again)."""
    if not event_ids:
        return []
    query = select(Decision.event_id).where(Decision.event_id.in_(event_ids), Decision.row == 1)
    return list(session.scalars(query))


def owe(session: Session, stream: str, owed: Sequence[tuple[str, int]]) -> None:
    """Record second rows owed: (event id, the partition that owes its row)."""
    if not owed:
        return
    rows = [{"stream": stream, "event_id": event_id, "partition": p} for event_id, p in owed]
    session.execute(_insert(session)(OwedRow).on_conflict_do_nothing(), rows)


def settle(session: Session, stream: str, event_ids: Iterable[str]) -> None:
    """The second rows of ``event_ids`` are written: owed no more."""
    ids = list(event_ids)
    for start in range(0, len(ids), 500):
        session.execute(
            delete(OwedRow)
            .where(OwedRow.stream == stream, OwedRow.event_id.in_(ids[start : start + 500]))
            .execution_options(synchronize_session=False)
        )


def owed(session: Session, stream: str) -> dict[str, int]:
    """The second rows owed on ``stream``: event id -> the partition that owes it."""
    query = select(OwedRow.event_id, OwedRow.partition).where(OwedRow.stream == stream)
    return {event_id: int(p) for event_id, p in session.execute(query)}


def owed_counts(session: Session, stream: str) -> dict[int, int]:
    """How many second rows each partition of ``stream`` owes."""
    query = (
        select(OwedRow.partition, func.count())
        .where(OwedRow.stream == stream)
        .group_by(OwedRow.partition)
    )
    return {int(p): int(n) for p, n in session.execute(query)}


def feed_marks(session: Session, stream: str, names: Sequence[str]) -> tuple[dict[str, int], int]:
    """The monitor checkpoints ``names`` (those stored) and the smallest log seq of an event
    whose second row ``stream`` still owes (0: none in the log), read in ONE statement: one
    snapshot of the database, on PostgreSQL's read committed too."""
    owed_seq = (
        select(literal("").label("name"), func.coalesce(func.min(EventRecord.seq), 0))
        .select_from(OwedRow)
        .join(EventRecord, EventRecord.event_id == OwedRow.event_id)
        .where(OwedRow.stream == stream)
    )
    checkpoints = select(MonitorCheckpoint.name, MonitorCheckpoint.last_seq).where(
        MonitorCheckpoint.name.in_(list(names))
    )
    marks = {str(name): int(seq) for name, seq in session.execute(union_all(checkpoints, owed_seq))}
    return marks, marks.pop("", 0)
