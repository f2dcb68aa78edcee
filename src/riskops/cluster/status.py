"""How the partitions stand: each one's owner, lag and last snapshot (``riskops status``,
and ``/readyz`` in cluster mode).

The lag is the stream's last sequence minus the partition's checkpoint: every partition
reads the whole stream (ADR 0041), so each is measured against the same end. A partition
is *down* when nobody holds a living lease on it (its owner died and no standby took it).
Its *owed* rows are transfers' second rows it has not written yet, which hold the accounts
follower (ADR 0047).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy.orm import Session

from riskops.cluster import repository as repo


class PartitionStatus(msgspec.Struct):
    """One partition, as ``riskops status`` and ``/readyz`` show it (no personal data)."""

    partition: int
    partitions: int
    owner: str | None
    alive: bool  # a lease that has not run out
    fence: int
    checkpoint: int
    lag: int | None  # None: the stream's end is not known (NATS not reachable)
    snapshot_seq: int | None
    snapshot_age_s: float | None
    lease_left_s: float | None
    owed: int = 0  # transfers' second rows not written: they hold the accounts follower


class ClusterStatus(msgspec.Struct):
    """The whole stream: ready when every partition has a living owner and none lags more
    than ``max_lag`` messages."""

    stream: str
    last_seq: int | None
    partitions: list[PartitionStatus]
    ready: bool
    reason: str | None = None


def partition_status(
    session: Session, stream: str, last_seq: int | None, now: datetime
) -> list[PartitionStatus]:
    """Each partition's row, with the lag against ``last_seq`` (the stream's end)."""
    marks = repo.snapshot_marks(session, stream)
    owed = repo.owed_counts(session, stream)
    out = []
    for row in repo.partitions(session, stream):
        alive = row.owner is not None and row.lease_until is not None and row.lease_until > now
        mark = marks.get(row.partition)
        out.append(
            PartitionStatus(
                partition=row.partition,
                partitions=row.partitions,
                owner=row.owner if alive else None,
                alive=alive,
                fence=row.fence,
                checkpoint=row.checkpoint,
                lag=None if last_seq is None else max(0, last_seq - row.checkpoint),
                snapshot_seq=mark[0] if mark else None,
                snapshot_age_s=round((now - mark[1]).total_seconds(), 1) if mark else None,
                lease_left_s=(
                    round((row.lease_until - now).total_seconds(), 1)
                    if alive and row.lease_until is not None
                    else None
                ),
                owed=owed.get(row.partition, 0),
            )
        )
    return out


def cluster_status(
    session: Session,
    stream: str,
    last_seq: int | None,
    now: datetime,
    *,
    max_lag: int = 100_000,
) -> ClusterStatus:
    """The stream's partitions and whether the cluster is ready (every partition owned,
    none behind by more than ``max_lag``)."""
    parts = partition_status(session, stream, last_seq, now)
    reason = None
    if not parts:
        reason = "no partition worker has started on this stream"
    elif down := [p.partition for p in parts if not p.alive]:
        reason = f"partitions without a living owner: {down}"
    elif behind := [p.partition for p in parts if p.lag is not None and p.lag > max_lag]:
        reason = f"partitions behind by more than {max_lag} messages: {behind}"
    return ClusterStatus(stream, last_seq, parts, reason is None, reason)


async def stream_last_seq(nats_url: str, stream: str, timeout: float = 2.0) -> int | None:
    """The stream's last sequence, or None when NATS or the stream cannot be reached."""
    import nats

    try:
        nc = await nats.connect(
            nats_url, connect_timeout=timeout, max_reconnect_attempts=0, allow_reconnect=False
        )
    except Exception:
        return None
    try:
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.last_seq)
    except Exception:
        return None
    finally:
        await nc.close()


def readiness(session: Session, nats_url: str, stream: str, now: datetime) -> ClusterStatus:
    """What ``/readyz`` answers in cluster mode (called from a sync route: a thread without
    an event loop): the stream's partitions, ready when each has a living owner and none
    lags too far. The stream's end is read from NATS (None, lag unknown, if unreachable)."""
    import asyncio

    last = asyncio.run(stream_last_seq(nats_url, stream))
    return cluster_status(session, stream, last, now)
