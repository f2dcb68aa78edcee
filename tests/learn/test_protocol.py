"""The AMLworld protocol on small fixtures with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from riskops.learn import protocol
from riskops.learn.protocol import TEST, TRAIN, VAL


def test_whole_days_split_near_60_20_20() -> None:
    days = np.repeat(np.arange(5), 10)  # 5 days of 10: cuts after day 2 and day 3
    split = protocol.split_days(days)
    assert list(split[::10]) == [TRAIN, TRAIN, TRAIN, VAL, TEST]
    for d in range(5):  # a day is never cut in two
        assert len(set(split[days == d])) == 1


def test_split_takes_the_nearest_day_boundary() -> None:
    # shares up to each day's end: .30 .50 .65 .85 1.0 -> 60% nearest .65, 80% nearest .85
    days = np.repeat(np.array([10, 11, 12, 13, 14]), [30, 20, 15, 20, 15])
    split = protocol.split_days(days)
    assert [int(split[days == d][0]) for d in (10, 11, 12, 13, 14)] == [
        TRAIN,
        TRAIN,
        TRAIN,
        VAL,
        TEST,
    ]


def test_split_days_in_any_order_of_rows() -> None:
    days = np.array([4, 0, 2, 1, 3, 0, 4])
    split = protocol.split_days(days)
    assert split[1] == split[5] == TRAIN and split[0] == split[6] == TEST


def test_split_needs_three_days() -> None:
    with pytest.raises(ValueError, match="at least 3 days"):
        protocol.split_days(np.array([0, 0, 1]))
    with pytest.raises(ValueError, match="no transactions"):
        protocol.split_days(np.array([], dtype=np.int64))


def test_threshold_maximises_f1() -> None:
    y = np.array([True, False, True, False])
    s = np.array([0.9, 0.8, 0.7, 0.1])
    threshold, f1 = protocol.best_threshold(y, s)
    assert threshold == 0.7 and f1 == pytest.approx(0.8)


def test_threshold_never_splits_equal_scores() -> None:
    y = np.array([True, False, False])
    threshold, f1 = protocol.best_threshold(y, np.array([0.9, 0.9, 0.1]))
    assert threshold == 0.9 and f1 == pytest.approx(2 / 3)


def test_threshold_needs_a_positive() -> None:
    with pytest.raises(ValueError, match="no laundering"):
        protocol.best_threshold(np.zeros(3, bool), np.array([0.1, 0.2, 0.3]))


def test_metrics_and_recall_per_typology() -> None:
    y = np.array([True, True, True, False, False])
    flagged = np.array([True, False, True, True, False])
    m = protocol.metrics(y, flagged)
    assert (m.tp, m.fp, m.fn) == (2, 1, 1)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)
    by = protocol.recall_by(["CYCLE", "FAN-IN", "CYCLE", None, None], y, flagged)
    assert by["CYCLE"].recall == 1.0 and by["FAN-IN"].recall == 0.0
    assert protocol.metrics(np.zeros(2, bool), np.zeros(2, bool)).f1 == 0.0
