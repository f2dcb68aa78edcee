"""What the accounts follower reads of a partitioned monitor (ADR 0028, ADR 0041, ADR 0047).

The follower (``riskops.accounts.tasks``) keeps profiles, KYC reviews and ratings behind
the monitor: it reads the event log up to the monitor's checkpoint and the signals of the
decisions there. ``monitor.service.AccountFeed`` reads the single-process monitor's
checkpoint (``default``). Partition workers never move that one: each keeps its own,
``cluster:{I}:{stream}`` (``PartitionSpec.checkpoint_name``), in log seqs. Behind
``default`` the follower of a cluster read nothing, ever: no profiles, no reviews, and
ratings that never changed (the workers' ``RatingCache`` reads them back).

``ClusterFeed`` is the position up to which every row of every event is decided and
written:

- **First rows: the smallest checkpoint.** A partition logs its own events only, in
  increasing seqs, and moves its checkpoint to the last of a batch in the transaction that
  writes the batch's results, so no event at or below the smallest checkpoint lacks its
  first row. A partition that has committed nothing yet holds the position at 0.
- **Second rows: below the first one owed.** A transfer's second row (the counterparty's,
  ADR 0041) is decided by the counterparty's partition and written in one of its later
  transactions, once the event is in the log; both partitions' checkpoints may pass the
  event's seq before that. So the event's partition records the row as owed
  (``cluster_owed``) in the transaction that logs the event, and the counterparty's
  partition removes it in the transaction that writes the row: while an owed event is in
  the log, the position stays below its seq. The record is made by the logger, not kept by
  the counterparty with its checkpoint, because the counterparty may not have *decided*
  the row yet: every partition reads the stream at its own pace, and one behind logs its
  own earlier events after a faster one logged the transfer, its checkpoint passing the
  transfer's seq before it has read the transfer at all. Nothing of it lives in a
  partition's state or snapshot: a partition restored from its snapshot finds the rows it
  owes pending again (or decides them again on the replay) and removes them when it
  writes them, whoever logged them.

An owed row is never seen without its event: both commit in one transaction (an owed row
whose event is not in the log would not hold the position: the join finds no seq).

Checkpoints and owed rows are read in one statement (``repository.feed_marks``): one
snapshot, so no transfer logged, and no checkpoint moved past it, between two reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from riskops.accounts.rating import Signal
from riskops.cluster import repository as repo
from riskops.cluster.partition import PartitionSpec
from riskops.monitor.service import account_signals


@dataclass(frozen=True)
class ClusterFeed:
    """``MonitorFeed`` of the partition workers of ``stream`` (``RISKOPS_NATS_STREAM``)."""

    stream: str

    def _names(self, session: Session) -> dict[int, str]:
        found = repo.partitions(session, self.stream)
        return {
            lease.partition: PartitionSpec(
                self.stream, "", lease.partition, len(found)
            ).checkpoint_name
            for lease in found
        }

    def checkpoints(self, session: Session) -> dict[int, int]:
        """Each partition's committed log position (0 before its first commit)."""
        names = self._names(session)
        if not names:
            return {}
        marks, _ = repo.feed_marks(session, self.stream, list(names.values()))
        return {partition: marks.get(name, 0) for partition, name in names.items()}

    def position(self, session: Session) -> int:
        """The log seq up to which every partition has committed, and every second row
        owed is written; 0 while the stream has none.

        The partitions' rows are read first: they are made together, once
        (``repository.ensure_partitions``)."""
        names = self._names(session)
        if not names:
            return 0
        marks, owed = repo.feed_marks(session, self.stream, list(names.values()))
        committed = min(marks.get(name, 0) for name in names.values())
        return committed if not owed else min(committed, owed - 1)

    def signals(self, session: Session, after: int, upto: int) -> list[Signal]:
        return account_signals(session, after, upto)
