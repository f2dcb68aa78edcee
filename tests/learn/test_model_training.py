"""``learn.training.fit``: the time split done right (train on the earliest days, validate
on the next, measure on the last), test-day labels never read, deterministic with a seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from riskops.learn import protocol, training
from riskops.learn.features import FEATURE_NAMES, US_PER_DAY

DAY0 = 20_000 * US_PER_DAY


def _data(seed: int = 1, days: int = 10, per_day: int = 150) -> training.Dataset:
    rng = np.random.default_rng(seed)
    n = days * per_day
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 1.3).astype(np.float64)
    ts = DAY0 + np.repeat(np.arange(days), per_day) * US_PER_DAY + rng.integers(0, US_PER_DAY, n)
    return training.Dataset(x, y, ts.astype(np.int64), "synthetic")


def test_the_split_is_by_days_in_time_order_and_the_span_excludes_test_days() -> None:
    data = _data()
    fitted = training.fit(data, seed=3, rounds=40)
    days = fitted.metrics["days"]
    assert (days["train"], days["validation"], days["test"]) == (6, 2, 2)
    assert fitted.span_first.timestamp() * 1e6 == pytest.approx(data.ts_us.min())
    last_used_day = DAY0 // US_PER_DAY + 7
    assert int(fitted.span_last.timestamp() * 1e6) // US_PER_DAY == last_used_day
    assert fitted.metrics["test"]["f1"] > 0.5
    assert fitted.metrics["labels"]["positive"] == int(data.y.sum())


def test_test_day_labels_change_nothing_but_the_test_metrics() -> None:
    data = _data()
    flipped = _data()
    test_days = flipped.ts_us // US_PER_DAY >= DAY0 // US_PER_DAY + 8
    flipped.y[test_days] = 1 - flipped.y[test_days]
    a = training.fit(data, seed=3, rounds=40)
    b = training.fit(flipped, seed=3, rounds=40)
    assert a.artifact == b.artifact  # the model, calibration and threshold
    assert a.metrics["validation"] == b.metrics["validation"]
    assert a.metrics["test"] != b.metrics["test"]


def test_refusals_name_the_problem() -> None:
    data = _data(days=2)
    with pytest.raises(ValueError, match="fewer than 3 days"):
        training.fit(data)
    data = _data()
    data.y[:] = 0
    with pytest.raises(ValueError, match="train days need both"):
        training.fit(data)


def test_from_store_reads_the_history_and_the_labels_table(engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from riskops.events import schemas as s
    from riskops.events.service import ingest
    from riskops.kernel.db import session_factory, unit_of_work
    from riskops.learn.labels import LabelIn, write

    rng = np.random.default_rng(5)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    events = []
    for i in range(1200):
        usd = Decimal(int(rng.integers(10, 9_000)))
        events.append(
            s.TransferInternal(
                event_id=f"t{i}",
                account_id=f"acc-{rng.integers(0, 40)}",
                occurred_at=t0 + timedelta(minutes=7 * i),
                asset="USDT",
                amount=usd,
                usd_value=usd,
                counterparty_id=f"acc-{rng.integers(40, 80)}",
            )
        )
    big = {e.event_id for e in events if e.usd_value > 6_000}
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        ingest(session, [(None, e) for e in events], source="file")
        labelled = [LabelIn("event", e.event_id, int(e.event_id in big), t0) for e in events[::2]]
        write(session, labelled, "import", "test")
    with unit_of_work(sessions) as session:
        data = training.from_store(session, batch_size=500)
        everything = training.from_store(session, unlabelled_negative=True)
    # every transaction stays (its first-stage score counts for its neighbours); half known
    assert len(data.y) == 1200 and int(data.known.sum()) == 600
    assert int(data.y[data.known].sum()) == len(big & {e.event_id for e in events[::2]})
    assert len(everything.y) == 1200 and everything.known.all()
    assert list(data.ts_us) == sorted(data.ts_us)
    fitted = training.fit(data, seed=1, rounds=40)
    assert fitted.metrics["test"]["recall"] > 0.5
    assert fitted.metrics["labels"] == {
        "positive": int(data.y.sum()),
        "negative": 600 - int(data.y.sum()),
    }


def test_from_amlworld_labels_each_transaction_by_its_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    lines = [
        "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
        "Amount Paid,Payment Currency,Payment Format,Is Laundering"
    ]
    laundering = 0
    for i in range(1500):
        minute = i * 6
        when = f"2022/09/{1 + minute // 1440:02d} {minute % 1440 // 60:02d}:{minute % 60:02d}"
        amount = float(rng.integers(10, 9_000))
        bad = int(amount > 7_000)
        laundering += bad
        sender, receiver = rng.integers(0, 60), rng.integers(0, 60)
        lines.append(
            f"{when},1,A{sender},2,B{receiver},{amount:.2f},US Dollar,{amount:.2f},"
            f"US Dollar,Wire,{bad}"
        )
    path = tmp_path / "small_Trans.csv"
    path.write_text("\n".join(lines) + "\n")
    data = training.from_amlworld(path)
    assert len(data.y) == 1500 and int(data.y.sum()) == laundering
    fitted = training.fit(data, seed=1, rounds=40)
    days = fitted.metrics["days"]
    assert sum(days.values()) == 7 and days["train"] > days["validation"]  # 6 minutes apart
    assert fitted.metrics["test"]["recall"] > 0.5


def test_a_large_training_slice_keeps_every_positive_and_thins_the_negatives() -> None:
    data = _data(days=10, per_day=300)
    fitted = training.fit(data, seed=3, rounds=30, max_train_rows=600)
    assert fitted.metrics["train_rows"] == 600
    again = training.fit(data, seed=3, rounds=30, max_train_rows=600)
    assert again.artifact == fitted.artifact
    rows = protocol.thinned(np.arange(1800), data.y, 600, seed=3)
    assert len(rows) == 600 and int(data.y[rows].sum()) == int(data.y[:1800].sum())
    assert fitted.metrics["test"]["f1"] > 0.5
