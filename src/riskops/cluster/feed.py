"""What the accounts follower reads of a partitioned monitor (ADR 0028, ADR 0041).

The follower (``riskops.accounts.tasks``) keeps profiles, KYC reviews and ratings behind
the monitor: it reads the event log up to the monitor's checkpoint and the signals of the
decisions there. ``monitor.service.AccountFeed`` reads the single-process monitor's
checkpoint (``default``). Partition workers never move that one: each keeps its own,
``cluster:{I}:{stream}`` (``PartitionSpec.checkpoint_name``), in log seqs. Behind
``default`` the follower of a cluster read nothing, ever: no profiles, no reviews, and
ratings that never changed (the workers' ``RatingCache`` reads them back).

``ClusterFeed`` is the position all partitions of a stream have committed: the smallest of
their checkpoints. A partition logs its own events only, in increasing seqs, and moves its
checkpoint to the last of a batch in the transaction that writes the batch's results, so
the follower reads no event whose first row is not decided and written. A partition that
has committed nothing yet holds the position at 0.

Left: a transfer's second row (ADR 0041) is written by the counterparty's partition a
batch or so after its event is logged; a partition whose own checkpoint has passed the
event's seq by then may let the follower read that event before the second row's
decision is written, and that row's signals are then not weighed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from riskops.accounts.rating import Signal
from riskops.cluster import repository as repo
from riskops.cluster.partition import PartitionSpec
from riskops.monitor import repository as monitor_repo
from riskops.monitor.service import account_signals


@dataclass(frozen=True)
class ClusterFeed:
    """``MonitorFeed`` of the partition workers of ``stream`` (``RISKOPS_NATS_STREAM``)."""

    stream: str

    def checkpoints(self, session: Session) -> dict[int, int]:
        """Each partition's committed log position (0 before its first commit)."""
        found = repo.partitions(session, self.stream)
        return {
            lease.partition: monitor_repo.get_checkpoint(
                session, PartitionSpec(self.stream, "", lease.partition, len(found)).checkpoint_name
            )
            for lease in found
        }

    def position(self, session: Session) -> int:
        """The log seq every partition has committed; 0 while the stream has none."""
        return min(self.checkpoints(session).values(), default=0)

    def signals(self, session: Session, after: int, upto: int) -> list[Signal]:
        return account_signals(session, after, upto)
