"""learn.anomaly: deviations from the account's own baseline and from its peers (ADR 0039)."""

from __future__ import annotations

import math
import random
import re
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.learn import anomaly as a
from riskops.learn.anomaly import (
    ANOMALY_FEATURES,
    THRESHOLD,
    WARMUP_EVENTS,
    Anomaly,
    AnomalyState,
    parse_reason,
    peer_of,
    receiver_view,
)
from riskops.learn.features import FEATURE_NAMES
from riskops.learn.stream import FeatureState

HOUR = 3_600_000_000
DAY = 24 * HOUR
NAMES = ["count", "amount", "other"]


def steady(
    state: AnomalyState, account: str, days: int, rng: random.Random, start: int = 0
) -> list[float]:
    """A quiet account on fake features: about 2 payments, $100, 1 of 'other' a day."""
    scores = []
    for day in range(days):
        for k in range(3):
            vector = [2 + rng.choice([-1, 0, 1]), 100 * rng.uniform(0.8, 1.25), 1.0]
            ts = start + day * DAY + k * HOUR
            scores.append(state.observe(account, "peers", ts, vector).score)
    return scores


def crowd(state: AnomalyState, days: int, rng: random.Random, n: int = 20) -> None:
    for i in range(n):
        steady(state, f"crowd-{i}", days, rng)


# --- on fake features ---------------------------------------------------------------------


def test_a_steady_account_is_not_anomalous_and_a_jump_is_named() -> None:
    rng = random.Random(1)
    state = AnomalyState(NAMES)
    scores = steady(state, "acc", 30, rng)
    assert max(scores) < THRESHOLD
    assert sum(s > 0 for s in scores) <= 2

    found = state.observe("acc", "peers", 31 * DAY, [40, 100, 1])
    assert found.score >= THRESHOLD and found.high
    top = found.deviations[0]
    assert (top.name, top.value, top.versus) == ("count", 40.0, "own")
    assert 1 <= top.baseline <= 3 and top.z > 5
    assert [d.name for d in found.deviations] == ["count"]
    assert re.fullmatch(r"count 40; usually 1\.\d+ \(own baseline\)", top.words)
    assert found.reason == f"anomaly {found.score:.2f}: {top.words}"


def test_only_a_rise_deviates_unless_the_feature_is_two_sided() -> None:
    one, two = AnomalyState(NAMES), AnomalyState(NAMES, two_sided=["other"])
    for state in (one, two):
        steady(state, "acc", 20, random.Random(2))
    assert one.observe("acc", "peers", 21 * DAY, [0.0, 100, -5.0]).score == 0.0
    fall = two.observe("acc", "peers", 21 * DAY, [0.0, 100, -5.0])
    # 'other' (two-sided) from 1 to -5 deviates; 'count' (one-sided) from ~2 to 0 does not
    assert [d.name for d in fall.deviations] == ["other"] and fall.deviations[0].z < -5


def test_warm_up_no_own_deviation_before_enough_events_and_a_day() -> None:
    state = AnomalyState(NAMES)
    for k in range(WARMUP_EVENTS):  # enough events, but all within the first hour
        assert state.observe("acc", "peers", k * 60_000_000, [1, 100, 1]).score == 0.0
    assert state.observe("acc", "peers", HOUR, [500, 100, 1]).score == 0.0  # not a day yet
    state = AnomalyState(NAMES)
    for k in range(WARMUP_EVENTS - 1):  # a long time, too few events
        assert state.observe("acc", "peers", k * DAY, [1, 100, 1]).score == 0.0
    assert state.observe("acc", "peers", 30 * DAY, [500, 100, 1]).score == 0.0
    # the next one: warm
    assert state.observe("acc", "peers", 31 * DAY, [500, 100, 1]).score >= THRESHOLD


def test_a_new_account_is_compared_with_its_peers() -> None:
    rng = random.Random(3)
    state = AnomalyState(NAMES)
    crowd(state, 10, rng)
    found = state.observe("newcomer", "peers", 10 * DAY, [60, 100, 1])
    assert found.score >= THRESHOLD
    top = found.deviations[0]
    assert (top.name, top.versus) == ("count", "peers")
    assert math.isnan(top.baseline) and 1 <= top.peers <= 3
    assert re.fullmatch(
        r"count 60; peers 1\.\d+, too little history for an own baseline", top.words
    )
    # an ordinary newcomer is not
    assert state.observe("other", "peers", 10 * DAY, [2, 110, 1]).score == 0.0


def test_an_account_with_history_is_judged_by_it_more_than_by_its_peers() -> None:
    """A hub that always has ~60 where its peers have ~2 is not an anomaly at its usual
    level once it has a baseline; it is when it leaves that baseline."""
    rng = random.Random(4)
    state = AnomalyState(NAMES)
    crowd(state, 10, rng)
    first = state.observe("hub", "peers", 10 * DAY, [60, 100, 1])
    assert first.deviations[0].versus == "peers"
    for k in range(1, 60):
        state.observe(
            "hub", "peers", 10 * DAY + k * 4 * HOUR, [60 + rng.choice([-3, 0, 3]), 100, 1]
        )
    usual = state.observe("hub", "peers", 21 * DAY, [61, 100, 1])
    assert usual.score < THRESHOLD
    jump = state.observe("hub", "peers", 21 * DAY + HOUR, [2000, 100, 1])
    assert jump.score >= THRESHOLD and jump.deviations[0].versus == "own"
    assert re.fullmatch(
        r"count 2,000; usually 60 \(own baseline\), peers \d\.\d+", jump.deviations[0].words
    )


def test_one_wild_value_does_not_become_the_baseline() -> None:
    state = AnomalyState(NAMES)
    steady(state, "acc", 20, random.Random(5))
    assert state.observe("acc", "peers", 20 * DAY, [5000, 100, 1]).score >= THRESHOLD
    # the next day, the same jump is still an anomaly (winsorised update, not absorbed)
    assert state.observe("acc", "peers", 21 * DAY, [5000, 100, 1]).score >= THRESHOLD


def test_score_is_monotone_in_the_deviation() -> None:
    state = AnomalyState(NAMES)
    steady(state, "acc", 20, random.Random(6))
    blob = state.snapshot()
    scores = []
    for count in [2, 5, 8, 12, 20, 40, 100, 1e4, 1e8]:
        scores.append(
            AnomalyState.restore(blob, names=NAMES)
            .observe("acc", "peers", 21 * DAY, [count, 100, 1])
            .score
        )
    assert scores == sorted(scores) and scores[-1] < 1.0
    # two deviating features score at least what either does alone
    both = AnomalyState.restore(blob, names=NAMES).observe("acc", "peers", 21 * DAY, [40, 1e5, 1])
    alone = AnomalyState.restore(blob, names=NAMES).observe("acc", "peers", 21 * DAY, [40, 100, 1])
    assert both.score > alone.score
    assert [d.name for d in both.deviations] == ["amount", "count"]


def test_snapshot_and_restore_score_alike() -> None:
    rng = random.Random(7)
    events = [
        (
            f"acc-{rng.randrange(30)}",
            rng.choice(["p1", "p2"]),
            day * DAY + i * 1000,
            [rng.expovariate(0.5), rng.lognormvariate(4, 1), rng.choice([0.0, 1.0, math.nan])],
        )
        for day in range(20)
        for i in range(40)
    ]
    events += [("acc-3", "p1", 21 * DAY, [80, 5e4, 1]), ("new", "p2", 21 * DAY, [90, 1, 1])]
    whole = AnomalyState(NAMES)
    half = AnomalyState(NAMES)
    cut = len(events) // 2
    for event in events[:cut]:
        whole.observe(*event)
        half.observe(*event)
    restored = AnomalyState.restore(half.snapshot(), names=NAMES)
    assert restored.snapshot() == half.snapshot()
    seen_high = False
    for event in events[cut:]:
        x, y = whole.observe(*event), restored.observe(*event)
        assert x.score == y.score
        assert [(d.name, d.value, d.baseline, d.z, d.versus) for d in x.deviations] == [
            (d.name, d.value, d.baseline, d.z, d.versus) for d in y.deviations
        ]
        seen_high = seen_high or x.high
    assert seen_high
    assert whole.snapshot() == restored.snapshot()


@pytest.mark.parametrize(
    "blob",
    [b"", b"garbage", msgspec.msgpack.encode({"format": 1}), AnomalyState(["x"]).snapshot()],
)
def test_restore_refuses_what_is_not_a_snapshot_of_these_features(blob: bytes) -> None:
    with pytest.raises(ValueError):
        AnomalyState.restore(blob, names=NAMES)


def test_restore_refuses_a_snapshot_whose_parts_disagree() -> None:
    state = AnomalyState(NAMES)
    state.observe("acc", "p", 0, [1, 2, 3])
    snap = msgspec.msgpack.decode(state.snapshot(), type=a._Snapshot)
    for change in (
        {"count": [1]},
        {"account_rows": [1]},
        {"mean": b"\0" * 8},
        {"format": 2},
    ):
        broken = msgspec.structs.replace(snap, **change)
        with pytest.raises(ValueError):
            AnomalyState.restore(msgspec.msgpack.encode(broken), names=NAMES)


BAD = [math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0, -5.0, 1e-300]


@given(
    st.lists(
        st.lists(st.sampled_from(BAD) | st.floats(-1e6, 1e6), min_size=3, max_size=3),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=40, deadline=None)
def test_bad_values_never_break_it(bad: list[list[float]]) -> None:
    state = AnomalyState(NAMES)
    steady(state, "acc", 10, random.Random(8))
    for k, vector in enumerate(bad):
        found = state.observe("acc", "peers", 10 * DAY + k, vector)
        assert 0.0 <= found.score <= 1.0
        for d in found.deviations:
            assert math.isfinite(d.z) and d.words
        assert found.reason
    after = [state.observe("acc", "peers", 11 * DAY + k, [2, 100, 1]).score for k in range(3)]
    assert all(0.0 <= s <= 1.0 for s in after)
    assert np.isfinite(state._var).all()
    assert not np.isinf(state._mean).any()
    assert AnomalyState.restore(state.snapshot(), names=NAMES).snapshot() == state.snapshot()


def test_a_vector_of_the_wrong_length_is_refused() -> None:
    state = AnomalyState(NAMES)
    with pytest.raises(ValueError, match="expected 3 features"):
        state.observe("acc", "p", 0, [1.0, 2.0])
    with pytest.raises(ValueError):
        AnomalyState(["x", "x"])
    with pytest.raises(ValueError):
        AnomalyState(NAMES, use=["nope"])


def test_a_failing_phrase_book_still_gives_words() -> None:
    def broken(name: str, value: float) -> str:
        raise KeyError(name)

    state = AnomalyState(NAMES, broken)
    steady(state, "acc", 20, random.Random(9))
    found = state.observe("acc", "peers", 21 * DAY, [50, 100, 1])
    assert re.fullmatch(r"count 50; usually 1\.\d+ \(own baseline\)", found.deviations[0].words)


# --- helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "peer"),
    [
        (
            {"type": "transfer.internal", "direction": "out", "account.rating_band": "low"},
            "transfer.internal.out/low",
        ),
        ({"type": "transfer.internal", "direction": "in"}, "transfer.internal.in/unrated"),
        (
            {"type": "withdrawal.requested", "direction": "out", "account.rating_band": "high"},
            "withdrawal/high",
        ),
        ({"type": "deposit", "direction": "in", "account.rating_band": None}, "deposit/unrated"),
        (
            {"type": "p2p.order", "direction": "in", "account.rating_band": "medium"},
            "p2p.order.in/medium",
        ),
        ({}, "other.other/unrated"),
        ({"type": 5, "direction": "sideways", "account.rating_band": 3}, "other.other/unrated"),
        ({"type": "x" * 500, "direction": "out"}, ("x" * 500 + ".out")[:64] + "/unrated"),
    ],
)
def test_peer_of(row: dict[str, Any], peer: str) -> None:
    assert peer_of(row) == peer


def test_parse_reason_reads_back_the_reason_and_survives_anything() -> None:
    state = AnomalyState(NAMES)
    steady(state, "acc", 20, random.Random(10))
    found = state.observe("acc", "peers", 21 * DAY, [60, 1e5, 1])
    score, parts = parse_reason(found.reason)
    assert score == round(found.score, 2)
    assert parts == [d.words for d in found.deviations]
    assert parse_reason("rule text of another shape") == (None, ["rule text of another shape"])
    assert parse_reason(None) == (None, [])
    assert parse_reason({"a": 1}) == (None, [])
    assert parse_reason("   ") == (None, [])
    assert parse_reason("anomaly 7.5: x") == (None, ["anomaly 7.5: x"])
    assert parse_reason("anomaly 1.5: x") == (None, ["anomaly 1.5: x"])
    assert parse_reason("anomaly 1.00: x") == (1.0, ["x"])
    assert Anomaly(0.0, []).reason == "anomaly 0.00: no deviation"


# --- on the real features (learn.stream) ----------------------------------------------------


def money(
    seq: int,
    ts: int,
    account: str,
    kind: str,
    usd: float,
    cp: str | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    direction = "in" if kind == "deposit" else "out"
    return {
        "seq": seq,
        "row": 0,
        "type": kind,
        "account_id": account,
        "ts_us": ts,
        "direction": direction,
        "usd_cents": round(usd * 100),
        "counterparty_id": cp,
        "address": address,
        "account.rating_band": "low",
    }


def test_a_sudden_fan_out_on_the_real_features_is_scored_high_and_named() -> None:
    """A month of ordinary customers (a deposit and a payment to their usual friend most
    days), then one of them sends to 14 different accounts in an afternoon."""
    rng = random.Random(11)
    features, state = FeatureState(), AnomalyState()
    seq = 0
    scores: dict[str, list[float]] = {}

    def feed(row: dict[str, Any]) -> Any:
        vector = features.update(row)
        found = state.observe(row["account_id"], peer_of(row), row["ts_us"], vector)
        scores.setdefault(row["account_id"], []).append(found.score)
        return found

    for day in range(30):
        for i in range(40):
            account = f"acc-{i}"
            ts = day * DAY + i * 60_000_000 + rng.randrange(8) * HOUR
            seq += 1
            feed(money(seq, ts, account, "deposit", rng.uniform(50, 200), address=f"addr-{i}"))
            if rng.random() < 0.8:
                seq += 1
                feed(
                    money(
                        seq,
                        ts + HOUR,
                        account,
                        "transfer.internal",
                        rng.uniform(30, 150),
                        cp=f"acc-{(i + 1) % 40}",
                    )
                )
    assert max(max(s) for s in scores.values()) < THRESHOLD  # a quiet month raises nothing

    found = None
    for k in range(14):
        seq += 1
        found = feed(
            money(
                seq,
                30 * DAY + 12 * HOUR + k * 600_000_000,
                "acc-7",
                "transfer.internal",
                90.0,
                cp=f"acc-{20 + k}",
            )
        )
    assert found is not None and found.score >= THRESHOLD
    by_name = {d.name: d for d in found.deviations}
    assert found.deviations[0].name.startswith("own.out_cp_")  # the distinct receivers
    day = by_name["own.out_cp_1d"]
    assert day.value == 14 and day.versus == "own" and day.baseline < 2
    # (the baseline drifts a little during the burst: winsorised, not frozen)
    assert re.fullmatch(
        r"the account sent money to 14 distinct parties in the last 24 hours; "
        r"usually [12] \(own baseline\), peers 1",
        day.words,
    )
    # the receivers, each paid once by someone new, are not anomalies
    assert all(s[-1] < THRESHOLD for acc, s in scores.items() if acc != "acc-7")


def test_receiver_view_puts_the_counterpartys_features_in_the_accounts_place() -> None:
    features = FeatureState()
    vector = features.update(money(1, 0, "a", "transfer.internal", 100.0, cp="b"))
    view = receiver_view(vector)
    at = {n: i for i, n in enumerate(FEATURE_NAMES)}
    assert view[at["out"]] == 0.0 and vector[at["out"]] == 1.0
    assert view[at["own.in_n_1d"]] == vector[at["cp.in_n_1d"]] == 1.0
    assert view[at["own.out_n_1d"]] == vector[at["cp.out_n_1d"]] == 0.0
    assert vector[at["own.out_n_1d"]] == 1.0  # the vector itself is not changed
    assert set(ANOMALY_FEATURES) <= set(FEATURE_NAMES)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("sent $5; usually $1,200 (own baseline), peers $3,400", ("sent $5", "$1,200", "$3,400")),
        ("x; usually 1 (own baseline)", ("x", "1", None)),
        ("a; b; peers 2, too little history for an own baseline", ("a; b", None, "2")),
        ("no semicolon here", ("no semicolon here", None, None)),
        ("x; something else", ("x; something else", None, None)),
        ("", ("", None, None)),
    ],
)
def test_split_deviation(text: str, parts: tuple[str, str | None, str | None]) -> None:
    assert a.split_deviation(text) == parts


def test_split_deviation_reads_every_sentence_the_state_writes() -> None:
    state = AnomalyState(NAMES)
    crowd(state, 10, random.Random(12))
    new = state.observe("newcomer", "peers", 10 * DAY, [60, 1e5, 1])
    old = state.observe("crowd-1", "peers", 10 * DAY, [60, 1e5, 1])
    for found in (new, old):
        assert found.deviations
        for d in found.deviations:
            what, own, peers = a.split_deviation(d.words)
            assert what == d.words.split(";")[0]
            assert (own is None) == math.isnan(d.baseline)
            assert peers is not None
