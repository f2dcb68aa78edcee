"""The published AMLworld protocol as plain functions: split, threshold, metrics.

- **Split**: whole days in time order; the train/validation cut and the validation/test cut
  each fall on the day boundary nearest to 60% and 80% of the transactions. A day is never
  cut in two.
- **Threshold**: the score that maximises the laundering-class F1 on the validation days
  (flagged means ``score >= threshold``); the test days' labels are never read for it.
- **Metrics**: precision, recall and F1 of the laundering class, and recall per group
  (typology) for a patterns file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test")

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def split_days(days: Ints, fractions: Sequence[float] = (0.6, 0.2, 0.2)) -> npt.NDArray[np.int8]:
    """TRAIN / VAL / TEST for each transaction, from its day number (any integers)."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions):
        raise ValueError("fractions: three positive shares (train, validation, test)")
    if len(days) == 0:
        raise ValueError("no transactions to split")
    unique, counts = np.unique(days, return_counts=True)
    if len(unique) < 3:
        raise ValueError(f"a split of whole days needs at least 3 days, got {len(unique)}")
    total = float(counts.sum())
    ends = np.cumsum(counts) / total  # share of rows up to the end of each day
    share = np.cumsum(np.asarray(fractions, dtype=np.float64)) / float(sum(fractions))
    # cut after day index i: nearest boundary to the target, leaving >= 1 day on each side
    cut1 = int(np.clip(np.argmin(np.abs(ends[:-2] - share[0])), 0, len(unique) - 3))
    rest = ends[cut1 + 1 : -1]
    cut2 = cut1 + 1 + int(np.argmin(np.abs(rest - share[1])))
    day_split = np.full(len(unique), TEST, dtype=np.int8)
    day_split[: cut1 + 1] = TRAIN
    day_split[cut1 + 1 : cut2 + 1] = VAL
    return day_split[np.searchsorted(unique, days)]


@dataclass(frozen=True, slots=True)
class Metrics:
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    @property
    def flagged(self) -> int:
        return self.tp + self.fp


def metrics(labels: Bools, flagged: Bools) -> Metrics:
    """Laundering-class precision, recall and F1 (0 where undefined)."""
    y = np.asarray(labels, dtype=bool)
    f = np.asarray(flagged, dtype=bool)
    tp = int(np.sum(y & f))
    fp = int(np.sum(~y & f))
    fn = int(np.sum(y & ~f))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(precision, recall, f1, tp, fp, fn)


def best_threshold(labels: Bools, scores: Floats) -> tuple[float, float]:
    """(threshold, F1) maximising F1 when flagging ``score >= threshold``; ties go to the
    higher threshold (fewer alerts). Raises when there is no positive label."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    positives = int(y.sum())
    if positives == 0:
        raise ValueError("the validation days hold no laundering transaction: no threshold")
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    tp = np.cumsum(y[order])
    flagged = np.arange(1, len(s) + 1)
    # only the last position of each run of equal scores is a reachable cut
    last = np.append(s_sorted[1:] != s_sorted[:-1], True)
    f1 = np.where(last, 2 * tp / (flagged + positives), -1.0)
    best = int(np.argmax(f1))
    return float(s_sorted[best]), float(f1[best])


def thinned(rows: Ints, labels: npt.ArrayLike, limit: int, seed: int) -> Ints:
    """At most ``limit`` of ``rows``: every positive (``labels[row] == 1``) and an even
    seeded sample of the negatives, in row order. Calibration and thresholds are chosen on
    untouched validation days, so thinning the majority class costs little but time."""
    if len(rows) <= limit:
        return rows
    y = np.asarray(labels)
    positive = rows[y[rows] == 1]
    negative = rows[y[rows] != 1]
    keep = min(len(negative), max(0, limit - len(positive)))
    chosen = np.random.default_rng(seed).choice(negative, size=keep, replace=False)
    return np.sort(np.concatenate([positive, chosen]))


def recall_by(groups: Sequence[str | None], labels: Bools, flagged: Bools) -> dict[str, Metrics]:
    """Recall (in a ``Metrics``) per group of the positive rows; rows with no group are
    left out."""
    out: dict[str, Metrics] = {}
    g = np.asarray(groups, dtype=object)
    for name in sorted({x for x in g if x is not None}):
        mask = (g == name) & np.asarray(labels, dtype=bool)
        out[str(name)] = metrics(np.ones(int(mask.sum()), bool), np.asarray(flagged)[mask])
    return out
