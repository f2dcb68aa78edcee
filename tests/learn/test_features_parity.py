"""The stream and batch feature engines agree on every feature of every money event.

Exact for counts, within 1e-9 relative for floats, on a simulated exchange (deposits,
withdrawals, P2P orders and transfers), on the start of AMLSim 10K, and on random small
graphs (hypothesis). Also: appending later rows never changes an earlier vector, and a
restored snapshot carries on exactly like the live state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.events.adapters import read_events
from riskops.events.flat import to_rows
from riskops.events.schemas import Event
from riskops.learn import batch
from riskops.learn.features import FEATURE_NAMES, words
from riskops.learn.stream import FeatureState, is_money
from riskops.rules.parity import sort_rows
from support import AMLSIM_TRANS, money_rows, require_data, simulated_rows

COUNTS = [
    i
    for i, n in enumerate(FEATURE_NAMES)
    if "_n_" in n or "_cp_" in n or n.endswith(("n_all", "pair_n", "recip"))
]


def stream_vectors(rows: list[dict[str, Any]]) -> npt.NDArray[np.float64]:
    state = FeatureState()
    out = [state.update(r) for r in rows if r["row"] == 0 and is_money(r)]
    return np.vstack(out) if out else np.zeros((0, len(FEATURE_NAMES)))


def batch_table(rows: list[dict[str, Any]]) -> Any:
    con = batch.connect()
    try:
        con.register("flat", batch.rows_table(rows))
        return batch.features(con, "flat")
    finally:
        con.close()


def batch_vectors(rows: list[dict[str, Any]]) -> npt.NDArray[np.float64]:
    table = batch_table(rows)
    return np.column_stack([table.column(n).to_numpy() for n in FEATURE_NAMES])


def assert_parity(rows: list[dict[str, Any]]) -> None:
    s, b = stream_vectors(rows), batch_vectors(rows)
    assert s.shape == b.shape
    assert np.array_equal(s[:, COUNTS], b[:, COUNTS])
    bad = np.abs(s - b) > 1e-9 * np.maximum(1.0, np.abs(s))
    where = [
        (int(i), FEATURE_NAMES[j], s[i, j], b[i, j]) for i, j in zip(*np.nonzero(bad), strict=True)
    ]
    assert not where, where[:5]


@pytest.fixture(scope="module")
def sim_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("learn-sim")
    return sort_rows(simulated_rows(out, accounts=600, days=35, seed=5))


def test_parity_on_a_simulated_exchange(sim_rows: list[dict[str, Any]]) -> None:
    kinds = {r["type"] for r in sim_rows if r["row"] == 0 and is_money(r)}
    assert kinds == {"deposit", "withdrawal.requested", "p2p.order", "transfer.internal"}
    assert_parity(sim_rows)


def test_parity_on_amlsim() -> None:
    require_data(AMLSIM_TRANS)
    rows: list[dict[str, Any]] = []
    for source_row, event in read_events(AMLSIM_TRANS, "amlworld"):
        if source_row >= 15_000:
            break
        assert isinstance(event, Event)
        rows.extend(to_rows(event, source_row + 1, source_row))
    rows = sort_rows(rows)
    assert_parity(rows)
    # the windows really move: some accounts have counts that differ across 1d/7d/30d
    s = stream_vectors(rows)
    i1, i30 = FEATURE_NAMES.index("own.out_n_1d"), FEATURE_NAMES.index("own.out_n_30d")
    assert (s[:, i30] > s[:, i1]).any()


event = st.tuples(
    st.sampled_from(["transfer.internal", "transfer.internal", "deposit", "withdrawal.requested"]),
    st.integers(0, 5),
    st.integers(0, 5),
    st.floats(0, 45, allow_nan=False).map(lambda d: round(d * 4) / 4),  # ties in time
    st.sampled_from([1, 99, 10_000, 250_000, 1_000_000_000]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=40))
def test_parity_on_random_graphs(events: list[tuple[str, int, int, float, int]]) -> None:
    rows: list[dict[str, Any]] = []
    for seq, (kind, a, b, day, cents) in enumerate(sorted(events, key=lambda e: e[3]), start=1):
        cp = f"a{b}" if kind == "transfer.internal" else None
        rows.extend(money_rows(seq, kind, f"a{a}", cp, day, cents, kind != "deposit"))
    assert_parity(sort_rows(rows))


def test_later_rows_never_change_earlier_features(sim_rows: list[dict[str, Any]]) -> None:
    cut = len(sim_rows) // 2
    while sim_rows[cut]["row"] == 1:
        cut += 1
    head = batch_vectors(sim_rows[:cut])
    whole = batch_vectors(sim_rows)
    assert np.array_equal(whole[: len(head)], head)


def test_a_restored_snapshot_carries_on_like_the_live_state(sim_rows: list[dict[str, Any]]) -> None:
    money = [r for r in sim_rows if r["row"] == 0 and is_money(r)]
    live = FeatureState()
    for r in money[:3000]:
        live.update(r)
    restored = FeatureState.restore(live.snapshot())
    for r in money[3000:4000]:
        assert np.array_equal(live.update(r), restored.update(r))


def test_update_refuses_what_is_not_money() -> None:
    state = FeatureState()
    with pytest.raises(ValueError, match="money"):
        state.update({"seq": 1, "row": 0, "type": "login", "account_id": "a"})
    rows = money_rows(1, "transfer.internal", "a", "b", 0, 500, True)
    first = state.update(rows[0])
    assert np.array_equal(state.update(rows[1]), first)  # row 1: the same transaction


def test_every_feature_has_words() -> None:
    for name in FEATURE_NAMES:
        assert words(name, 3.0)
    assert "12 distinct" in words("own.out_cp_1d", 12)
    for name in ("cycle3_7d", "cycle4_7d", "sg_7d"):  # -1: not searched, not "-1 cycles"
        assert "too many accounts" in words(name, -1)
        assert "-1" not in words(name, -1)
    assert words("own.since_in_h", -1) == "the account: no earlier payment that way"
    with pytest.raises(KeyError):
        words("nope", 1)


def test_a_transfer_counts_for_both_sides() -> None:
    state = FeatureState()
    rows = money_rows(1, "transfer.internal", "a", "b", 0, 500, True) + money_rows(
        2, "transfer.internal", "b", "a", 0.5, 700, True
    )
    state.update(rows[0])
    v = state.update(rows[2])
    f = dict(zip(FEATURE_NAMES, v, strict=True))
    assert f["own.in_n_1d"] == 1 and f["own.out_n_1d"] == 1  # b received from a, then sent
    assert f["recip"] == 1  # a had paid b before
    assert f["cp.out_n_1d"] == 1 and f["cp.in_n_1d"] == 1
    assert f["own.since_in_h"] == 12.0
    assert f["own.pass_7d"] == 700 / (500 + 100)


def test_cycles_close_and_busy_sides_are_not_searched() -> None:
    rows: list[dict[str, Any]] = []
    rows += money_rows(1, "transfer.internal", "a", "b", 0, 100, True)
    rows += money_rows(2, "transfer.internal", "b", "c", 0.1, 100, True)
    rows += money_rows(3, "transfer.internal", "c", "a", 0.2, 100, True)  # closes a -> b -> c -> a
    seq = 4
    for i in range(65):  # h receives from 65 parties and g pays 65 parties
        rows += money_rows(seq, "transfer.internal", f"s{i}", "h", 1, 100, True)
        rows += money_rows(seq + 1, "transfer.internal", "g", f"t{i}", 1, 100, True)
        seq += 2
    rows += money_rows(seq, "transfer.internal", "h", "g", 1.5, 100, True)
    rows = sort_rows(rows)
    assert_parity(rows)
    cycles = stream_vectors(rows)[:, FEATURE_NAMES.index("cycle3_7d")]
    assert list(cycles[:3]) == [0, 0, 1]
    assert cycles[-1] == -1


def test_cycles_of_four_scatter_gather_and_hubs() -> None:
    transfer = "transfer.internal"
    rows: list[dict[str, Any]] = []
    rows += money_rows(1, transfer, "a", "b", 0, 100, True)
    rows += money_rows(2, transfer, "b", "x", 0.1, 100, True)
    rows += money_rows(3, transfer, "x", "y", 0.2, 100, True)
    rows += money_rows(4, transfer, "y", "a", 0.3, 100, True)
    rows += money_rows(5, transfer, "a", "b", 0.4, 100, True)  # and again
    # s scatters to m1, m2, m3; m1 and m2 gather at r, then m3 pays r too
    rows += money_rows(6, transfer, "s", "m1", 1, 100, True)
    rows += money_rows(7, transfer, "s", "m2", 1, 100, True)
    rows += money_rows(8, transfer, "s", "m3", 1, 100, True)
    rows += money_rows(9, transfer, "m1", "r", 1.1, 100, True)
    rows += money_rows(10, transfer, "m2", "r", 1.1, 100, True)
    rows += money_rows(11, transfer, "q", "r", 1.1, 100, True)  # no payer in common with m3
    rows += money_rows(12, transfer, "m3", "r", 1.2, 100, True)
    rows += money_rows(
        13, transfer, "m3", "r", 9.0, 100, True
    )  # the others' payments left r's week
    seq = 14
    for i in range(33):  # r2 is paid by 33 parties: too many payers to pair up
        rows += money_rows(seq, transfer, f"p{i}", "r2", 10, 100, True)
        seq += 1
    rows += money_rows(seq, transfer, "m1", "r2", 10.5, 100, True)
    rows += money_rows(seq + 1, "deposit", "r2", None, 10.6, 100, False)
    rows += money_rows(seq + 2, transfer, "r2", "z", 10.7, 100, True)
    rows = sort_rows(rows)
    assert_parity(rows)
    v = stream_vectors(rows)
    f = {name: v[:, FEATURE_NAMES.index(name)] for name in ("cycle4_7d", "sg_7d", "own.gs_7d")}
    assert list(f["cycle4_7d"][:5]) == [0, 0, 0, 1, 1]  # y -> a closes it first
    assert list(f["sg_7d"][5:12]) == [0, 0, 0, 0, 1, 0, 2]  # m2 shares s with m1; m3 with both
    assert f["sg_7d"][12] == 0
    m1_r2, deposit, r2_z = -3, -2, -1
    assert f["sg_7d"][m1_r2] == -1  # r2 has 34 payers
    assert f["cycle4_7d"][m1_r2] == 0  # r2 has paid nobody, m1 has one payer
    assert f["sg_7d"][r2_z] == -1 and f["cycle4_7d"][r2_z] == -1  # the sender has 34 (+1)
    assert f["sg_7d"][deposit] == 0 and f["cycle4_7d"][deposit] == 0  # not a transfer
    assert f["own.gs_7d"][7] == 0  # s only scattered
    assert f["own.gs_7d"][deposit] == 0  # r2 only gathered so far
    assert f["own.gs_7d"][r2_z] == 1  # then paid z
    assert f["own.gs_7d"][8] == 1  # m1 received from s and paid r
    assert f["own.gs_7d"][m1_r2] == 0  # s paid m1 more than 7 days before
