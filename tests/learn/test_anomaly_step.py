"""learn.anomaly_step: the compiled pass agrees with the formulas of ADR 0039 written
plainly in numpy (the form the step replaced, ADR 0052), on random histories with missing,
infinite and huge values, both directions, and a two-sided feature."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.learn import anomaly as a
from riskops.learn.anomaly import AnomalyState

NAMES = ["out", "usd", "own.out_n_1d", "own.in_n_1d", "spare"]
USE = ["usd", "own.out_n_1d", "own.in_n_1d", "spare"]
TWO_SIDED = ["spare"]


class Plain:
    """The same statistics, one row of numpy arrays per account and per peer group."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, object]] = {}
        width = len(USE)
        self.scored = [
            np.array([".out_" not in n for n in USE], dtype=float),  # incoming
            np.array([".in_" not in n for n in USE], dtype=float),  # outgoing
        ]
        self.down = np.array([n in TWO_SIDED for n in USE], dtype=float)
        self.width = width

    def _row(self, key: str, ts: int) -> dict[str, object]:
        if key not in self.rows:
            self.rows[key] = {
                "mean": np.full(self.width, np.nan),
                "var": np.zeros(self.width),
                "count": 0,
                "first": ts,
                "last": ts,
                "weight": 0.0,
                "complete": set(),  # the directions found complete after an unclean event
            }
        return self.rows[key]

    @staticmethod
    def _advance(row: dict[str, object], ts: int, half_life: int) -> tuple[float, float]:
        elapsed = ts - row["last"]  # type: ignore[operator]
        weight = float(row["weight"]) * (2.0 ** (-elapsed / half_life) if elapsed > 0 else 1.0)
        row["weight"] = weight + 1.0
        if elapsed > 0:
            row["last"] = ts
        row["count"] = int(row["count"]) + 1  # type: ignore[call-overload]
        return 1.0 / (weight + 1.0), a.CLIP if row["count"] > a.CLIP_AFTER else 1e6  # type: ignore[operator]

    def observe(self, account: str, peer: str, ts: int, x: list[float]) -> tuple[float, list[str]]:
        way = int(x[0] == 1.0)
        scored = self.scored[way]
        own, group = self._row("a:" + account, ts), self._row("p:" + peer, ts)
        t = np.minimum(np.maximum(np.arcsinh(np.array(x[1:])), -a._CAP), a._CAP)
        complete = all(way in r["complete"] for r in (own, group))  # type: ignore[operator]
        clean = complete and bool(np.isfinite(np.arcsinh(np.array(x[1:]))).all())
        if clean:
            t = np.arcsinh(np.array(x[1:]))  # a clean event is not capped
        mean = np.stack([own["mean"], group["mean"]])  # type: ignore[list-item]
        var = np.stack([own["var"], group["var"]])  # type: ignore[list-item]
        lean = a.PRIOR / (float(own["weight"]) + a.PRIOR)  # type: ignore[arg-type]
        sd = np.sqrt(var + a.FLOOR**2 + np.array([[lean], [0.0]]) * (var[1] - var[0]))
        diff = t - mean
        own_warm = own["count"] >= a.WARMUP_EVENTS and ts - own["first"] >= a.WARMUP_US  # type: ignore[operator]
        peer_warm = group["count"] >= a.PEER_WARMUP_EVENTS  # type: ignore[operator]
        score, named = 0.0, []
        if own_warm or peer_warm:
            z = diff / sd
            sided = np.maximum(z, -z * self.down)
            excess = np.fmax(sided * scored - np.array([[a.Z_OWN], [a.Z_PEERS]]), 0.0)
            peers = (lean if own_warm else 1.0) if peer_warm else 0.0
            excess *= np.array([[1.0 if own_warm else 0.0], [peers]])
            best = np.maximum(excess[0], excess[1])
            total = math.sqrt(float(best @ best))
            score = 1.0 - 2.0 ** (-total / a.E_HALF) if total > 0 else 0.0
            named = [USE[i] for i in np.argsort(-best, kind="stable")[:5] if best[i] > 0]
        for r, (row, half_life) in enumerate(
            ((own, a.OWN_HALF_LIFE_US), (group, a.PEER_HALF_LIFE_US))
        ):
            rate, clip = self._advance(row, ts, half_life)
            learnt = (t == t) & (scored > 0)
            base = np.where((mean[r] == mean[r]) | ~learnt, mean[r], t)
            d = np.where(learnt, t - base, 0.0)
            step = np.clip(d, -sd[r] * clip, sd[r] * clip)
            rates = rate * learnt * (np.abs(d) <= sd[r] * clip)
            row["mean"] = base + rate * learnt * step
            row["var"] = (1.0 - rates) * (var[r] + rates * step * step)
            if not clean and not np.isnan(row["mean"][scored > 0]).any():  # type: ignore[index]
                row["complete"].add(way)  # type: ignore[attr-defined]
        return score, named


VALUE = st.sampled_from([math.nan, math.inf, -math.inf, 1e15, -3.0, 0.0]) | st.floats(0, 5e4)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["p", "q"]),
            st.integers(0, 3 * 3_600_000_000),
            st.booleans(),
            st.lists(VALUE, min_size=4, max_size=4),
        ),
        min_size=1,
        max_size=400,
    )
)
@settings(max_examples=60, deadline=None)
def test_the_compiled_step_agrees_with_the_plain_formulas(
    events: list[tuple[str, str, int, bool, list[float]]],
) -> None:
    state, plain = AnomalyState(NAMES, use=USE, two_sided=TWO_SIDED), Plain()
    ts = 0
    for account, peer, gap, outgoing, values in events:
        ts += gap
        vector = [1.0 if outgoing else 0.0, *values]
        found = state.observe(account, peer, ts, vector)
        score, named = plain.observe(account, peer, ts, vector)
        assert abs(found.score - score) <= 1e-12
        assert [d.name for d in found.deviations] == named
    for key, row in plain.rows.items():
        kind, name = key.split(":", 1)
        index = (state._accounts if kind == "a" else state._peers)[name]
        # The same formulas, not the same instructions: LLVM may contract a * b + c into
        # one rounding (a fused multiply-add) where numpy rounds twice, so the last bit of
        # a baseline may differ (seen: 1.1e-16). Same NaNs, and equal to 1e-12 relative.
        np.testing.assert_allclose(state._mean[index], row["mean"], rtol=1e-12, atol=0)
        np.testing.assert_allclose(state._var[index], row["var"], rtol=1e-12, atol=0)


def test_a_long_steady_history_with_a_burst_agrees_too() -> None:
    """Past the warm-ups (8 own events, 200 of the peer group), where scores are not 0."""
    rng = np.random.default_rng(5)
    state, plain = AnomalyState(NAMES, use=USE, two_sided=TWO_SIDED), Plain()
    scores = []
    for k in range(3_000):
        account = f"acc-{k % 40}"
        burst = k > 2_900 and k % 40 == 7
        values = [
            float(rng.lognormal(5, 0.4)) * (50 if burst else 1),
            float(rng.integers(0, 4)) + (30 if burst else 0),
            float(rng.integers(0, 4)),
            float(rng.normal(2, 0.3)),
        ]
        vector = [float(k % 3 != 0), *values]
        found = state.observe(account, "p", k * 600_000_000, vector)
        score, named = plain.observe(account, "p", k * 600_000_000, vector)
        assert abs(found.score - score) <= 1e-12
        assert [d.name for d in found.deviations] == named
        scores.append(found.score)
    assert max(scores) > a.THRESHOLD  # the bursts are scored, so the comparison is not of zeros
