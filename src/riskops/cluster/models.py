"""Tables of the partitioned monitor: who owns each partition, how far it got, its snapshot.

``cluster_partitions`` holds one row per (stream, partition): the owner's lease with its
fence (a number raised at every change of owner, checked by every commit: ADR 0041) and the
checkpoint, the last stream sequence whose results are committed. ``cluster_snapshots``
holds the newest evaluator state of each partition with the stream sequence it covers.
``cluster_owed`` holds the transfers' second rows not written yet (ADR 0047): the accounts
follower reads no event of the log at or after the first of them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import UtcDateTime


class PartitionLease(Base):
    """One partition of a stream: its owner, lease, fence and checkpoint."""

    __tablename__ = "cluster_partitions"

    stream: Mapped[str] = mapped_column(String(128), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    partitions: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    checkpoint: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PartitionSnapshot(Base):
    """The newest evaluator state of a partition and the stream sequence it covers."""

    __tablename__ = "cluster_snapshots"

    stream: Mapped[str] = mapped_column(String(128), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    rules: Mapped[str] = mapped_column(String(64))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OwedRow(Base):
    """A transfer's second row not written yet: added by the event's partition in the
    transaction that logs the event, removed by ``partition`` (the counterparty's) in the
    one that writes the row."""

    __tablename__ = "cluster_owed"

    stream: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer)
